-- Mid-years where authorities' all-ages populations do not add up to
-- England's.  The authorities with an estimate are summed and compared with
-- England less the known gaps, in every mid-year: a gap is a named set of
-- authorities that have no estimate on their own boundaries, covered by ONS
-- estimates of the areas that replaced them.  (An earlier version skipped
-- every mid-year with a gap, i.e. mid-2009 to mid-2018, the whole DiD
-- window, so a doubled Cheshire East mid-2012 passed.)
--
-- Known gap: Dorset county (835), Poole (836) and Bournemouth (837) have no
-- estimate before mid-2019 in the shipped files; ONS back-casts the areas
-- that replaced them on 1 April 2019, Dorset UA (E06000059) and Bournemouth,
-- Christchurch and Poole (E06000058), which cover exactly the same ground
-- (Christchurch moved from the county to BCP).
-- Reported: a mid-year without England; an authority without an estimate
-- that no known gap covers (or a gap only partly missing, or its cover
-- missing); and a sum off England-less-gaps by more than the tolerance.
WITH known_gaps AS (
    SELECT * FROM (VALUES
        ('Dorset county, Poole and Bournemouth', ['835', '836', '837'], ['E06000058', 'E06000059'])
    ) AS g(gap, old_la_codes, cover_codes)
),
authorities AS (
    SELECT p.mid_year, p.area_key, p.old_la_code, p.population_all_ages, g.gap
    FROM staging.population_area_year AS p
    LEFT JOIN known_gaps AS g ON list_contains(g.old_la_codes, p.old_la_code)
    WHERE p.geographic_level = 'Local authority'
),
gap_years AS (
    -- A gap applies in a mid-year when every one of its authorities lacks an estimate.
    SELECT mid_year, gap,
           count(*) AS members,
           count(*) FILTER (WHERE population_all_ages IS NULL) AS missing
    FROM authorities
    WHERE gap IS NOT NULL
    GROUP BY mid_year, gap
),
cover AS (
    SELECT y.mid_year, y.gap, y.members = y.missing AS applies,
           sum(o.population) AS cover_population,
           count(o.population) = len(any_value(g.cover_codes)) AS cover_complete
    FROM gap_years AS y
    JOIN known_gaps AS g USING (gap)
    LEFT JOIN (
        SELECT area_code, mid_year, max(population) AS population
        FROM raw.ons_population
        WHERE age_group = 'all_ages' AND value_status = 'published'
        GROUP BY area_code, mid_year
    ) AS o ON list_contains(g.cover_codes, o.area_code) AND o.mid_year = y.mid_year
    WHERE y.missing > 0
    GROUP BY y.mid_year, y.gap, y.members, y.missing
),
sums AS (
    SELECT a.mid_year,
           sum(a.population_all_ages) AS authorities_total,
           (SELECT max(population_all_ages) FROM staging.population_area_year AS n
            WHERE n.geographic_level = 'National' AND n.mid_year = a.mid_year) AS england,
           coalesce((SELECT sum(cover_population) FROM cover AS c WHERE c.mid_year = a.mid_year AND c.applies), 0)
               AS known_gaps_population,
           coalesce((SELECT string_agg(gap, '; ') FROM cover AS c WHERE c.mid_year = a.mid_year AND c.applies), '')
               AS known_gaps,
           string_agg(a.area_key, ', ' ORDER BY a.area_key) FILTER (
               WHERE a.population_all_ages IS NULL
                 AND NOT coalesce((SELECT c.applies AND c.cover_complete FROM cover AS c
                                   WHERE c.mid_year = a.mid_year AND c.gap = a.gap), false)) AS unexplained_missing
    FROM authorities AS a
    GROUP BY a.mid_year
)
SELECT mid_year, authorities_total, england, known_gaps, known_gaps_population, unexplained_missing,
       (authorities_total - (england - known_gaps_population)) / england AS relative_difference
FROM sums
WHERE england IS NULL
   OR unexplained_missing IS NOT NULL
   OR abs(authorities_total - (england - known_gaps_population)) > england * $tolerance
ORDER BY mid_year;
