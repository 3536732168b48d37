-- The study's estimates under every data vintage, oldest first.
SELECT d.*
FROM marts.did_results AS d
JOIN (SELECT DISTINCT vintage, vintage_rank FROM marts.cin_rates_vintages) AS v USING (vintage)
WHERE d.study_id = $study_id
ORDER BY d.outcome, v.vintage_rank, d.method;
