-- The service summary of the trials run in the study's authority.
SELECT * FROM marts.service_summary WHERE list_contains($trial_ids, trial_id);
