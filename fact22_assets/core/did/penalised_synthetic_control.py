"""Penalised synthetic control (Abadie and L'Hour), for one treated unit.

Abadie, A. and L'Hour, J. (2021), "A Penalized Synthetic Control Estimator
for Disaggregated Data", Journal of the American Statistical Association
116(536), 1817-1834. The weights minimise, over the simplex,

    ||X1 - X0 w||^2 + lambda * sum_j w_j ||X1 - X0j||^2,

where X1 holds the treated unit's pre-period outcomes and X0j donor j's
(nothing is standardised: every pre year counts equally, in the outcome's
own units, so lambda is unit-free). The penalty charges each donor its own
distance from the treated unit, so among the many weightings that fit a
treated unit inside the donors' hull it prefers nearby donors; for
lambda > 0 the solution is unique (for donors in general position) and has
at most n_pre + 1 donors with positive weight. lambda -> 0 gives the plain
synthetic control (the best-fitting weighting nearest in this sense),
lambda -> infinity nearest-neighbour matching.

Solver: the QP (Hessian X0 X0', linear term -X0 X1 + lambda/2 * distances)
by an exact primal active-set method (`simplex_qp`, in the manner of
Lawson-Hanson's NNLS), with SLSQP as a fallback for degenerate problems.
pysyncon's `PenalizedSynth` solves the same objective (times 1/2, after
scaling each year by its standard deviation) with SLSQP; the tests check
both agree.

Choosing lambda (`choose_lambda`): leave-last-pre-years-out validation.
The weights are fitted on the first n_pre - h pre years for each lambda in
`LAMBDA_GRID` and scored by the root mean squared error of the synthetic
unit over the h held-out (last) pre years; the lambda with the smallest
error wins (ties: the larger lambda, the more local fit). h defaults to
max(1, round(n_pre / 4)); with fewer than 2 training years the rule falls
back to `DEFAULT_LAMBDA`. Pass `lambda_` to fix it instead.

Placebo loops (`penalised_placebos`) repeat every data-driven step for
each donor in turn: its own capped pool (the K donors nearest it in
pre-period RMSE of levels, see `donor_pool`), its own lambda by the same
rule, its own fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .donor_pool import DEFAULT_MAX_DONORS, nearest, pre_period_rmse

DEFAULT_LAMBDA = 0.01
LAMBDA_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
SLSQP_OPTIONS = {"ftol": 1e-12, "maxiter": 1000}


@dataclass(frozen=True)
class PenalisedSyntheticControl:
    """Weights, the yearly path and the fit summary of one penalised synthetic control.

    weights: unit_code, weight (every donor, largest first); path: year,
    period ('pre'/'post'), treated_value, synthetic_value, gap (treated
    minus synthetic); validation: lambda_, validation_rmse (empty when
    lambda was fixed); lambda_rule: 'fixed', 'validation' or 'default'.
    """

    weights: pd.DataFrame
    path: pd.DataFrame
    validation: pd.DataFrame
    lambda_: float
    lambda_rule: str
    mean_post_gap: float
    pre_rmspe: float
    post_rmspe: float
    n_donors: int
    n_validation_years: int


def penalised_weights(target_pre: np.ndarray, donors_pre: np.ndarray, lambda_: float) -> np.ndarray:
    """Simplex weights minimising ||X1 - X0 w||^2 + lambda * sum_j w_j ||X1 - X0j||^2.

    target_pre: (n_pre,); donors_pre: (n_donors, n_pre). Returns (n_donors,).
    """
    target = np.asarray(target_pre, dtype=float)
    donors = np.asarray(donors_pre, dtype=float)
    if lambda_ < 0:
        raise ValueError(f"lambda must be >= 0, got {lambda_}")
    if donors.shape[0] == 1:
        return np.ones(1)
    # One common scale leaves the weights unchanged and the tolerances meaningful.
    scale = max(np.abs(donors).max(), np.abs(target).max(), np.finfo(float).tiny)
    target, donors = target / scale, donors / scale
    linear = -(donors @ target) + 0.5 * lambda_ * ((donors - target) ** 2).sum(axis=1)
    return simplex_qp(donors, linear)


def simplex_qp(factor: np.ndarray, linear: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """argmin 0.5 ||factor' w||^2 + linear' w over the simplex, by a primal active set.

    factor: (n, k), so the Hessian is factor @ factor.T (n x n, rank <= k);
    linear: (n,). Starts at the best vertex and, like Lawson-Hanson's NNLS,
    adds the coordinate with the most negative reduced gradient, solves the
    equality-constrained problem on the support exactly (bordered KKT
    system), and steps back to the boundary when a weight would turn
    negative. Finite and exact up to rounding; supports stay small (at most
    k + 1 for a penalised fit in general position). Falls back to SLSQP on
    the rare degenerate problem where the active set does not settle.
    """
    n = factor.shape[0]
    hessian_diag = (factor**2).sum(axis=1)
    w = np.zeros(n)
    w[np.argmin(0.5 * hessian_diag + linear)] = 1.0
    support = w > 0
    limit = 50 * n + 100 if max_iter is None else max_iter
    tolerance = 1e-12 * max(1.0, np.abs(linear).max(), hessian_diag.max())
    for _ in range(limit):
        gradient = factor @ (factor.T @ w) + linear
        multiplier = gradient[support].mean()
        reduced = np.where(support, np.inf, gradient - multiplier)
        entering = int(np.argmin(reduced))
        if reduced[entering] >= -tolerance:
            return w / w.sum()
        support[entering] = True
        while True:
            z = _equality_qp(factor, linear, support)
            if z is None:
                # Flat along a direction within the support: the objective is linear
                # there, so move downhill along it until a weight reaches zero.
                d = _flat_direction(factor, linear, support)
                if d is None or not (d < 0).any():
                    return _slsqp(factor, linear)
                falling = d < 0
                steps = w[falling] / -d[falling]
                w = np.clip(w + steps.min() * d, 0.0, None)
                leaving = np.zeros(n, bool)
                leaving[np.flatnonzero(falling)[np.argmin(steps)]] = True
                w[leaving] = 0.0
                support &= ~leaving
                continue
            if (z[support] > 0).all():
                w = z
                break
            shrinking = support & (z <= 0)
            steps = w[shrinking] / (w[shrinking] - z[shrinking])
            alpha = steps.min()
            w = w + alpha * (z - w)
            leaving = shrinking & (w <= tolerance)
            leaving[np.flatnonzero(shrinking)[np.argmin(steps)]] = True
            w[leaving] = 0.0
            support &= ~leaving
    return _slsqp(factor, linear)


def _equality_qp(factor, linear, support):
    """Minimiser of 0.5 ||factor' w||^2 + linear' w with sum(w) = 1 and w zero off `support`."""
    index = np.flatnonzero(support)
    k = index.size
    block = factor[index]
    system = np.zeros((k + 1, k + 1))
    system[:k, :k] = block @ block.T
    system[:k, k] = system[k, :k] = 1.0
    rhs = np.append(-linear[index], 1.0)
    try:
        solution = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(solution).all():
        return None
    if np.linalg.cond(system) > 1e12:
        return None
    z = np.zeros(factor.shape[0])
    z[index] = solution[:k]
    return z


def _flat_direction(factor, linear, support):
    """A direction d on the support with factor' d = 0 and sum(d) = 0, pointing downhill."""
    index = np.flatnonzero(support)
    constraints = np.vstack([factor[index].T, np.ones(index.size)])
    _, singular, vt = np.linalg.svd(constraints)
    rank = int((singular > 1e-10 * max(1.0, singular.max())).sum())
    if rank >= index.size:
        return None
    d = np.zeros(factor.shape[0])
    d[index] = vt[rank]
    return -d if linear @ d > 0 else d


