-- What the calibration in the warehouse was computed from, one row per outcome.
SELECT * FROM marts.calibration_runs ORDER BY outcome;
