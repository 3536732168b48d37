-- The balance tables of the trials run in the study's authority, as randomised.
SELECT * FROM marts.rct_balance
WHERE analysis = 'itt' AND list_contains($trial_ids, trial_id)
ORDER BY trial_id;
