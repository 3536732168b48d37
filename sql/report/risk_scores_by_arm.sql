-- Risk scores by arm and coding point, for the trials run in the study's authority.
SELECT * FROM marts.risk_scores_by_arm WHERE list_contains($trial_ids, trial_id);
