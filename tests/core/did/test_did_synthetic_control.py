"""Synthetic control: planted convex combinations are recovered; placebos are ranked."""


import numpy as np
import pytest

from fact22_assets.core.did import FACT22, Study, synthetic_control, synthetic_weights
from fact22_assets.core.did.prepared import prepare_outcome
from fact22_assets.core.did.simulated_panel import simulated_panel

LONG = Study(
    study_id="long_pre_period",
    treated_unit_code=FACT22.treated_unit_code,
    first_post_year=2015,
    pre_years=tuple(range(2005, 2015)),
    post_years=tuple(range(2015, 2020)),
    outcomes=("closures_per_10k",),
)
PLANTED = {"E99000001": 0.6, "E99000003": 0.4}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_of_a_planted_convex_combination_are_recovered(seed):
    donors = np.random.default_rng(seed).normal(100, 20, size=(8, 12))
    planted = np.array([0.0, 0.5, 0.0, 0.2, 0.0, 0.0, 0.3, 0.0])
    weights = synthetic_weights(planted @ donors, donors)
    np.testing.assert_allclose(weights, planted, atol=1e-7)
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_weights_stay_in_the_simplex_when_the_target_is_out_of_reach():
    donors = np.random.default_rng(3).normal(100, 20, size=(30, 5))
    weights = synthetic_weights(donors.max(axis=0) + 50, donors)
    assert (weights >= 0).all()
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    # Far above every donor, the best mix leans on the donors that are highest on average.
    assert weights[np.argmax(donors.mean(axis=1))] > 0


def planted_panel(effect: float):
    panel = simulated_panel(
        n_units=12, years=range(2005, 2020), first_post_year=2015, effect=0.0, trend_sd=3.0, seed=11
    )
    wide = panel.pivot(index="unit_code", columns="collection_year", values="closures_per_10k")
    post = np.array(wide.columns) >= LONG.first_post_year
    treated = sum(w * wide.loc[code].to_numpy() for code, w in PLANTED.items()) + effect * post
    is_treated = panel["unit_code"] == LONG.treated_unit_code
    panel.loc[is_treated, "closures_per_10k"] = treated
    return panel


def test_synthetic_control_recovers_planted_weights_and_effect():
    result = synthetic_control(prepare_outcome(planted_panel(effect=25.0), LONG, "closures_per_10k"))
    weights = result.weights.set_index("unit_code")["weight"]
    np.testing.assert_allclose(weights[list(PLANTED)], list(PLANTED.values()), atol=1e-6)
    assert weights.drop(list(PLANTED)).max() < 1e-6
    assert result.exact_pre_fit
    path = result.path.set_index("collection_year")
    np.testing.assert_allclose(path.loc[2015:, "gap"], 25.0, atol=1e-5)
    np.testing.assert_allclose(path.loc[:2014, "gap"], 0.0, atol=1e-5)
    assert result.mean_post_gap == pytest.approx(25.0, abs=1e-5)


def test_placebo_p_values_follow_their_tables():
    result = synthetic_control(prepare_outcome(planted_panel(effect=25.0), LONG, "closures_per_10k"))
    placebos = result.placebos
    assert result.n_placebos == 12 and len(placebos) == 13
    assert result.p_value == pytest.approx(placebos["ratio_at_least_as_extreme"].mean())
    comparable = placebos.iloc[1:][placebos["comparable_pre_fit"].iloc[1:]]
    beaten = (comparable["post_rmspe"] >= result.post_rmspe).sum()
    assert result.post_rmspe_p_value == pytest.approx((1 + beaten) / (1 + len(comparable)))


def test_placebo_loop_finds_a_planted_effect_among_the_whole_country():
    # Its cost over 150 authorities is measured by `make benchmark`, not here.
    panel = simulated_panel(n_units=150, seed=2)
    for outcome in FACT22.outcomes:
        result = synthetic_control(prepare_outcome(panel, FACT22, outcome))
        # An effect of 25 against noise of 3: nothing untreated drifts as far.
        assert result.post_rmspe_p_value < 0.05
