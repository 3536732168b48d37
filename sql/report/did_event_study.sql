-- The study's rows of marts.did_event_study in the report's vintage.
SELECT *
FROM marts.did_event_study
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, covariate_adjusted, collection_year;
