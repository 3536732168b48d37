-- The service's case length by start year, for the trials run in the study's authority.
SELECT * FROM marts.service_case_length_by_year WHERE list_contains($trial_ids, trial_id) ORDER BY trial_id, start_year;
