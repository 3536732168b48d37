-- The treated authority's latest name (the panel unit's, or the area's).
SELECT arg_max(coalesce(la_name, area_name), collection_year) AS treated_name
FROM marts.cin_rates
WHERE coalesce(panel_unit_code, area_code) = $treated_unit_code;
