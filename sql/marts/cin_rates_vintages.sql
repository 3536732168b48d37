-- Rates per 10,000 for every data vintage, authority, region and England and
-- every collection year.  Populations are the latest estimates in every
-- vintage: a vintage is a children-in-need release (see
-- staging.cin_area_year_vintages).  "Per 10,000 residents" divides by the all-ages ONS
-- mid-year estimate (the evaluation's outcomes); "per 10,000 children" by
-- the 0-17 estimate (DfE's own convention).  Both use the mid-year before
-- the collection year ends.  A NULL rate keeps its reason in *_status.
CREATE OR REPLACE TABLE marts.cin_rates_vintages AS
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
    c.panel_unit_code,
    c.panel_status,
    c.experimental_statistics,
    c.release_ids,
    p.population_all_ages_source,
    p.population_0_17_source
FROM staging.cin_area_year_vintages AS c
JOIN staging.population_area_year AS p
    ON p.geographic_level = c.geographic_level AND p.area_key = c.area_key AND p.collection_year = c.collection_year
ORDER BY
    c.vintage_rank,
    CASE c.geographic_level WHEN 'National' THEN 0 WHEN 'Regional' THEN 1 ELSE 2 END,
    c.area_name,
    c.collection_year;