def _slsqp(factor, linear):
    from scipy.optimize import minimize  # imported when a fit runs, not when the definitions load

    n = factor.shape[0]
    result = minimize(
        lambda w: 0.5 * np.sum((factor.T @ w) ** 2) + linear @ w,
        np.full(n, 1.0 / n),
        jac=lambda w: factor @ (factor.T @ w) + linear,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(n)}],
        options=SLSQP_OPTIONS,
    )
    w = np.clip(result.x, 0.0, None)
    return w / w.sum()


def choose_lambda(
    target_pre: np.ndarray,
    donors_pre: np.ndarray,
    grid: Sequence[float] = LAMBDA_GRID,
    n_validation: int | None = None,
) -> tuple[float, pd.DataFrame, int]:
    """Leave-last-pre-years-out choice of lambda: (lambda, table, years held out).

    Table columns: lambda_, validation_rmse. When the pre-period is too short
    to hold years out, returns DEFAULT_LAMBDA with an empty table and 0.
    """
    target = np.asarray(target_pre, dtype=float)
    donors = np.asarray(donors_pre, dtype=float)
    n_pre = target.size
    held = max(1, round(n_pre / 4)) if n_validation is None else int(n_validation)
    if n_pre - held < 2 or held < 1:
        return DEFAULT_LAMBDA, pd.DataFrame({"lambda_": [], "validation_rmse": []}), 0
    train, test = slice(0, n_pre - held), slice(n_pre - held, n_pre)
    errors = []
    for lam in grid:
        w = penalised_weights(target[train], donors[:, train], lam)
        errors.append(float(np.sqrt(np.mean((target[test] - w @ donors[:, test]) ** 2))))
    table = pd.DataFrame({"lambda_": list(grid), "validation_rmse": errors})
    errors = np.asarray(errors)
    best = np.flatnonzero(errors <= errors.min() * (1 + 1e-9) + 1e-12)
    return float(np.asarray(grid)[best].max()), table, held


