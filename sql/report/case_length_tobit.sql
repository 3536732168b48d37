-- The case-length Tobit of the trials run in the study's authority.
SELECT * FROM marts.case_length_tobit WHERE list_contains($trial_ids, trial_id);
