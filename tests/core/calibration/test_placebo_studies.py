"""A slice of the national placebo study against the registered estimators run study by study.

The slice shares work between its studies (see core/calibration/placebo_studies.py); these tests run every
registered estimator the ordinary way (`prepare_outcome`, `select_comparator`, `estimate`) for every authority
as the treated unit, and compare: exact where the module says exact, within the stated approximation otherwise.
A change to an estimator's rules that the slice does not mirror fails here.
"""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fact22_assets.core.calibration.design import Design, slice_units, start_years, study_of
from fact22_assets.core.calibration.placebo_studies import METHODS, SliceInputs, ols_fits, registry_rows, run_slice
from fact22_assets.core.did.config import StudyEntry
from fact22_assets.core.did.estimation import did_estimates
from fact22_assets.core.did.estimators import ESTIMATORS
from fact22_assets.core.did.prepared import PreparedPanel, prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel
from fact22_assets.core.did.study import RankingRule

OUTCOME = "closures_per_10k"
DESIGN = Design(5, 4, "cin_at_31_march", RankingRule(), "2021")
EXACT = ["estimate", "p_classical", "p_hc1", "permutation_p_value", "reselected_p_value", "post_rmspe_p_value",
         "n_placebos"]


@pytest.fixture(scope="module")
def panel() -> PreparedPanel:
    return PreparedPanel(simulated_panel(n_units=24, years=range(2010, 2021), effect=0.0, seed=5))


CHEAP = [e for e in ESTIMATORS if e.name in ("two_unit_did", "selection_aware_placebo", "synthetic_control",
                                              "twfe_all_donors")]
COSTLY = [e for e in ESTIMATORS if e.name in ("synthetic_did", "penalised_synthetic_control")]


@pytest.fixture(scope="module")
def slice_table(panel) -> pd.DataFrame:
    return run_slice(SliceInputs(panel, DESIGN, 2016, OUTCOME))


@pytest.fixture(scope="module")
def compared(panel, slice_table) -> pd.DataFrame:
    """Every study by the registry's cheap estimators; the costly ones (seconds per study) for every third."""
    units = slice_units(panel, DESIGN, 2016, OUTCOME, ())
    slow = []
    for k, code in enumerate(units.pool):
        prepared = prepare_outcome(panel, DESIGN.study(code, 2016, [OUTCOME]), OUTCOME)
        slow.append(registry_rows(prepared, CHEAP + (COSTLY if k % 3 == 0 else [])))
    slow = pd.concat(slow, ignore_index=True)
    return slice_table.merge(slow, on=["unit_code", "method"], suffixes=("", "_registry"), validate="one_to_one")


def test_every_study_of_the_slice_and_every_method(slice_table):
    assert set(slice_table["method"]) == set(METHODS)
    assert slice_table["unit_code"].nunique() == 25 and len(slice_table) == 25 * len(METHODS)
    assert slice_table["placebo"].all() and (slice_table["first_post_year"] == 2016).all()


@pytest.mark.parametrize("method", ["ols", "ols_with_covariate", "twfe_all_donors", "synthetic_control",
                                    "synthetic_did", "penalised_synthetic_control"])
def test_every_method_equals_the_registry(compared, method):
    rows = compared[compared["method"] == method]
    assert len(rows) == (25 if method in ("ols", "ols_with_covariate", "twfe_all_donors", "synthetic_control") else 9)
    for column in EXACT + ["se_placebo"]:
        ours, theirs = rows[column].astype(float).to_numpy(), rows[f"{column}_registry"].astype(float).to_numpy()
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), column
        assert ours[~np.isnan(ours)] == pytest.approx(theirs[~np.isnan(theirs)], abs=1e-9, rel=1e-9), column
    if method.startswith("ols"):
        assert (rows["comparator_code"] == rows["comparator_code_registry"]).all()


def test_shared_penalised_fits_equal_the_study_by_study_rule(panel):
    """A slice of 60 authorities, large enough for the shared leave-one-out table (K = 50 + 3)."""
    big = PreparedPanel(simulated_panel(n_units=59, years=range(2010, 2021), effect=0.0, seed=8))
    table = run_slice(SliceInputs(big, DESIGN, 2016, OUTCOME), methods=["penalised_synthetic_control"])
    units = slice_units(big, DESIGN, 2016, OUTCOME, ())
    assert len(units.pool) == 60
    for code in units.pool[::7]:
        theirs = registry_rows(prepare_outcome(big, DESIGN.study(code, 2016, [OUTCOME]), OUTCOME),
                               [e for e in ESTIMATORS if e.name == "penalised_synthetic_control"]).iloc[0]
        ours = table[table["unit_code"] == code].iloc[0]
        assert ours["estimate"] == pytest.approx(theirs["estimate"], abs=1e-9)
        assert ours["permutation_p_value"] == pytest.approx(theirs["permutation_p_value"], abs=1e-12)
        assert ours["n_placebos"] == theirs["n_placebos"]


