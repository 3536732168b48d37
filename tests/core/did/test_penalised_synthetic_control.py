"""Penalised synthetic control against a hand-worked case and pysyncon's PenalizedSynth."""


import numpy as np
import pandas as pd
import pytest
from pysyncon import PenalizedSynth

from fact22_assets.core.did.donor_pool import capped_donor_pool, nearest
from fact22_assets.core.did.penalised_synthetic_control import (
    LAMBDA_GRID,
    choose_lambda,
    penalised_placebos,
    penalised_synthetic_control,
    penalised_weights,
)


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


def test_lambda_is_chosen_on_the_held_out_last_pre_years():
    treated, donors = _problem(30, 8, seed=5)
    lam, table, held = choose_lambda(treated, donors)
    assert held == 2 and list(table["lambda_"]) == list(LAMBDA_GRID)
    best = table["validation_rmse"].min()
    assert lam == table.loc[table["validation_rmse"] <= best * (1 + 1e-9), "lambda_"].max()
    # The errors are those of fits on the first 6 years, scored on the last 2.
    w = penalised_weights(treated[:6], donors[:, :6], LAMBDA_GRID[0])
    rmse = np.sqrt(np.mean((treated[6:] - w @ donors[:, 6:]) ** 2))
    assert table["validation_rmse"].iloc[0] == pytest.approx(rmse)


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
    assert chosen.lambda_rule == "validation" and chosen.lambda_ in LAMBDA_GRID


def test_placebos_use_capped_pools():
    # Their cost is measured by `make benchmark` (benchmarks/selection_placebo_scaling.py), not here.
    rng = np.random.default_rng(1)
    donors = rng.normal(100, 20, (130, 15)) + rng.normal(0, 10, (130, 1))
    table, k = penalised_placebos(donors, 10, max_donors=50)
    assert k == 50 and len(table) == 130
    assert table["lambda_"].isin(LAMBDA_GRID).all()
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
        assert table["pre_rmspe"][j] == fit.pre_rmspe and table["mean_post_gap"][j] == fit.mean_post_gap, j


def test_nearest_is_the_stable_argsort_head():
    rng = np.random.default_rng(2)
    for size, k in [(1, 1), (40, 1), (40, 5), (40, 9), (40, 10), (40, 40), (1000, 7), (1000, 300)]:
        distance = rng.integers(0, 6, size).astype(float)
        assert np.array_equal(nearest(distance, k), np.argsort(distance, kind="stable")[:k]), (size, k)
