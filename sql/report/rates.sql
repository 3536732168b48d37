-- Every authority and England as the report's vintage has them, keyed by panel unit.
SELECT coalesce(panel_unit_code, area_code) AS unit_code, coalesce(la_name, area_name) AS unit_name,
       collection_year, {{ rate_columns }}
FROM marts.cin_rates_vintages
WHERE vintage = $vintage AND geographic_level IN ('National', 'Local authority')
ORDER BY unit_code, collection_year;
