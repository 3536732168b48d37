-- Gaps in marts.cin_rates that nothing explains, from the first year with
-- re-referrals (2010-11): a year without England's evaluation outcome rates (the registry's evaluation_outcome) or
-- with too few authorities, or a NULL rate whose count and population were
-- both published (a NULL rate must inherit a reason from one of them).
WITH scope AS (
    SELECT * FROM marts.cin_rates
    WHERE collection_year >= (SELECT min(collection_year) FROM marts.cin_rates WHERE rereferrals IS NOT NULL)
),
per_year AS (
    SELECT collection_year_label AS year, NULL AS area_name,
           printf('%d authorities, England rates complete: %s',
                  count(*) FILTER (WHERE geographic_level = 'Local authority'),
                  bool_or(geographic_level = 'National' AND {{ outcomes_all_present }})) AS detail,
           count(*) FILTER (WHERE geographic_level = 'Local authority') AS authorities,
           coalesce(bool_or(geographic_level = 'National' AND {{ outcomes_all_present }}), false) AS england_ok
    FROM scope
    GROUP BY collection_year_label
),
unexplained AS (
    SELECT collection_year_label AS year, area_name, 'rate NULL although count and population were published' AS detail
    FROM scope
    WHERE population_all_ages_status = 'published'
      AND ({{ outcome_unexplained_gap }})
)
SELECT year, area_name, detail FROM per_year WHERE authorities < $min_authorities OR NOT england_ok
UNION ALL
SELECT year, area_name, detail FROM unexplained
ORDER BY year, area_name;
