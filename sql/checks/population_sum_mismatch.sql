-- Mid-years where authorities' all-ages populations do not add up to
-- England's: beyond the tolerance when every authority has an estimate, or
-- above England's at all (an area counted twice).
WITH sums AS (
    SELECT mid_year,
           sum(population_all_ages) FILTER (WHERE geographic_level = 'Local authority') AS authorities_total,
           max(population_all_ages) FILTER (WHERE geographic_level = 'National') AS england,
           count(*) FILTER (WHERE geographic_level = 'Local authority' AND population_all_ages IS NULL) AS without_estimate
    FROM staging.population_area_year
    GROUP BY mid_year
)
SELECT mid_year, authorities_total, england, without_estimate,
       (authorities_total - england) / england AS relative_difference
FROM sums
WHERE england IS NULL
   OR authorities_total > england * (1 + $tolerance)
   OR (without_estimate = 0 AND abs(authorities_total - england) > england * $tolerance)
ORDER BY mid_year;
