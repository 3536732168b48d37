-- The study's rows of marts.did_placebo_space in the report's vintage.
SELECT *
FROM marts.did_placebo_space
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, role DESC, unit_code;
