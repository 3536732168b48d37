"""Minimum detectable effects: a hand-worked placebo set, the 2.8 SD shortcut, and a simulation with a planted effect."""
import numpy as np
import pytest

from fact22_assets.core.calibration.power import (
    critical_value,
    detectable_effect,
    diluted_effect,
    minimum_detectable_effect,
    normal_mde,
    power_at,
)
from fact22_assets.core.did.placebo import permutation_p_value
from fact22_assets.core.did.twfe import twfe_all_donors

SYMMETRIC = np.array([*range(1, 21), *range(-20, 0)], dtype=float)  # +-1 .. +-20, n = 40


def test_critical_value_is_the_permutation_tests_threshold():
    # n = 40, alpha 0.05: p = (1 + #{|e| >= x}) / 41 <= 0.05 needs #{|e| >= x} <= 1.05, i.e. at most one
    # placebo as extreme: |x| must exceed the second largest |e|, which is 20 (20 and -20).
    assert critical_value(SYMMETRIC) == 20
    # 19 placebos: (1 + 0) / 20 = 0.05, so only beating every placebo rejects; 18 can never reject.
    assert critical_value(np.arange(1, 20.0)) == 19
    assert np.isnan(critical_value(np.arange(1, 19.0)))


def test_mde_of_a_hand_worked_placebo_set():
    # Reject when |delta + e| > 20. At delta just above 32, e > 20 - delta = -12 - eps holds for the 20
    # positive values and -1 .. -12: 32 of 40 = 80%. At delta = 32 exactly, -12 does not count: 31 of 40.
    assert power_at(32.0, SYMMETRIC)[0] == pytest.approx(31 / 40)
    mde = minimum_detectable_effect(SYMMETRIC)
    assert mde == pytest.approx(32.0) and mde > 32.0
    assert power_at(mde, SYMMETRIC)[0] == pytest.approx(32 / 40)
    assert power_at(-mde, SYMMETRIC)[0] == pytest.approx(32 / 40)


def test_mde_takes_the_harder_direction():
    # All placebos positive (1..39): c = 38. Upwards, 32 values must exceed 38 - delta: delta > 30.
    # Downwards, 32 values must fall below delta - 38: delta > 70. Both directions: just above 70.
    assert minimum_detectable_effect(np.arange(1, 40.0)) == pytest.approx(70.0)


def test_normal_shortcut_is_2_8_standard_deviations():
    assert normal_mde(1.0) == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    found = detectable_effect(SYMMETRIC)
    assert found.placebo_sd == pytest.approx(np.std(SYMMETRIC, ddof=1))
    assert found.mde_normal == pytest.approx(2.801585 * np.std(SYMMETRIC, ddof=1), rel=1e-6)
    assert found.n_placebos == 40


def test_dilution_of_fact22s_reach():
    # METHOD.md: ~80 families a year; a 20-point effect in an authority of ~380,000 residents moves its rate by
    # 80 * 0.2 / 380,000 * 10,000 = 0.42 per 10,000.
    assert diluted_effect(80, 0.20, 380_000) == pytest.approx(16 / 38)
    assert np.isnan(diluted_effect(80, 0.2, 0))


POST = np.arange(2011, 2020) >= 2016  # 5 pre-years and 4 post-years, as the studies


def _exchangeable_panel(rng, n_units=80, effect=0.0, rho=0.5, sd=3.0) -> np.ndarray:
    """Units alike in all but level: a common year shock plus AR(1) noise; unit 0 gains `effect` after the start."""
    shock = rng.normal(0, sd, POST.size)
    noise = np.empty((n_units, POST.size))
    noise[:, 0] = rng.normal(0, sd, n_units)
    for t in range(1, POST.size):
        noise[:, t] = rho * noise[:, t - 1] + rng.normal(0, sd * np.sqrt(1 - rho**2), n_units)
    y = rng.normal(100, 20, (n_units, 1)) + shock + noise
    y[0, POST] += effect
    return y


def _twfe_p(y: np.ndarray) -> float:
    """The registered two-way fixed effects' estimate and placebo p-value (TwoWayFixedEffects.estimate's code)."""
    tau, placebos = twfe_all_donors(y[0], y[1:], POST)
    return permutation_p_value(tau, placebos)


def test_an_effect_of_the_mde_is_found_80_percent_of_the_time():
    """The MDE read from each design's placebos, planted in fresh panels, is detected by the estimator's own
    permutation test about 80% of the time."""
    rng = np.random.default_rng(2024)
    mdes = [minimum_detectable_effect(twfe_all_donors(y[0], y[1:], POST)[1])
            for y in (_exchangeable_panel(rng) for _ in range(100))]
    delta = float(np.mean(mdes))
    n = 2000
    rejected = np.mean([_twfe_p(_exchangeable_panel(rng, effect=delta)) <= 0.05 for _ in range(n)])
    # Binomial standard error at 80% with 2,000 panels: 0.9 points; allow 3 (the MDE itself is an estimate).
    assert abs(rejected - 0.80) <= 0.03, (delta, rejected)
    # Half the MDE is found far less often, and no effect about 5% of the time (the test is calibrated here).
    assert np.mean([_twfe_p(_exchangeable_panel(rng, effect=delta / 2)) <= 0.05 for _ in range(1000)]) < 0.45
    assert abs(np.mean([_twfe_p(_exchangeable_panel(rng)) <= 0.05 for _ in range(2000)]) - 0.05) <= 0.015
