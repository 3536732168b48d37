SELECT * FROM marts.risk_scores_by_arm;
