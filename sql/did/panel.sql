-- The authority panel of one data vintage for the strand-1 estimators: one
-- row per panel unit and collection year, named as it is now, with the
-- first and last collection years of its series where a boundary change
-- starts or ends it (so that a change outside a study's window does not
-- rule the unit out of that study).
SELECT
    r.panel_unit_code AS unit_code,
    arg_max(r.la_name, r.collection_year) OVER (PARTITION BY r.panel_unit_code) AS unit_name,
    r.old_la_code,
    r.collection_year,
    {{ rate_columns }},
    r.cin_at_31_march,
    r.population_all_ages,
    r.panel_status,
    b.first_collection_year AS series_first_year,
    b.last_collection_year AS series_last_year
FROM marts.cin_rates_vintages AS r
LEFT JOIN reference.boundary_changes AS b USING (old_la_code)
WHERE r.vintage = $vintage
  AND r.geographic_level = 'Local authority'
ORDER BY unit_code, r.collection_year;
