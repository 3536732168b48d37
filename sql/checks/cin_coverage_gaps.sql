-- Coverage gaps in staging.cin_area_year that nothing explains:
-- a year without England, a year with too few authorities, an authority
-- missing from a year it operated in, or an authority with a row in a year
-- it did not exist.  The years an authority existed come from its validity
-- dates in staging.la_reference and, for the 13 boundary changes, from the
-- first and last collection years recorded in reference.boundary_changes:
-- Cumbria must be there every year to 2023 and never after, Cumberland from
-- 2024 on.  (An earlier version exempted those 13 authorities in every year,
-- so a deleted Cumbria year went unreported.)
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
lifetimes AS (
    -- First and last collection year of each DfE number: a boundary change's
    -- recorded years where it has them, else the lookup's validity dates
    -- (a year Y runs 1 April Y-1 to 31 March Y, and counts when the
    -- authority operated all of it).
    SELECT r.old_la_code, any_value(r.la_name) AS la_name,
           coalesce(any_value(b.first_collection_year),
                    min(year(r.valid_from) + CASE WHEN r.valid_from <= make_date(year(r.valid_from), 4, 1)
                                                  THEN 1 ELSE 2 END)) AS first_year,
           coalesce(any_value(b.last_collection_year),
                    max(CASE WHEN r.valid_to IS NULL THEN 9999
                             WHEN r.valid_to >= make_date(year(r.valid_to), 3, 31) THEN year(r.valid_to)
                             ELSE year(r.valid_to) - 1 END)) AS last_year
    FROM staging.la_reference AS r
    LEFT JOIN reference.boundary_changes AS b ON b.old_la_code = r.old_la_code
    GROUP BY r.old_la_code
),
expected AS (
    SELECT l.old_la_code, l.la_name, y.collection_year
    FROM lifetimes AS l
    JOIN years AS y ON y.collection_year BETWEEN l.first_year AND l.last_year
),
missing AS (
    SELECT 'authority' AS gap, e.la_name AS area_name, e.collection_year,
           'authority existed that year but has no row' AS detail
    FROM expected AS e
    LEFT JOIN staging.cin_area_year AS c
      ON c.geographic_level = 'Local authority' AND c.old_la_code = e.old_la_code AND c.collection_year = e.collection_year
    WHERE c.old_la_code IS NULL
),
outside AS (
    SELECT 'authority' AS gap, c.area_name, c.collection_year,
           printf('row outside the years the authority existed (%s to %s)',
                  coalesce(CAST(l.first_year AS VARCHAR), '?'),
                  CASE WHEN l.last_year = 9999 THEN 'now' ELSE coalesce(CAST(l.last_year AS VARCHAR), '?') END) AS detail
    FROM staging.cin_area_year AS c
    LEFT JOIN lifetimes AS l ON l.old_la_code = c.old_la_code
    WHERE c.geographic_level = 'Local authority'
      AND (l.old_la_code IS NULL OR c.collection_year NOT BETWEEN l.first_year AND l.last_year)
)
SELECT * FROM year_gaps
UNION ALL
SELECT * FROM missing
UNION ALL
SELECT * FROM outside
ORDER BY collection_year, area_name;
