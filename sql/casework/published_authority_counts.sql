-- Every count DfE published for each authority and collection year, one row per measure, with its status
-- as published ('published', or the symbol: 'c' withheld, 'x' / '..' not available, 'u' low reliability):
-- what a council's census return is reconciled against (marts.census_reconciliation).  The counts as the latest
-- release leaves them (staging.cin_area_year), not the rates mart: no population enters them, so a corrected
-- population does not reconcile the census again.
SELECT
    area_code AS authority_code,
    collection_year,
    measure,
    value AS published_value,
    status AS published_status
FROM staging.cin_area_year
UNPIVOT ((value, status) FOR measure IN ({{ count_unpivot }}))
WHERE geographic_level = 'Local authority'
