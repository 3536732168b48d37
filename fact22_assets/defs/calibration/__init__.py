"""Calibration: the national placebo study (its own partitioned job, writing files) and the marts that load it."""
