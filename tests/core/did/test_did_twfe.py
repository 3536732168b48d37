"""Two-way fixed effects over all donors: closed form against statsmodels and a hand-worked panel."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from fact22_assets.core.did import FACT22
from fact22_assets.core.did.contract import Selection
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel
from fact22_assets.core.did.twfe import TWFE, TwoWayFixedEffects, twfe_all_donors


def test_hand_worked_panel():
    # Treated 10, 10 | 16, 16 (gains 6); donors gain 2 and 4, on average 3: tau = 6 - 3 = 3.
    treated = np.array([10.0, 10.0, 16.0, 16.0])
    donors = np.array([[5.0, 5.0, 7.0, 7.0], [1.0, 3.0, 5.0, 7.0]])
    tau, placebos = twfe_all_donors(treated, donors, np.array([False, False, True, True]))
    assert tau == pytest.approx(3.0)
    # Donor 1 (gains 2) against donor 2 (gains 4): -2; donor 2 against donor 1: +2.
    assert placebos == pytest.approx([-2.0, 2.0])


def test_equals_least_squares_with_unit_and_year_dummies():
    panel = simulated_panel(n_units=12, seed=11)
    prepared = prepare_outcome(panel, FACT22, "closures_per_10k")
    row = TwoWayFixedEffects().estimate(prepared, Selection(pd.DataFrame(), ""))["did_results"].iloc[0]
    data = panel[panel["collection_year"].isin(FACT22.study_years)].copy()
    data["treated_post"] = ((data["unit_code"] == FACT22.treated_unit_code)
                            & (data["collection_year"] >= FACT22.first_post_year)).astype(float)
    fit = smf.ols("closures_per_10k ~ treated_post + C(unit_code) + C(collection_year)", data=data).fit()
    assert row["method"] == TWFE
    assert row["estimate"] == pytest.approx(fit.params["treated_post"], abs=1e-9)
    assert row["n_obs"] == fit.nobs
    assert 0 < row["permutation_p_value"] <= 1 and row["n_placebos"] == 12


def test_recovers_a_planted_effect():
    panel = simulated_panel(n_units=80, effect=25.0, trend_sd=0.0, noise_sd=2.0, seed=2)
    prepared = prepare_outcome(panel, FACT22, "escalations_per_10k")
    row = TwoWayFixedEffects().estimate(prepared, Selection(pd.DataFrame(), ""))["did_results"].iloc[0]
    assert row["estimate"] == pytest.approx(25.0, abs=2.0)
    assert row["permutation_p_value"] == pytest.approx(1 / 81)


def test_the_row_says_which_study_outcome_and_inference():
    panel = simulated_panel(n_units=12, seed=11)
    prepared = prepare_outcome(panel, FACT22, "closures_per_10k")
    row = TwoWayFixedEffects().estimate(prepared, Selection(pd.DataFrame(), ""))["did_results"].iloc[0]
    assert row["study_id"] == FACT22.study_id and row["outcome"] == "closures_per_10k"
    assert row["treated_unit_code"] == FACT22.treated_unit_code and row["first_post_year"] == FACT22.first_post_year
    assert isinstance(row["permutation_inference"], str) and "placebo" in row["permutation_inference"].lower()
