-- The study's rows of marts.did_inference in the report's vintage.
SELECT *
FROM marts.did_inference
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome;
