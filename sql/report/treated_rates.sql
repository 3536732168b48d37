-- The treated authority's rates in the report's vintage, year by year.
SELECT collection_year, {{ rate_columns }}
FROM marts.cin_rates_vintages
WHERE vintage = $vintage AND panel_unit_code = $treated_unit_code
ORDER BY collection_year;
