-- Population of every area the children-in-need data names, for the mid-year
-- each collection year uses: collection year Y (year ending 31 March Y) uses
-- the mid-(Y-1) estimate, as DfE's own rates do.
--
-- All ages (ONS MYE): an authority takes, in order of preference,
--   1. the components listed in reference.population_geography, when every
--      one has an estimate that year (Cumbria, Northamptonshire);
--   2. its own ONS code that year;
--   3. another ONS code its DfE number has carried (same boundary, new code).
-- Inner and Outer London are the sums of their boroughs.
-- Aged 0-17: DfE's file for mid-2012 onwards, the old statistical first
-- releases for mid-2009 to mid-2011 (rounded to the nearest 100 there).
CREATE OR REPLACE TABLE staging.population_area_year AS
WITH areas AS (
    -- Every area-year of any vintage, coded as the latest vintage codes it.
    SELECT geographic_level, area_key, collection_year, collection_year - 1 AS mid_year,
           arg_max(area_code, vintage_rank) AS area_code,
           arg_max(old_la_code, vintage_rank) AS old_la_code,
           arg_max(published_region_code, vintage_rank) AS published_region_code
    FROM staging.cin_area_year_vintages
    GROUP BY geographic_level, area_key, collection_year
),
all_ages AS (
    -- One estimate per area and mid-year: the latest release that has it.
    SELECT area_code, mid_year,
           arg_max(population, p.release_rank) AS population,
           arg_max(p.source_id, p.release_rank) AS source_id
    FROM raw.ons_population AS p
    WHERE age_group = 'all_ages' AND value_status = 'published'
    GROUP BY area_code, mid_year
),
la_candidates AS (
    SELECT a.area_key, a.collection_year, a.mid_year, 1 AS priority, 'components' AS candidate,
           g.component_area_code AS code
    FROM areas AS a
    JOIN reference.population_geography AS g ON g.old_la_code = a.old_la_code
    WHERE a.geographic_level = 'Local authority'
    UNION ALL
    SELECT a.area_key, a.collection_year, a.mid_year, 2, a.area_code, a.area_code
    FROM areas AS a
    WHERE a.geographic_level = 'Local authority'
    UNION ALL
    SELECT DISTINCT a.area_key, a.collection_year, a.mid_year, 3, ref.la_code, ref.la_code
    FROM areas AS a
    JOIN staging.la_reference AS ref ON ref.old_la_code = a.old_la_code AND ref.la_code <> a.area_code
    WHERE a.geographic_level = 'Local authority'
),
la_options AS (
    SELECT
        c.area_key, c.collection_year, c.priority, c.candidate,
        count(*) AS components,
        count(p.population) AS found,
        sum(p.population) AS population,
        string_agg(c.code, '+' ORDER BY c.code) AS population_area_codes,
        string_agg(DISTINCT p.source_id, ', ') AS source_id
    FROM la_candidates AS c
    LEFT JOIN all_ages AS p ON p.area_code = c.code AND p.mid_year = c.mid_year
    GROUP BY c.area_key, c.collection_year, c.priority, c.candidate
),
la_all_ages AS (
    SELECT area_key, collection_year,
           arg_min(population, priority) AS population,
           arg_min(population_area_codes, priority) AS population_area_codes,
           arg_min(source_id, priority) AS source_id
    FROM la_options
    WHERE found = components
    GROUP BY area_key, collection_year
),
london_parts AS (
    SELECT a.published_region_code AS area_key, a.collection_year,
           sum(l.population) AS population,
           'sum of ' || count(*) || ' boroughs' AS population_area_codes,
           string_agg(DISTINCT l.source_id, ', ') AS source_id,
           count(*) = count(l.population) AS complete
    FROM areas AS a
    LEFT JOIN la_all_ages AS l USING (area_key, collection_year)
    WHERE a.geographic_level = 'Local authority' AND a.published_region_code LIKE 'E13%'
    GROUP BY a.published_region_code, a.collection_year
),
area_all_ages AS (
    SELECT a.geographic_level, a.area_key, a.collection_year,
           coalesce(la.population, direct.population, CASE WHEN lp.complete THEN lp.population END) AS population,
           coalesce(la.population_area_codes, CASE WHEN direct.population IS NOT NULL THEN a.area_code END, lp.population_area_codes) AS population_area_codes,
           coalesce(la.source_id, direct.source_id, lp.source_id) AS source_id
    FROM areas AS a
    LEFT JOIN la_all_ages AS la
        ON a.geographic_level = 'Local authority' AND la.area_key = a.area_key AND la.collection_year = a.collection_year
    LEFT JOIN all_ages AS direct
        ON a.geographic_level <> 'Local authority' AND direct.area_code = a.area_code AND direct.mid_year = a.mid_year
    LEFT JOIN london_parts AS lp
        ON a.geographic_level = 'Regional' AND lp.area_key = a.area_key AND lp.collection_year = a.collection_year
),
children AS (
    SELECT geography_type AS geographic_level, coalesce(old_la_code, area_code) AS area_key, mid_year,
           population, value_status, source_id, release_rank
    FROM raw.ons_population
    WHERE age_group = '0_17'
    UNION ALL
    SELECT geographic_level, coalesce(old_la_code, area_code), collection_year - 1,
           value, value_status, source_id, release_rank
    FROM raw.cin_sfr
    WHERE measure = 'population_0_17'
),
children_ranked AS (
    -- A mid-year in several files: the latest release wins (DfE's current
    -- file carries the Census 2021 rebasing; the old releases do not).
    SELECT c.*, row_number() OVER (PARTITION BY geographic_level, area_key, mid_year
                                   ORDER BY c.release_rank DESC, c.source_id) AS pick
    FROM children AS c
)
SELECT
    a.geographic_level,
    a.area_key,
    a.area_code,
    a.old_la_code,
    a.collection_year,
    a.mid_year,
    aa.population AS population_all_ages,
    CASE
        WHEN aa.population IS NOT NULL THEN 'published'
        ELSE 'no ONS estimate on this boundary in the shipped files'
    END AS population_all_ages_status,
    aa.population_area_codes,
    aa.source_id AS population_all_ages_source,
    ch.population AS population_0_17,
    coalesce(ch.value_status, 'not in any shipped file') AS population_0_17_status,
    ch.source_id AS population_0_17_source
FROM areas AS a
LEFT JOIN area_all_ages AS aa
    ON aa.geographic_level = a.geographic_level AND aa.area_key = a.area_key AND aa.collection_year = a.collection_year
LEFT JOIN children_ranked AS ch
    ON ch.pick = 1 AND ch.geographic_level = a.geographic_level AND ch.area_key = a.area_key AND ch.mid_year = a.mid_year
ORDER BY a.geographic_level, a.area_key, a.collection_year;
