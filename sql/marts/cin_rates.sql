-- The current vintage of the rates: what analysts read by default.  Earlier
-- vintages are in marts.cin_rates_vintages.
CREATE OR REPLACE TABLE marts.cin_rates AS
SELECT * EXCLUDE (vintage_rank)
FROM marts.cin_rates_vintages
WHERE vintage_rank = (SELECT max(vintage_rank) FROM marts.cin_rates_vintages)
ORDER BY CASE geographic_level WHEN 'National' THEN 0 WHEN 'Regional' THEN 1 ELSE 2 END, area_name, collection_year;
