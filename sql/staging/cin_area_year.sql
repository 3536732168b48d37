-- The current vintage: the counts as the latest children-in-need release
-- leaves them.  Analysts and the rates read this; history is in
-- staging.cin_area_year_vintages.
CREATE OR REPLACE TABLE staging.cin_area_year AS
SELECT * EXCLUDE (vintage_rank)
FROM staging.cin_area_year_vintages
WHERE vintage_rank = (SELECT max(vintage_rank) FROM staging.cin_area_year_vintages)
ORDER BY geographic_level, area_key, collection_year;
