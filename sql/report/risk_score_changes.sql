-- Changes in risk scores between coding points, for the trials run in the study's authority.
SELECT * FROM marts.risk_score_changes WHERE list_contains($trial_ids, trial_id);
