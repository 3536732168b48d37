-- The study's rows of marts.did_results in the report's vintage.
SELECT *
FROM marts.did_results
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, method;
