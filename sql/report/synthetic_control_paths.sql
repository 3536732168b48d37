-- The study's rows of marts.synthetic_control_paths in the report's vintage.
SELECT *
FROM marts.synthetic_control_paths
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, collection_year;
