-- What would make marts.cin_rates_vintages wrong, from its own columns and
-- its inputs: a vintage-area-year twice, or a vintage showing a published
-- figure no release up to it printed (a later release's figure leaking back).
-- The rates themselves are recomputed from counts and populations by the
-- check's Python side.
WITH keys AS (
    SELECT vintage, geographic_level, area_code, collection_year, count(*) AS n
    FROM marts.cin_rates_vintages
    GROUP BY ALL
    HAVING count(*) > 1
),
printed AS (
    SELECT DISTINCT p.release_rank, p.geographic_level, coalesce(p.old_la_code, p.area_code) AS area_key,
           p.collection_year
    FROM raw.cin_published_rates AS p
),
leaked AS (
    SELECT v.vintage, v.area_name, v.collection_year
    FROM marts.cin_rates_vintages AS v
    WHERE v.rereferral_percentage_published IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM printed AS p
                      WHERE p.release_rank <= v.vintage_rank AND p.geographic_level = v.geographic_level
                        AND p.area_key = coalesce(v.old_la_code, v.area_code)
                        AND p.collection_year = v.collection_year)
)
SELECT vintage, area_code AS area, collection_year, 'row repeated ' || n || ' times' AS problem FROM keys
UNION ALL
SELECT vintage, area_name, collection_year, 'a published figure no release up to the vintage printed' FROM leaked
ORDER BY 1, 2, 3;
