-- The authority panel of one data vintage for the strand-1 estimators: one
-- row per consistent panel unit and collection year, named as it is now.
SELECT
    panel_unit_code AS unit_code,
    arg_max(la_name, collection_year) OVER (PARTITION BY panel_unit_code) AS unit_name,
    old_la_code,
    collection_year,
    {{ rate_columns }},
    cin_at_31_march,
    population_all_ages,
    panel_status
FROM marts.cin_rates_vintages
WHERE vintage = $vintage
  AND geographic_level = 'Local authority'
ORDER BY unit_code, collection_year;
