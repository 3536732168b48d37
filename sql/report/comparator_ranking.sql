-- The study's rows of marts.comparator_ranking in the report's vintage.
SELECT *
FROM marts.comparator_ranking
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, rank NULLS LAST, unit_code;
