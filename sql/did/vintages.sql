-- Data vintages with the collection years each one covers.
SELECT vintage, vintage_rank, min(collection_year) AS first_year, max(collection_year) AS last_year
FROM marts.cin_rates_vintages
GROUP BY vintage, vintage_rank
ORDER BY vintage_rank;
