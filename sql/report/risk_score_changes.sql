SELECT * FROM marts.risk_score_changes;
