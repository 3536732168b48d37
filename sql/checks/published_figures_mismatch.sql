-- Authorities' figures as the warehouse has them against DfE's own published
-- rates and percentages (raw.cin_published_rates): each figure the warehouse
-- shows beside its own (the latest release that printed it), recomputed from
-- the warehouse's counts on the denominator DfE divided by in that release
-- (its 0-17 population of the day; a percentage needs none).  DfE prints one
-- decimal, so a figure within 0.05 agrees; where DfE printed its denominator
-- rounded to the nearest 100 (three of the old releases) the rounding of the
-- denominator is allowed for too.  Every cell outside is returned, with the
-- reason where the catalogue declares the difference (DfE's own file
-- disagreeing with itself: ``published_differences`` in data/sources.yaml).
-- A figure whose count DfE withheld cannot be compared and is left out.
WITH printed AS (
    SELECT *, coalesce(old_la_code, area_code) AS area_key
    FROM raw.cin_published_rates
    WHERE geographic_level = 'Local authority'
),
shown AS (
    SELECT *
    FROM printed
    WHERE measure <> 'population_0_17'
    QUALIFY row_number() OVER (PARTITION BY area_key, collection_year, measure
                               ORDER BY release_rank DESC, source_id) = 1
),
denominators AS (
    SELECT release_id, area_key, collection_year, value AS denominator
    FROM printed
    WHERE measure = 'population_0_17' AND value_status = 'published'
),
ours AS (
    SELECT old_la_code AS area_key, collection_year, la_name, referrals, rereferrals, cin_at_31_march, closures,
           escalations
    FROM marts.cin_rates
    WHERE geographic_level = 'Local authority'
),
compared AS (
    SELECT
        s.source_file, s.source_row, s.source_column, o.la_name, s.area_name, s.collection_year, s.measure,
        s.value_text AS published, d.denominator,
        {{ recomputed_published o denominator }} AS recomputed,
        s.value, o.area_key IS NULL AS authority_unknown, s.problem AS declared
    FROM shown AS s
    LEFT JOIN denominators AS d USING (release_id, area_key, collection_year)
    LEFT JOIN ours AS o USING (area_key, collection_year)
    WHERE s.value_status = 'published'
)
SELECT
    source_file, source_row, source_column, coalesce(la_name, area_name) AS la_name, collection_year, measure,
    published, round(recomputed, 3) AS warehouse_recomputed, denominator AS dfe_denominator,
    CASE
        WHEN authority_unknown THEN 'no such authority-year in marts.cin_rates'
        WHEN measure <> 'rereferral_percentage' AND denominator IS NULL
            THEN 'no denominator of DfE''s for this release and year'
        ELSE 'differs beyond rounding'
    END AS problem,
    declared
FROM compared
WHERE authority_unknown
   OR (measure <> 'rereferral_percentage' AND denominator IS NULL)
   OR abs(recomputed - value) > 0.05 + 1e-9
        + CASE WHEN measure <> 'rereferral_percentage' AND denominator % 100 = 0
               THEN value * 50.0 / (denominator - 50) ELSE 0 END
ORDER BY measure, collection_year, la_name;
