-- The study's rows of marts.did_comparator_robustness in the report's vintage.
SELECT *
FROM marts.did_comparator_robustness
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, curve_position;
