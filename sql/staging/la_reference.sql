-- Every children's-services authority code DfE has used since 2009, with the
-- dates it operated and its region.  Joint-reporting rows ("940 / 941") are
-- left out: they name two authorities, not one; so are placeholders (BFPO).
CREATE OR REPLACE TABLE staging.la_reference AS
SELECT
    l.old_la_code,
    l.la_code,
    l.la_name,
    l.valid_from,
    l.valid_to,
    l.region_code,
    r.region_name,
    l.status
FROM raw.la_lookup AS l
LEFT JOIN raw.regions AS r USING (region_code)
WHERE l.is_authority
  AND NOT l.is_joint_reporting
  AND l.old_la_code <> 'x';
