-- The study's rows of marts.synthetic_control_weights in the report's vintage.
SELECT *
FROM marts.synthetic_control_weights
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, weight DESC, unit_code;
