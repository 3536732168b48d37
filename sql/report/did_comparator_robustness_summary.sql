-- The study's rows of marts.did_comparator_robustness_summary in the report's vintage.
SELECT *
FROM marts.did_comparator_robustness_summary
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome;
