-- Every value a later release changed: authority (or region, England), year,
-- measure, the old and new value (or symbol) and the two releases.  Each
-- release is compared with the latest earlier release that published the
-- same cell, so a chain of revisions reads in order.
CREATE OR REPLACE TABLE marts.revisions AS
WITH cells AS (
    SELECT c.*, coalesce(c.old_la_code, c.area_code) AS area_key
    FROM (SELECT * FROM raw.cin_sfr UNION ALL BY NAME SELECT * FROM raw.cin_ees) AS c
    WHERE c.measure IN ({{ count_names }})
),
sequenced AS (
    SELECT *,
           lag(release_id) OVER w AS previous_release_id,
           lag(value) OVER w AS previous_value,
           lag(value_status) OVER w AS previous_status
    FROM cells
    WINDOW w AS (PARTITION BY geographic_level, area_key, collection_year, measure ORDER BY release_rank, source_id)
)
SELECT
    geographic_level,
    area_code,
    area_name,
    old_la_code,
    collection_year,
    printf('%d-%02d', collection_year - 1, collection_year % 100) AS collection_year_label,
    measure,
    previous_release_id AS old_release_id,
    previous_value AS old_value,
    previous_status AS old_status,
    release_id AS new_release_id,
    value AS new_value,
    value_status AS new_status,
    CASE WHEN previous_value IS NOT NULL AND value IS NOT NULL THEN value - previous_value END AS change,
    CASE WHEN previous_value IS NOT NULL AND value IS NOT NULL THEN 'revised value' ELSE 'status changed' END AS kind,
    source_file AS new_source_file,
    source_row AS new_source_row,
    source_column AS new_source_column
FROM sequenced
WHERE previous_release_id IS NOT NULL
  AND (previous_value IS DISTINCT FROM value OR previous_status IS DISTINCT FROM value_status)
ORDER BY geographic_level, area_name, collection_year, measure, new_release_id;