def penalised_synthetic_control(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    lambda_: float | None = None,
    grid: Sequence[float] = LAMBDA_GRID,
    n_validation: int | None = None,
) -> PenalisedSyntheticControl:
    """Penalised synthetic control of `treated` (T,) from `donors` (N, T).

    The first `n_pre` columns are the pre-period. lambda_=None chooses it by
    `choose_lambda` over `grid`; a number fixes it.
    """
    treated = np.asarray(treated, dtype=float)
    donors = np.asarray(donors, dtype=float)
    if donors.ndim != 2 or treated.shape != donors.shape[1:] or not 1 <= n_pre < treated.size:
        raise ValueError(f"need treated (T,), donors (N, T), 1 <= n_pre < T; got {n_pre}")
    codes = [str(i) for i in range(donors.shape[0])] if donor_codes is None else list(donor_codes)
    years = list(range(treated.size)) if years is None else list(years)
    pre = np.arange(treated.size) < n_pre
    if lambda_ is None:
        lambda_, validation, held = choose_lambda(treated[pre], donors[:, pre], grid, n_validation)
        rule = "validation" if held else "default"
    else:
        validation, held, rule = pd.DataFrame({"lambda_": [], "validation_rmse": []}), 0, "fixed"
    weights = penalised_weights(treated[pre], donors[:, pre], lambda_)
    synthetic = weights @ donors
    gap = treated - synthetic
    return PenalisedSyntheticControl(
        weights=pd.DataFrame({"unit_code": codes, "weight": weights}).sort_values(
            ["weight", "unit_code"], ascending=[False, True], ignore_index=True
        ),
        path=pd.DataFrame(
            {
                "year": years,
                "period": np.where(pre, "pre", "post"),
                "treated_value": treated,
                "synthetic_value": synthetic,
                "gap": gap,
            }
        ),
        validation=validation,
        lambda_=float(lambda_),
        lambda_rule=rule,
        mean_post_gap=float(gap[~pre].mean()),
        pre_rmspe=float(np.sqrt(np.mean(gap[pre] ** 2))),
        post_rmspe=float(np.sqrt(np.mean(gap[~pre] ** 2))),
        n_donors=int(donors.shape[0]),
        n_validation_years=held,
    )


def penalised_placebos(
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    lambda_: float | None = None,
    max_donors: int | None = DEFAULT_MAX_DONORS,
) -> tuple[pd.DataFrame, int]:
    """Each donor as pseudo-treated, fitted from its own K nearest other donors.

    Returns (table, K): table columns unit_code, lambda_, pre_rmspe,
    post_rmspe, mean_post_gap; K is the largest pool used (min(max_donors,
    N - 1)). lambda_=None chooses each placebo's lambda by the same rule as
    the treated unit's.
    """
    donors = np.asarray(donors, dtype=float)
    codes = [str(i) for i in range(donors.shape[0])] if donor_codes is None else list(donor_codes)
    rows, k_used = [], 0
    n, pre = donors.shape[0], donors[:, :n_pre]
    if max_donors is not None and max_donors < 1:
        raise ValueError(f"a donor pool needs k >= 1, got {max_donors}")
    keep = n - 1 if max_donors is None else min(max_donors, n - 1)
    for j in range(n):
        # capped_donor_pool on the other donors, without copying them: distances to all, j's own dropped.
        distance = np.delete(pre_period_rmse(pre[j], pre), j)
        chosen = nearest(distance, keep)
        k_used = max(k_used, keep)
        fit = penalised_synthetic_control(donors[j], donors[chosen + (chosen >= j)], n_pre, lambda_=lambda_)
        rows.append(
            {
                "unit_code": codes[j],
                "lambda_": fit.lambda_,
                "pre_rmspe": fit.pre_rmspe,
                "post_rmspe": fit.post_rmspe,
                "mean_post_gap": fit.mean_post_gap,
            }
        )
    return pd.DataFrame(rows), k_used
