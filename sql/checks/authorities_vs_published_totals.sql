-- Authorities' counts against DfE's published England and regional totals
-- (EES years, where regions are published).  National and regional figures
-- are rounded to the nearest 10 and include DfE's estimates for authorities
-- that did not return, so only a gap beyond those is worth a look: report
-- measure-years where the unsuppressed authorities add up to more than the
-- total, or fall short by more than the share the tolerance allows.
WITH la AS (
    SELECT collection_year, region_code,
           sum(referrals) AS referrals, sum(closures) AS closures,
           sum(cin_at_31_march) AS cin_at_31_march, sum(escalations) AS escalations
    FROM staging.cin_area_year
    WHERE geographic_level = 'Local authority'
    GROUP BY GROUPING SETS ((collection_year, region_code), (collection_year))
),
published AS (
    SELECT collection_year, CASE WHEN geographic_level = 'Regional' THEN area_code END AS region_code,
           referrals, closures, cin_at_31_march, escalations
    FROM staging.cin_area_year
    WHERE geographic_level IN ('National', 'Regional') AND area_code NOT LIKE 'E13%'
),
long AS (
    SELECT p.collection_year, coalesce(p.region_code, 'England') AS area, m.measure, m.published, m.authorities
    FROM published AS p
    JOIN la ON la.collection_year = p.collection_year AND la.region_code IS NOT DISTINCT FROM p.region_code
    CROSS JOIN LATERAL (VALUES
        ('referrals', p.referrals, la.referrals), ('closures', p.closures, la.closures),
        ('cin_at_31_march', p.cin_at_31_march, la.cin_at_31_march), ('escalations', p.escalations, la.escalations)
    ) AS m(measure, published, authorities)
)
SELECT collection_year, area, measure, published, authorities,
       (authorities - published) / published AS relative_gap
FROM long
WHERE published > 0
  AND (authorities > published + 10 * 12 OR authorities < published * (1 - $tolerance))
ORDER BY collection_year, area, measure;
