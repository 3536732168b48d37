-- Authority rows whose ONS code was not live on 31 March of the collection
-- year (or whose DfE number and ONS code never went together), and rows whose
-- published region disagrees with the authority's region in the lookup
-- (London boroughs may be published under Inner or Outer London).
WITH rows AS (
    SELECT DISTINCT c.old_la_code, c.area_code, c.area_name, c.collection_year, c.published_region_code
    FROM staging.cin_area_year_vintages AS c
    WHERE c.geographic_level = 'Local authority'
),
live AS (
    -- Live during the collection year, or the same-boundary successor code of
    -- a DfE number whose earlier code was (DfE prints the code current when
    -- it publishes: Gateshead and Northumberland's 2013 codes in 2012-13).
    SELECT r.*, ref.region_code AS lookup_region_code
    FROM rows AS r
    LEFT JOIN staging.la_reference AS ref
      ON ref.old_la_code = r.old_la_code AND ref.la_code = r.area_code
     AND (ref.valid_to IS NULL OR ref.valid_to >= make_date(r.collection_year - 1, 4, 1))
     AND (ref.valid_from <= make_date(r.collection_year, 3, 31)
          OR EXISTS (SELECT 1 FROM staging.la_reference AS before
                     WHERE before.old_la_code = r.old_la_code AND before.la_code <> r.area_code
                       AND before.valid_from <= make_date(r.collection_year, 3, 31)
                       AND before.valid_to >= make_date(r.collection_year - 1, 4, 1)))
)
SELECT old_la_code, area_code, area_name, collection_year,
       CASE WHEN lookup_region_code IS NULL THEN 'code not live that year for this DfE number'
            ELSE 'published region ' || published_region_code || ' is not the lookup region ' || lookup_region_code
       END AS problem
FROM live
WHERE lookup_region_code IS NULL
   OR (published_region_code IS NOT NULL
       AND published_region_code <> lookup_region_code
       AND NOT (lookup_region_code = 'E12000007' AND published_region_code IN ('E13000001', 'E13000002')))
ORDER BY collection_year, area_name;
