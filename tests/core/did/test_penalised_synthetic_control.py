"""Penalised synthetic control against hand-worked cases and pysyncon's PenalizedSynth; its
leave-one-out lambda, pool rule and ratio test recomputed by plain loops."""


import numpy as np
import pandas as pd
import pytest
from pysyncon import PenalizedSynth

from fact22_assets.core.did.donor_pool import capped_donor_pool, nearest
from fact22_assets.core.did.penalised_synthetic_control import (
    LAMBDA_GRID,
    LEAVE_ONE_OUT,
    choose_lambda,
    leave_one_out_fits,
    penalised_placebos,
    penalised_study,
    penalised_synthetic_control,
    penalised_weights,
)
from fact22_assets.core.did.placebo import rmspe_ratio
from fact22_assets.core.did.synthetic_did import noise_level


@pytest.mark.parametrize(("lam", "expected"), [(0.0, 2 / 3), (0.5, 0.75), (1.0, 5 / 6), (3.0, 1.0)])
def test_two_donors_by_hand(lam, expected):
    # X1 = 0, donors at 1 and -2: (3w - 2)^2 + lam * (w * 1 + (1 - w) * 4) is least at
    # w = 2/3 + lam/6, capped at 1.
    weights = penalised_weights(np.array([0.0]), np.array([[1.0], [-2.0]]), lam)
    np.testing.assert_allclose(weights, [expected, 1 - expected], atol=1e-10)


def _problem(n, n_pre, seed):
    rng = np.random.default_rng(seed)
    donors = rng.normal(100, 20, (n, n_pre)) + rng.normal(0, 5, (n, 1))
    treated = donors[:3].mean(axis=0) + rng.normal(0, 2, n_pre)
    return treated, donors


CASES = [(n, n_pre, lam) for n, n_pre in [(10, 6), (40, 12)] for lam in (0.001, 0.01, 0.1, 1.0)]


@pytest.mark.parametrize(("n", "n_pre", "lam"), [*CASES, (130, 10, 0.1), (130, 10, 1.0)])
def test_agrees_with_pysyncon(n, n_pre, lam):
    treated, donors = _problem(n, n_pre, seed=n + n_pre)
    x = pd.DataFrame(np.column_stack([donors.T, treated]), columns=[*map(str, range(n)), "treated"])
    # pysyncon divides each year by its standard deviation over units; do the same for ours.
    scaled = x.divide(x.std(axis=1), axis=0)
    ours = penalised_weights(scaled["treated"].to_numpy(), scaled.iloc[:, :n].to_numpy().T, lam)
    tight, _ = PenalizedSynth.w_optimize(
        np.eye(n_pre),
        scaled.iloc[:, :n].to_numpy(),
        scaled["treated"].to_numpy(),
        lam,
        qp_options={"maxiter": 5000, "ftol": 1e-14},
    )
    np.testing.assert_allclose(ours, tight, atol=1e-4)
    # Its default fit stops earlier (ftol 1e-6), never below our objective.
    fitted = PenalizedSynth()
    fitted.fit(X0=x.iloc[:, :n], X1=x["treated"], lambda_=lam)
    x0, x1 = scaled.iloc[:, :n].to_numpy(), scaled["treated"].to_numpy()

    def objective(w):
        return np.sum((x1 - x0 @ w) ** 2) + lam * w @ np.sum((x0 - x1[:, None]) ** 2, axis=0)

    assert objective(ours) <= objective(fitted.W) + 1e-9
    assert ours.min() >= 0 and ours.sum() == pytest.approx(1.0, abs=1e-12)


def test_a_treated_unit_inside_the_hull_gets_nearby_donors():
    # Donors 0-2 surround the treated unit closely, 3-4 far out; many weightings reproduce it
    # exactly; the penalty picks the near ones, and lambda -> 0 still fits exactly.
    treated = np.array([10.0, 10.0])
    donors = np.array([[9, 9], [12, 9], [9, 12], [-30, 50], [50, -30.0]])
    weights = penalised_weights(treated, donors, 0.1)
    # By hand, with weights (1 - 2b, b, b) on the near triangle: misfit 2 (3b - 1)^2 plus
    # penalty lam (2 + 6b) is least at b = 1/3 - lam/6 (its centroid fits exactly at b = 1/3).
    b = 1 / 3 - 0.1 / 6
    np.testing.assert_allclose(weights, [1 - 2 * b, b, b, 0, 0], atol=1e-9)
    tiny = penalised_weights(treated, donors, 1e-8)
    assert np.abs(tiny @ donors - treated).max() < 1e-6


