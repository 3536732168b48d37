-- The study's rows of marts.did_placebo_time in the report's vintage.
SELECT *
FROM marts.did_placebo_time
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome, fake_first_post_year, method;