def test_synthetic_did_outside_its_sample_has_an_estimate_and_a_detectable_effect_but_no_p_value(panel):
    inputs = SliceInputs(panel, DESIGN, 2016, OUTCOME, sdid_sample=5, sdid_always=("E99000020",))
    table = run_slice(inputs, methods=["synthetic_did"])
    exact = table[table["permutation_p_value"].notna()]
    assert len(exact) == 6 and "E99000020" in set(exact["unit_code"])
    rest = table[table["permutation_p_value"].isna()]
    assert rest["se_placebo"].isna().all() and rest["mde"].notna().all()
    assert rest["mde_placebos"].str.contains("approximation").all()
    full = run_slice(SliceInputs(panel, DESIGN, 2016, OUTCOME), methods=["synthetic_did"])
    # The estimate is the study's own either way.
    assert table["estimate"].to_numpy() == pytest.approx(full["estimate"].to_numpy(), abs=1e-12)
    # The same seed draws the same sample.
    again = run_slice(inputs, methods=["synthetic_did"])
    assert list(again.loc[again["permutation_p_value"].notna(), "unit_code"]) == list(exact["unit_code"])


def test_batched_ols_equals_did_estimates(panel):
    units = slice_units(panel, DESIGN, 2016, OUTCOME, ())
    treated, controls = list(units.pool[:6]), list(units.pool[6:12])
    years = list(DESIGN.study("x", 2016, [OUTCOME]).study_years)
    post = np.array(years) >= 2016
    for with_x in (False, True):
        y, x = panel.matrix(OUTCOME, treated + controls, years), panel.matrix("cin_at_31_march", treated + controls, years)
        fits = ols_fits(y[:6], y[6:], post, *((x[:6], x[6:]) if with_x else (None, None)))
        for k, (t, c) in enumerate(zip(treated, controls)):
            prepared = prepare_outcome(panel, DESIGN.study(t, 2016, [OUTCOME]), OUTCOME)
            row = did_estimates(prepared, c).set_index("method").loc["ols_with_covariate" if with_x else "ols"]
            assert fits["estimate"][k] == pytest.approx(row["estimate"], abs=1e-9)
            assert fits["p_classical"][k] == pytest.approx(row["p_classical"], abs=1e-10)
            assert fits["p_hc1"][k] == pytest.approx(row["p_hc1"], abs=1e-10)


def test_a_slice_study_is_the_prepared_study(panel):
    units = slice_units(panel, DESIGN, 2016, OUTCOME, ())
    code = units.pool[3]
    ours = study_of(units, code, None)
    theirs = prepare_outcome(panel, DESIGN.study(code, 2016, [OUTCOME]), OUTCOME)
    assert ours.study == theirs.study and ours.candidates == theirs.candidates
    pd.testing.assert_frame_equal(ours.eligibility.reset_index(drop=True), theirs.eligibility.reset_index(drop=True))


def test_an_authority_that_ran_a_programme_is_no_placebo_and_no_donor(panel):
    runner = "E99000004"
    study = DESIGN.study(runner, 2016, [OUTCOME])
    entries = [StudyEntry(study=replace(study, study_id="programme"), description="", neighbour_model="2021")]
    units = slice_units(panel, DESIGN, 2016, OUTCOME, entries)
    assert runner not in units.pool and units.programme == (runner,)
    assert "treated in study programme" in units.exclusions[runner]
    table = run_slice(SliceInputs(panel, DESIGN, 2016, OUTCOME, entries), methods=["twfe_all_donors", "ols_with_covariate"])
    own = table[table["unit_code"] == runner]
    assert not own["placebo"].any() and table.loc[table["unit_code"] != runner, "placebo"].all()
    # Its own study is the configured study's: every pool authority a donor.
    row = own[own["method"] == "twfe_all_donors"].iloc[0]
    assert row["n_placebos"] == len(units.pool)
    theirs = registry_rows(prepare_outcome(panel, study, OUTCOME, exclusions={}))
    expected = theirs.set_index("method").loc["twfe_all_donors"]
    assert row["estimate"] == pytest.approx(expected["estimate"]) and row["n_placebos"] == expected["n_placebos"]
    # Nobody else's comparator or placebo is the programme authority.
    others = table[(table["unit_code"] != runner) & (table["method"] == "ols_with_covariate")]
    assert runner not in set(others["comparator_code"])


def test_start_years_are_every_window_the_data_allow(panel):
    assert start_years(panel, DESIGN, OUTCOME) == [2015, 2016, 2017]
    assert start_years(panel, replace(DESIGN, n_post=6), OUTCOME) == [2015]