def _factor_panel(n, seed, n_years=9):
    """Units driven by three common random-walk factors with their own loadings, plus noise."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(0, 1, (3, n_years)).cumsum(axis=1)
    return 100 + rng.normal(0, 20, (n, 1)) + 8 * rng.normal(0, 1, (n, 3)) @ factors + rng.normal(0, 3, (n, n_years))


def _loo_errors_by_loop(donors, n_pre, k, grid):
    """Abadie and L'Hour's leave-one-out errors, one plain fit at a time: donor i (untreated throughout)
    fitted on the pre-period from its k nearest other donors, scored by its post-period mean squared error."""
    errors = np.empty((donors.shape[0], len(grid)))
    for i in range(donors.shape[0]):
        others = np.delete(donors, i, axis=0)
        pool = others[capped_donor_pool(donors[i, :n_pre], others[:, :n_pre], k).indices]
        for g, lam in enumerate(grid):
            w = penalised_weights(donors[i, :n_pre], pool[:, :n_pre], lam)
            errors[i, g] = np.mean((donors[i, n_pre:] - w @ pool[:, n_pre:]) ** 2)
    return errors


def _one_se_by_hand(errors, grid):
    """The one-standard-error rule written out: least mean error, then the largest lambda within one
    standard error of the paired difference from it."""
    v = errors.shape[0]
    means = [sum(errors[i, g] for i in range(v)) / v for g in range(len(grid))]
    least = means.index(min(means))
    chosen = least
    for g in range(len(grid)):
        d = [errors[i, g] - errors[i, least] for i in range(v)]
        mean_d = sum(d) / v
        se = (sum((x - mean_d) ** 2 for x in d) / (v - 1)) ** 0.5 / v**0.5
        if mean_d <= se:
            chosen = max(chosen, g)
    return grid[chosen]


def test_lambda_is_the_leave_one_out_choice_with_the_one_standard_error_rule():
    # The old rule (held-out last pre years on the treated unit) sat at the bottom of its grid.
    panel = _factor_panel(41, seed=4)
    treated, donors = panel[0], panel[1:]
    errors = _loo_errors_by_loop(donors, 5, 12, LAMBDA_GRID)
    expected = _one_se_by_hand(errors, LAMBDA_GRID)
    loo = leave_one_out_fits(donors, 5, max_donors=12)
    np.testing.assert_allclose(loo.post_mspe, errors, rtol=1e-9)
    fit = penalised_synthetic_control(treated, donors, 5, max_donors=12)
    assert fit.lambda_ == expected and fit.lambda_rule == LEAVE_ONE_OUT
    assert LAMBDA_GRID[0] < fit.lambda_ < LAMBDA_GRID[-1]  # interior on this panel
    assert fit.validation["chosen"].sum() == 1
    assert fit.validation.loc[fit.validation["chosen"], "lambda_"].item() == expected
    # A placebo scores lambda on every donor but itself.
    for j in (0, 17, 39):
        assert choose_lambda(loo, leave_out=j)[0] == _one_se_by_hand(np.delete(errors, j, axis=0), LAMBDA_GRID)


def test_the_treated_unit_and_each_placebo_follow_one_rule():
    # Before, the treated unit was fitted from every donor and each placebo from its 50 nearest,
    # at the treated unit's lambda. Now each is fitted from its own K nearest donors at its own lambda.
    panel = _factor_panel(36, seed=8)
    treated, donors = panel[0], panel[1:]
    study = penalised_study(treated, donors, 5, max_donors=10)
    nearest_ten = capped_donor_pool(treated[:5], donors[:, :5], 10).indices
    assert study.fit.n_donors == 10 == study.k
    assert sorted(study.fit.weights["unit_code"].astype(int)) == sorted(nearest_ten)
    errors = _loo_errors_by_loop(donors, 5, 10, LAMBDA_GRID)
    assert study.fit.lambda_ == _one_se_by_hand(errors, LAMBDA_GRID)
    for j in (0, 11, 34):
        lam = _one_se_by_hand(np.delete(errors, j, axis=0), LAMBDA_GRID)
        alone = penalised_synthetic_control(donors[j], np.delete(donors, j, axis=0), 5, lambda_=lam, max_donors=10)
        row = study.placebos.iloc[j]
        assert row["lambda_"] == lam
        assert row["pre_rmspe"] == pytest.approx(alone.pre_rmspe, rel=1e-9, abs=1e-12)
        assert row["post_rmspe"] == pytest.approx(alone.post_rmspe, rel=1e-9)
        assert row["mean_post_gap"] == pytest.approx(alone.mean_post_gap, rel=1e-9, abs=1e-12)


def test_a_near_exact_pre_fit_does_not_make_the_ratio_explode():
    # The treated unit repeats a donor in the pre-period and no effect follows, so its pre-period RMSPE
    # is 0 and its post-period gap small: the unfloored ratio was about 2e5 (p = 1/40).
    panel = _factor_panel(40, seed=2)
    donors = panel[1:]
    treated = donors[5] + np.r_[np.zeros(5), np.random.default_rng(0).normal(0, 1, 4)]
    study = penalised_study(treated, donors, 5, max_donors=39)
    assert study.fit.pre_rmspe < 1e-9
    noise = noise_level(donors[:, :5])
    assert study.noise == noise
    assert study.rmspe_ratio == pytest.approx(study.fit.post_rmspe / max(study.fit.pre_rmspe, noise))
    assert study.rmspe_ratio < 1
    assert study.p_value > 0.5
    assert rmspe_ratio(1e-9, 2.0, 4.0) == 0.5 and rmspe_ratio(8.0, 2.0, 4.0) == 0.25
    ratios = study.placebos["post_rmspe"] / np.maximum(study.placebos["pre_rmspe"], noise)
    np.testing.assert_allclose(study.placebos["rmspe_ratio"], ratios)
    assert study.p_value == (1 + (ratios >= study.rmspe_ratio).sum()) / (1 + len(ratios))


def test_result_path_and_summary():
    treated, donors = _problem(30, 12, seed=9)
    treated = treated + 5.0 * (np.arange(12) >= 9)
    fit = penalised_synthetic_control(treated, donors, 9, years=range(2010, 2022), lambda_=0.05)
    assert fit.lambda_rule == "fixed" and fit.validation.empty
    path = fit.path
    assert list(path["period"]) == ["pre"] * 9 + ["post"] * 3
    assert fit.mean_post_gap == pytest.approx(path.loc[path["period"] == "post", "gap"].mean())
    gaps = path.loc[path["period"] == "pre", "gap"]
    assert fit.pre_rmspe == pytest.approx(np.sqrt(np.mean(gaps**2)))
    assert fit.weights["weight"].sum() == pytest.approx(1.0)
    chosen = penalised_synthetic_control(treated, donors, 9)
    assert chosen.lambda_rule == LEAVE_ONE_OUT and chosen.lambda_ in LAMBDA_GRID


def test_placebos_use_capped_pools():
    # Their cost is measured by `make benchmark` (benchmarks/selection_placebo_scaling.py), not here.
    rng = np.random.default_rng(1)
    donors = rng.normal(100, 20, (130, 15)) + rng.normal(0, 10, (130, 1))
    table, k = penalised_placebos(donors, 10, max_donors=50)
    assert k == 50 and len(table) == 130
    assert table["lambda_"].isin(LAMBDA_GRID).all() and table["pre_rmspe"].notna().all()
    _, k_small = penalised_placebos(donors[:8], 10, max_donors=50)
    assert k_small == 7


@pytest.mark.parametrize("max_donors", [3, 6, None])
def test_each_placebo_fits_from_its_own_nearest_other_donors(max_donors):
    # Tied distances (integer series, duplicated rows) must break by position as capped_donor_pool does.
    rng = np.random.default_rng(5)
    donors = rng.integers(0, 4, (20, 7)).astype(float)
    donors[7] = donors[2]
    donors[11] = donors[2]
    table, k = penalised_placebos(donors, 5, lambda_=0.1, max_donors=max_donors)
    assert k == (19 if max_donors is None else max_donors)
    for j in range(20):
        others = np.delete(donors, j, axis=0)
        pool = capped_donor_pool(donors[j, :5], others[:, :5], max_donors)
        fit = penalised_synthetic_control(donors[j], others[pool.indices], 5, lambda_=0.1)
        # the same fit, its summary summed in another order
        assert table["pre_rmspe"][j] == pytest.approx(fit.pre_rmspe, rel=1e-12, abs=1e-12), j
        assert table["mean_post_gap"][j] == pytest.approx(fit.mean_post_gap, rel=1e-12, abs=1e-12), j


def test_nearest_is_the_stable_argsort_head():
    rng = np.random.default_rng(2)
    for size, k in [(1, 1), (40, 1), (40, 5), (40, 9), (40, 10), (40, 40), (1000, 7), (1000, 300)]:
        distance = rng.integers(0, 6, size).astype(float)
        assert np.array_equal(nearest(distance, k), np.argsort(distance, kind="stable")[:k]), (size, k)
