-- Every Explore Education Statistics cell with its release's rank, for
-- comparing each release with the one before it (core/release_comparison.py).
SELECT e.release_id, f.release_rank, e.source_file, e.source_row, e.source_column, e.geographic_level,
       e.area_code, e.old_la_code, e.area_name, e.collection_year, e.measure, e.value_text, e.value
FROM raw.cin_ees AS e
JOIN (SELECT DISTINCT release_id, release_rank FROM raw.source_files) AS f USING (release_id)
