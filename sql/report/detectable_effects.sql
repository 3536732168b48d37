-- The treated authority's minimum detectable effects in the study's design at the study's start year.
SELECT *
FROM marts.detectable_effects
WHERE design = $design AND unit_code = $treated_unit_code AND first_post_year = $first_post_year
ORDER BY outcome, method;
