-- The data vintages in the warehouse and the years each covers (the report's footer).
SELECT vintage, min(collection_year) AS first_year, max(collection_year) AS last_year
FROM marts.cin_rates_vintages
GROUP BY vintage, vintage_rank
ORDER BY vintage_rank;
