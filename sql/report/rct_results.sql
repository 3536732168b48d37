-- The results of the trials run in the study's authority (data/trials.yaml).
SELECT * FROM marts.rct_results
WHERE list_contains($trial_ids, trial_id)
ORDER BY trial_id, analysis DESC, subgroup, outcome;
