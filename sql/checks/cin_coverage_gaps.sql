-- Coverage gaps in staging.cin_area_year that nothing explains:
-- a year without England, a year with too few authorities, or an authority
-- missing from a year it operated in (and not a recorded boundary change).
WITH years AS (
    SELECT collection_year,
           count(*) FILTER (WHERE geographic_level = 'National') AS england_rows,
           count(*) FILTER (WHERE geographic_level = 'Local authority') AS authorities
    FROM staging.cin_area_year
    GROUP BY collection_year
),
year_gaps AS (
    SELECT 'year' AS gap, NULL AS area_name, collection_year,
           printf('%d England rows, %d authorities', england_rows, authorities) AS detail
    FROM years
    WHERE england_rows <> 1 OR authorities < $min_authorities
),
operating AS (
    SELECT DISTINCT r.old_la_code, any_value(r.la_name) OVER (PARTITION BY r.old_la_code) AS la_name, y.collection_year
    FROM staging.la_reference AS r
    JOIN years AS y
      ON r.valid_from <= make_date(y.collection_year - 1, 4, 1)
     AND (r.valid_to IS NULL OR r.valid_to >= make_date(y.collection_year, 3, 31))
),
authority_gaps AS (
    SELECT 'authority' AS gap, o.la_name AS area_name, o.collection_year,
           'authority operated all year but has no row' AS detail
    FROM operating AS o
    LEFT JOIN staging.cin_area_year AS c
      ON c.geographic_level = 'Local authority' AND c.old_la_code = o.old_la_code AND c.collection_year = o.collection_year
    LEFT JOIN reference.boundary_changes AS b ON b.old_la_code = o.old_la_code
    WHERE c.old_la_code IS NULL
      AND b.old_la_code IS NULL
)
SELECT * FROM year_gaps
UNION ALL
SELECT * FROM authority_gaps
ORDER BY collection_year, area_name;
