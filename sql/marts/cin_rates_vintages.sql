-- Rates per 10,000 for every data vintage, authority, region and England and
-- every collection year.  Populations are the latest estimates in every
-- vintage: a vintage is a children-in-need release (see
-- staging.cin_area_year_vintages).  "Per 10,000 residents" divides by the all-ages ONS
-- mid-year estimate (the evaluation's outcomes); "per 10,000 children" by
-- the 0-17 estimate (DfE's own convention).  Both use the mid-year before
-- the collection year ends.  A NULL rate keeps its reason in *_status.
--
-- Beside them, DfE's own published figures (*_published: its rates on the
-- populations of their day, its re-referral percentage and the 0-17
-- population it divided by), for each vintage from the latest release up to
-- it that printed the figure (raw.cin_published_rates).
CREATE OR REPLACE TABLE marts.cin_rates_vintages AS
WITH vintages AS (
    SELECT DISTINCT vintage, vintage_rank FROM staging.cin_area_year_vintages
),
published_cells AS (
    SELECT
        v.vintage,
        p.geographic_level,
        coalesce(p.old_la_code, p.area_code) AS area_key,
        p.collection_year,
        p.measure,
        p.value,
        row_number() OVER (
            PARTITION BY v.vintage, p.geographic_level, coalesce(p.old_la_code, p.area_code), p.collection_year,
                         p.measure
            ORDER BY p.release_rank DESC, p.source_id
        ) AS pick
    FROM raw.cin_published_rates AS p
    JOIN vintages AS v ON p.release_rank <= v.vintage_rank
),
published AS (
    SELECT vintage, geographic_level, area_key, collection_year,
        {{ published_pivot }}
    FROM published_cells
    WHERE pick = 1
    GROUP BY vintage, geographic_level, area_key, collection_year
)
SELECT
    c.vintage,
    c.vintage_rank,
    c.geographic_level,
    c.area_code,
    c.area_name,
    c.la_name,
    c.old_la_code,
    c.region_code,
    c.region_name,
    c.collection_year,
    c.collection_year_label,
    {{ counts c }},
    p.mid_year AS population_mid_year,
    p.population_all_ages,
    p.population_all_ages_status,
    p.population_0_17,
    p.population_0_17_status,
    {{ rates c p }},
    {{ published d }},
    c.panel_unit_code,
    c.panel_status,
    c.experimental_statistics,
    c.release_ids,
    p.population_all_ages_source,
    p.population_0_17_source
FROM staging.cin_area_year_vintages AS c
JOIN staging.population_area_year AS p
    ON p.geographic_level = c.geographic_level AND p.area_key = c.area_key AND p.collection_year = c.collection_year
LEFT JOIN published AS d
    ON d.vintage = c.vintage AND d.geographic_level = c.geographic_level AND d.area_key = c.area_key
   AND d.collection_year = c.collection_year
ORDER BY
    c.vintage_rank,
    CASE c.geographic_level WHEN 'National' THEN 0 WHEN 'Regional' THEN 1 ELSE 2 END,
    c.area_name,
    c.collection_year;
