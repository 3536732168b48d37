"""Eligibility: a boundary change breaks a series only inside the study's years."""
from dataclasses import replace

import numpy as np

from fact22_assets.core.did import FACT22
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel


def _panel_with_boundaries():
    panel = simulated_panel(n_units=6, seed=1)
    panel["series_first_year"] = np.nan
    panel["series_last_year"] = np.nan
    # E99000001 split after the window (like Northamptonshire in 2021), E99000002 inside it (2018),
    # E99000003 created inside it (2013), E99000004 recorded as ending without its years.
    for code, status, first, last in [("E99000001", "series ends 2020-21: split", np.nan, 2021),
                                      ("E99000002", "series ends 2017-18: split", np.nan, 2018),
                                      ("E99000003", "series starts 2012-13: created", 2013, np.nan)]:
        rows = panel["unit_code"] == code
        panel.loc[rows, ["panel_status", "series_first_year", "series_last_year"]] = [status, first, last]
    return panel


def test_a_change_outside_the_window_keeps_the_unit():
    reasons = prepare_outcome(_panel_with_boundaries(), FACT22, "closures_per_10k").eligibility.set_index("unit_code")
    assert reasons.loc["E99000001", "eligible"]
    assert not reasons.loc["E99000002", "eligible"]
    assert "broken series: series ends 2017-18" in reasons.loc["E99000002", "reason"]
    assert not reasons.loc["E99000003", "eligible"]


def test_a_window_that_reaches_the_change_rules_the_unit_out():
    late = replace(FACT22, pre_years=(2014, 2015, 2016, 2017, 2018), first_post_year=2019,
                   post_years=(2019,))
    panel = _panel_with_boundaries()
    table = prepare_outcome(panel, late, "closures_per_10k").eligibility.set_index("unit_code")
    assert table.loc["E99000001", "eligible"]  # ends 2021, window ends 2019
    assert not table.loc["E99000002", "eligible"]


def test_without_boundary_years_any_flagged_row_breaks_the_unit():
    panel = _panel_with_boundaries().drop(columns=["series_first_year", "series_last_year"])
    table = prepare_outcome(panel, FACT22, "closures_per_10k").eligibility.set_index("unit_code")
    assert not table.loc["E99000001", "eligible"]
