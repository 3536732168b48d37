-- The study's rows of marts.synthetic_control_identification in the report's vintage.
SELECT *
FROM marts.synthetic_control_identification
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome;
