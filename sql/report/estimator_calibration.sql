-- The national placebo study's rejection rates for the study's design.
SELECT *
FROM marts.estimator_calibration
WHERE design = $design
ORDER BY outcome, method, p_value_kind, alpha;
