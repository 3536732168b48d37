-- One row per data vintage, area (authority, region, England) and collection
-- year, with the five counts the evaluation uses.  A vintage is a release of
-- the children-in-need statistics: the data as they stood once it was
-- published.  Within a vintage, where several releases publish the same
-- area, year and measure, the latest release up to the vintage wins; raw
-- keeps them all.  A suppressed or missing cell stays NULL, its symbol in
-- the *_status column.
CREATE OR REPLACE TABLE staging.cin_area_year_vintages AS
WITH cells AS (
    -- Each raw row carries its release's rank: a change to another family's
    -- files (a population workbook) leaves this table's inputs as they were.
    SELECT * FROM raw.cin_sfr
    UNION ALL BY NAME
    SELECT * FROM raw.cin_ees
),
release_rank AS (
    SELECT DISTINCT release_id, release_rank, experimental FROM cells
),
vintages AS (
    SELECT DISTINCT release_id AS vintage, release_rank AS vintage_rank FROM release_rank
),
ranked AS (
    SELECT
        c.*,
        v.vintage,
        v.vintage_rank,
        r.experimental,
        coalesce(c.old_la_code, c.area_code) AS area_key,
        row_number() OVER (
            PARTITION BY v.vintage, c.geographic_level, coalesce(c.old_la_code, c.area_code), c.collection_year, c.measure
            ORDER BY r.release_rank DESC, c.source_id
        ) AS pick
    FROM cells AS c
    JOIN release_rank AS r USING (release_id)
    JOIN vintages AS v ON r.release_rank <= v.vintage_rank
    WHERE c.measure IN ({{ count_names }})
),
chosen AS (
    SELECT * FROM ranked WHERE pick = 1
),
pivoted AS (
    SELECT
        vintage,
        vintage_rank,
        geographic_level,
        area_key,
        collection_year,
        max(area_code) AS published_area_code,
        max(old_la_code) AS old_la_code,
        max(area_name) AS published_name,
        max(region_code) AS published_region_code,
        {{ count_pivot }},
        bool_or(experimental) AS experimental_statistics,
        string_agg(DISTINCT release_id, ', ' ORDER BY release_id) AS release_ids,
        string_agg(DISTINCT source_file, '; ' ORDER BY source_file) AS source_files
    FROM chosen
    GROUP BY vintage, vintage_rank, geographic_level, area_key, collection_year
),
-- The old files carry no ONS code: take the code the authority's DfE number
-- had on 31 March of the collection year.
coded AS (
    SELECT
        p.*,
        coalesce(p.published_area_code, ref.la_code) AS area_code
    FROM pivoted AS p
    LEFT JOIN staging.la_reference AS ref
        ON p.geographic_level = 'Local authority'
       AND ref.old_la_code = p.old_la_code
       AND ref.valid_from <= make_date(p.collection_year, 3, 31)
       AND (ref.valid_to IS NULL OR ref.valid_to >= make_date(p.collection_year, 3, 31))
),
latest_code AS (
    SELECT vintage, area_key, arg_max(area_code, collection_year) AS panel_unit_code
    FROM coded
    WHERE geographic_level = 'Local authority'
    GROUP BY vintage, area_key
)
SELECT
    c.vintage,
    c.vintage_rank,
    c.geographic_level,
    c.area_key,
    c.area_code,
    c.old_la_code,
    coalesce(ref.la_name, reg.region_name, c.published_name) AS area_name,
    CASE WHEN c.geographic_level = 'Local authority' THEN coalesce(ref.la_name, c.published_name) END AS la_name,
    CASE
        WHEN c.geographic_level = 'Local authority' THEN ref.region_code
        WHEN c.geographic_level = 'Regional' THEN c.area_code
    END AS region_code,
    CASE
        WHEN c.geographic_level = 'Local authority' THEN ref.region_name
        WHEN c.geographic_level = 'Regional' THEN c.published_name
    END AS region_name,
    c.published_region_code,
    c.collection_year,
    printf('%d-%02d', c.collection_year - 1, c.collection_year % 100) AS collection_year_label,
    {{ counts c }},
    coalesce(lc.panel_unit_code, c.area_code) AS panel_unit_code,
    CASE
        WHEN b.change = 'series_ends' THEN printf('series ends %d-%02d: %s', b.last_collection_year - 1, b.last_collection_year % 100, b.note)
        WHEN b.change = 'series_starts' THEN printf('series starts %d-%02d: %s', b.first_collection_year - 1, b.first_collection_year % 100, b.note)
        ELSE 'consistent'
    END AS panel_status,
    b.first_collection_year AS series_first_year,
    b.last_collection_year AS series_last_year,
    c.experimental_statistics,
    c.release_ids,
    c.source_files
FROM coded AS c
LEFT JOIN staging.la_reference AS ref
    ON c.geographic_level = 'Local authority' AND ref.la_code = c.area_code AND ref.old_la_code = c.old_la_code
LEFT JOIN raw.regions AS reg
    ON c.geographic_level = 'Regional' AND reg.region_code = c.area_code
LEFT JOIN latest_code AS lc
    ON c.geographic_level = 'Local authority' AND lc.vintage = c.vintage AND lc.area_key = c.area_key
LEFT JOIN reference.boundary_changes AS b
    ON c.geographic_level = 'Local authority' AND b.old_la_code = c.old_la_code
ORDER BY c.vintage_rank, c.geographic_level, c.area_key, c.collection_year;
