-- The study's dilution rows: what its reach could change at authority level.
SELECT *
FROM marts.did_dilution
WHERE study_id = $study_id AND vintage = $vintage
ORDER BY outcome;
