-- Values published by more than one release for the same area, year and
-- measure that differ (revisions).  NULL-safe: a value that became
-- suppressed, or the reverse, counts as a difference.
WITH cells AS (
    SELECT release_id, geographic_level, coalesce(old_la_code, area_code) AS area_key, area_name,
           collection_year, measure, value, value_status, source_file, source_row, source_column
    FROM raw.cin_ees
)
SELECT CASE WHEN a.value IS NOT NULL AND b.value IS NOT NULL THEN 'revised value' ELSE 'status changed' END AS kind,
       a.area_name, a.collection_year, a.measure,
       a.release_id AS earlier_release, a.value_text_or_value AS earlier_value,
       b.release_id AS later_release, b.value_text_or_value AS later_value,
       b.source_file, b.source_row, b.source_column
FROM (SELECT *, coalesce(CAST(value AS VARCHAR), value_status) AS value_text_or_value FROM cells) AS a
JOIN (SELECT *, coalesce(CAST(value AS VARCHAR), value_status) AS value_text_or_value FROM cells) AS b
  ON a.geographic_level = b.geographic_level AND a.area_key = b.area_key
 AND a.collection_year = b.collection_year AND a.measure = b.measure
 AND a.release_id < b.release_id
WHERE a.value_text_or_value IS DISTINCT FROM b.value_text_or_value
  AND a.geographic_level = 'Local authority'
ORDER BY a.area_name, a.collection_year, a.measure;
