-- Authority values that differ between two Explore Education Statistics
-- releases (the old statistical first releases are compared too, in
-- marts.revisions, but DfE says to prefer EES from 2012-13 on).
SELECT r.kind, r.area_name, r.collection_year_label, r.measure,
       r.old_release_id, coalesce(CAST(r.old_value AS VARCHAR), r.old_status) AS old,
       r.new_release_id, coalesce(CAST(r.new_value AS VARCHAR), r.new_status) AS new,
       r.new_source_file, r.new_source_row, r.new_source_column
FROM marts.revisions AS r
WHERE r.geographic_level = 'Local authority'
  AND r.old_release_id IN (SELECT release_id FROM raw.source_files WHERE family = 'dfe_cin_ees')
  AND r.new_release_id IN (SELECT release_id FROM raw.source_files WHERE family = 'dfe_cin_ees')
ORDER BY r.area_name, r.collection_year_label, r.measure;
