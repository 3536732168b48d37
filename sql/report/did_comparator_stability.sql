-- The study's rows of marts.did_comparator_stability in the report's vintage.
SELECT *
FROM marts.did_comparator_stability
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, left_out_year;
