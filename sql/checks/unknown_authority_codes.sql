-- Authority rows of a raw children-in-need file ($table: raw.cin_ees or
-- raw.cin_sfr) whose ONS code (the file's new_la_code) the lookup does not
-- know for their DfE number: each code once per file, at its first row.
-- Checked in raw, so the refusal names the one file that holds the code
-- rather than failing every file of the release further down.
WITH rows AS (
    SELECT 'raw.cin_ees' AS raw_table, source_file, source_row, area_code, old_la_code, area_name
    FROM raw.cin_ees WHERE geographic_level = 'Local authority'
    UNION ALL
    SELECT 'raw.cin_sfr', source_file, source_row, area_code, old_la_code, area_name
    FROM raw.cin_sfr WHERE geographic_level = 'Local authority'
)
SELECT r.source_file, min(r.source_row) AS source_row, 'new_la_code' AS source_column, r.area_code AS value,
       r.old_la_code, any_value(r.area_name) AS area_name, count(DISTINCT r.source_row) AS rows_with_it,
       CASE WHEN NOT EXISTS (SELECT 1 FROM raw.la_lookup AS l WHERE l.la_code = r.area_code)
            THEN 'unknown authority code ' || r.area_code
            ELSE 'authority code ' || r.area_code || ' is not the code of DfE number ' || r.old_la_code
                 || ' in the lookup'
       END AS problem
FROM rows AS r
WHERE r.raw_table = $table AND r.area_code IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM raw.la_lookup AS l WHERE l.la_code = r.area_code AND l.old_la_code = r.old_la_code)
GROUP BY r.source_file, r.area_code, r.old_la_code
ORDER BY r.source_file, source_row;
