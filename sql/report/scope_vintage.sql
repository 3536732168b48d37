-- The study's latest data vintage that was estimated (marts.did_runs).
SELECT r.vintage
FROM marts.did_runs AS r
JOIN (SELECT DISTINCT vintage, vintage_rank FROM marts.cin_rates_vintages) AS v USING (vintage)
WHERE r.study_id = $study_id AND r.status = 'estimated'
ORDER BY v.vintage_rank DESC
LIMIT 1;
