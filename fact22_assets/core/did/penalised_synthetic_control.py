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
Lawson-Hanson's NNLS, compiled with numba in `penalised_qp`), with SLSQP as
a fallback for degenerate problems. pysyncon's `PenalizedSynth` solves the
same objective (times 1/2, after scaling each year by its standard
deviation) with SLSQP; the tests check both agree.

One rule for everyone (`penalised_study`): the treated unit and every
placebo are fitted alike.

- Pool: each is fitted from its own K nearest donors (pre-period RMSE of
  levels, `donor_pool.nearest_others`), K = `max_donors` (50 by default),
  never from the whole pool for one and the K nearest for the others.
- lambda: Abadie and L'Hour's leave-one-out rule. Every donor i, itself
  untreated throughout, is fitted from its own pool on the pre-period for
  each lambda of `LAMBDA_GRID`, and its post-period mean squared prediction
  error e_i(lambda) scored; the rule takes the lambda of least mean error
  over the donors, and then, because that curve is nearly flat at small
  lambda (differences far inside its noise), the one-standard-error rule
  (Breiman, Friedman, Olshen and Stone 1984; Hastie, Tibshirani and
  Friedman 2009, section 7.10): the largest lambda whose mean error exceeds
  the least by at most one standard error of the paired difference
  e_i(lambda) - e_i(lambda_min). A placebo scores lambda on every donor but
  itself. With more than `VALIDATION_DONORS` donors the errors are scored on
  that many, spread evenly over the donor order (the same set for everyone),
  so the cost stays linear in the number of donors.
- The test statistic (`placebo.rmspe_ratio`): post- over pre-period RMSPE, with the
  pre-period RMSPE floored at the donors' noise level (synthdid's sigma,
  the standard deviation of their pre-period first differences). A
  pre-period fit closer than the outcome's own year-to-year noise is overfit
  (5 pre years, up to 6 positive weights), not a better counterfactual; the
  unfloored ratio was 300-2,500 for near-exact fits whatever the gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .donor_pool import DEFAULT_MAX_DONORS, capped_donor_pool, nearest_others
from .placebo import permutation_p_value, rmspe_ratio
from .synthetic_did import noise_level

LAMBDA_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_LAMBDA = 0.1  # fewer than 3 donors to score lambda on
VALIDATION_DONORS = 200
SLSQP_OPTIONS = {"ftol": 1e-12, "maxiter": 1000}
LEAVE_ONE_OUT, FIXED, DEFAULT = "leave-one-out, one-standard-error rule", "fixed", "default"


@dataclass(frozen=True)
class PenalisedSyntheticControl:
    """Weights, the yearly path and the fit summary of one penalised synthetic control.

    weights: unit_code, weight (every donor of its pool, largest first);
    path: year, period ('pre'/'post'), treated_value, synthetic_value, gap
    (treated minus synthetic); validation: lambda_, loo_mspe (the donors'
    mean post-period squared error at each lambda), loo_mspe_se (its paired
    standard error against the least), chosen (empty when lambda was
    fixed); lambda_rule: LEAVE_ONE_OUT, FIXED or DEFAULT.
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
    n_validation_donors: int


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
    k + 1 for a penalised fit in general position). The loop is
    `penalised_qp.active_set` (numba); SLSQP finishes the rare degenerate
    problem where the active set does not settle.
    """
    from . import penalised_qp  # numba loads when a penalised fit is first needed, not with the definitions

    factor = _kernel_array(factor, float)
    linear = _kernel_array(linear, float)
    n = factor.shape[0]
    w = np.empty(n)
    limit = 50 * n + 100 if max_iter is None else int(max_iter)
    if penalised_qp._solve_one(factor, linear, w, limit):
        return _slsqp(factor, linear)
    return w


def _kernel_array(values, dtype) -> np.ndarray:
    """C-ordered and writable, as the compiled kernels' one signature takes them (copied only if need be)."""
    return np.require(values, dtype=dtype, requirements=["C", "W"])


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


def penalised_fits(values: np.ndarray, n_pre: int, targets: np.ndarray, pools: np.ndarray,
                   lambdas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row targets[p] of `values` fitted from rows pools[p] at lambdas[p], every p in one compiled loop.

    values (N, T), the first n_pre columns the pre-period; pools (P, K), -1
    padding a shorter pool. Returns weights (P, K) and summary (P, 3):
    pre-period RMSPE, post-period RMSPE, mean post-period gap. Each fit is
    `penalised_weights` of its target on its pool.
    """
    from . import penalised_qp

    values = _kernel_array(values, float)
    targets = _kernel_array(targets, np.int64)
    pools = _kernel_array(pools, np.int64)
    lambdas = _kernel_array(np.broadcast_to(np.asarray(lambdas, dtype=float), targets.shape), float)
    weights = np.zeros(pools.shape)
    summary = np.zeros((targets.size, 3))
    status = penalised_qp.penalised_fits(values, int(n_pre), targets, pools, lambdas, weights, summary)
    for p in np.flatnonzero(status):  # degenerate: SLSQP, as penalised_weights would
        pool = pools[p][pools[p] >= 0]
        w = penalised_weights(values[targets[p], :n_pre], values[pool, :n_pre], lambdas[p])
        weights[p] = 0.0
        weights[p, :pool.size] = w
        gap = values[targets[p]] - w @ values[pool]
        summary[p] = _summary(gap, n_pre)
    return weights, summary


def _summary(gap: np.ndarray, n_pre: int) -> tuple[float, float, float]:
    return (float(np.sqrt(np.mean(gap[:n_pre] ** 2))), float(np.sqrt(np.mean(gap[n_pre:] ** 2))),
            float(np.mean(gap[n_pre:])))


def validation_donors(n_donors: int, limit: int = VALIDATION_DONORS) -> np.ndarray:
    """Positions of the donors whose post-period errors choose lambda: all, or `limit` spread evenly."""
    if n_donors <= limit:
        return np.arange(n_donors)
    return np.unique(np.linspace(0, n_donors - 1, limit).round().astype(int))


@dataclass(frozen=True)
class LeaveOneOutFits:
    """Abadie and L'Hour's leave-one-out fits: each validation donor from its own pool at every lambda.

    grid (G,); pools (N, K): every donor's pool (positions of its K nearest
    other donors, nearest first); validation (V,): positions of the scored
    donors; post_mspe (V, G); summary (V, G, 3): pre-period RMSPE,
    post-period RMSPE and mean post gap of each fit.
    """

    grid: np.ndarray
    pools: np.ndarray
    validation: np.ndarray
    post_mspe: np.ndarray
    summary: np.ndarray


def leave_one_out_fits(donors: np.ndarray, n_pre: int, grid: Sequence[float] = LAMBDA_GRID,
                       max_donors: int | None = DEFAULT_MAX_DONORS,
                       validation_limit: int = VALIDATION_DONORS) -> LeaveOneOutFits:
    """Every validation donor fitted from its own pool (its K nearest other donors) at every lambda."""
    donors = np.asarray(donors, dtype=float)
    n = donors.shape[0]
    if n < 2:
        raise ValueError(f"leave-one-out fits need at least 2 donors, got {n}")
    keep = n - 1 if max_donors is None else min(int(max_donors), n - 1)
    if keep < 1:
        raise ValueError(f"a donor pool needs k >= 1, got {max_donors}")
    grid = np.asarray(grid, dtype=float)
    pools = nearest_others(donors[:, :n_pre], keep)
    validation = validation_donors(n, validation_limit)
    targets = np.repeat(validation, grid.size)
    _, summary = penalised_fits(donors, n_pre, targets, pools[targets], np.tile(grid, validation.size))
    summary = summary.reshape(validation.size, grid.size, 3)
    return LeaveOneOutFits(grid=grid, pools=pools, validation=validation, post_mspe=summary[:, :, 1] ** 2,
                           summary=summary)


def one_standard_error_choice(post_mspe: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(chosen index, mean error per lambda, paired se per lambda) of the one-standard-error rule.

    post_mspe (V, G), lambdas in increasing order: the least mean error's
    lambda (the smallest on ties), then the largest lambda whose mean
    paired difference from it is at most its standard error
    sd(e(lambda) - e(lambda_min)) / sqrt(V).
    """
    errors = np.asarray(post_mspe, dtype=float)
    mean = errors.mean(axis=0)
    least = int(np.argmin(mean))
    difference = errors - errors[:, [least]]
    se = difference.std(axis=0, ddof=1) / np.sqrt(errors.shape[0])
    within = np.flatnonzero(difference.mean(axis=0) <= se)
    return int(within.max()), mean, se


def choose_lambda(loo: LeaveOneOutFits, leave_out: int | None = None) -> tuple[float, str, pd.DataFrame]:
    """The leave-one-out lambda, scored on every validation donor but donor `leave_out` (a position).

    Returns (lambda, rule, table with lambda_, loo_mspe, loo_mspe_se, chosen);
    with fewer than 3 donors to score on, DEFAULT_LAMBDA and an empty table.
    """
    rows = loo.validation != leave_out if leave_out is not None else np.ones(loo.validation.size, bool)
    if rows.sum() < 3:
        return DEFAULT_LAMBDA, DEFAULT, pd.DataFrame(columns=["lambda_", "loo_mspe", "loo_mspe_se", "chosen"])
    chosen, mean, se = one_standard_error_choice(loo.post_mspe[rows])
    table = pd.DataFrame({"lambda_": loo.grid, "loo_mspe": mean, "loo_mspe_se": se,
                          "chosen": np.arange(loo.grid.size) == chosen})
    return float(loo.grid[chosen]), LEAVE_ONE_OUT, table


def penalised_synthetic_control(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    lambda_: float | None = None,
    grid: Sequence[float] = LAMBDA_GRID,
    max_donors: int | None = None,
    loo: LeaveOneOutFits | None = None,
) -> PenalisedSyntheticControl:
    """Penalised synthetic control of `treated` (T,) from its `max_donors` nearest `donors` (N, T).

    The first `n_pre` columns are the pre-period. lambda_=None chooses it by
    the leave-one-out rule over `grid` (`loo`, when given, holds those fits:
    `leave_one_out_fits(donors, n_pre, grid, max_donors)`); a number fixes
    it. max_donors=None fits from every donor.
    """
    treated = np.asarray(treated, dtype=float)
    donors = np.asarray(donors, dtype=float)
    if donors.ndim != 2 or treated.shape != donors.shape[1:] or not 1 <= n_pre < treated.size:
        raise ValueError(f"need treated (T,), donors (N, T), 1 <= n_pre < T; got {n_pre}")
    codes = [str(i) for i in range(donors.shape[0])] if donor_codes is None else list(donor_codes)
    years = list(range(treated.size)) if years is None else list(years)
    pre = np.arange(treated.size) < n_pre
    empty = pd.DataFrame(columns=["lambda_", "loo_mspe", "loo_mspe_se", "chosen"])
    if lambda_ is None:
        if loo is None:
            loo = leave_one_out_fits(donors, n_pre, grid, max_donors)
        lambda_, rule, validation = choose_lambda(loo)
        n_scored = int(loo.validation.size) if rule == LEAVE_ONE_OUT else 0
    else:
        validation, rule, n_scored = empty, FIXED, 0
    pool = np.sort(capped_donor_pool(treated[pre], donors[:, pre], max_donors).indices)
    weights = penalised_weights(treated[pre], donors[pool][:, pre], lambda_)
    synthetic = weights @ donors[pool]
    gap = treated - synthetic
    return PenalisedSyntheticControl(
        weights=pd.DataFrame({"unit_code": [codes[i] for i in pool], "weight": weights}).sort_values(
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
        n_donors=int(pool.size),
        n_validation_donors=n_scored,
    )


def penalised_placebos(
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    lambda_: float | None = None,
    max_donors: int | None = DEFAULT_MAX_DONORS,
    loo: LeaveOneOutFits | None = None,
    grid: Sequence[float] = LAMBDA_GRID,
) -> tuple[pd.DataFrame, int]:
    """Each donor as pseudo-treated, fitted by the treated unit's rule: its own K nearest other donors,
    and (lambda_=None) its own leave-one-out lambda, scored on every donor but itself.

    Returns (table, K): table columns unit_code, lambda_, pre_rmspe,
    post_rmspe, mean_post_gap; K the pool size (min(max_donors, N - 1)).
    A fixed `lambda_` is used for every placebo instead.
    """
    donors = np.asarray(donors, dtype=float)
    n = donors.shape[0]
    codes = [str(i) for i in range(n)] if donor_codes is None else list(donor_codes)
    if max_donors is not None and max_donors < 1:
        raise ValueError(f"a donor pool needs k >= 1, got {max_donors}")
    if lambda_ is None and loo is None:
        loo = leave_one_out_fits(donors, n_pre, grid, max_donors)
    keep = n - 1 if max_donors is None else min(max_donors, n - 1)
    pools = loo.pools if loo is not None else nearest_others(donors[:, :n_pre], keep)
    summary = np.full((n, 3), np.nan)
    lambdas = np.full(n, np.nan)
    if lambda_ is not None:
        lambdas[:] = lambda_
    else:
        common, _, _ = choose_lambda(loo)
        lambdas[:] = common  # a donor outside the scored set leaves the rule's answer unchanged
        row_of = {int(j): r for r, j in enumerate(loo.validation)}
        for j, r in row_of.items():
            lambdas[j], _, _ = choose_lambda(loo, leave_out=j)
            if lambdas[j] in loo.grid:  # its own leave-one-out fit is already in the table
                summary[j] = loo.summary[r, int(np.flatnonzero(loo.grid == lambdas[j])[0])]
    todo = np.flatnonzero(np.isnan(summary[:, 0]))
    if todo.size:
        _, summary[todo] = penalised_fits(donors, n_pre, todo, pools[todo], lambdas[todo])
    table = pd.DataFrame({"unit_code": codes, "lambda_": lambdas, "pre_rmspe": summary[:, 0],
                          "post_rmspe": summary[:, 1], "mean_post_gap": summary[:, 2]})
    return table, int(pools.shape[1])


@dataclass(frozen=True)
class PenalisedStudy:
    """The treated unit's fit, every placebo's by the same rule, and the ratio test between them."""

    fit: PenalisedSyntheticControl
    placebos: pd.DataFrame
    k: int
    noise: float
    rmspe_ratio: float
    p_value: float


def penalised_study(treated: np.ndarray, donors: np.ndarray, n_pre: int,
                    donor_codes: Sequence[str] | None = None, years: Sequence[int] | None = None,
                    max_donors: int | None = DEFAULT_MAX_DONORS, grid: Sequence[float] = LAMBDA_GRID) -> PenalisedStudy:
    """The penalised synthetic control of `treated` and its placebo p-value, one rule for all (see the module).

    p = (1 + #{placebo ratio >= treated ratio}) / (1 + N), ratios by `rmspe_ratio`
    with the donors' noise level; the placebo table gains rmspe_ratio.
    """
    donors = np.asarray(donors, dtype=float)
    loo = leave_one_out_fits(donors, n_pre, grid, max_donors)
    fit = penalised_synthetic_control(treated, donors, n_pre, donor_codes, years, max_donors=max_donors, loo=loo)
    placebos, k = penalised_placebos(donors, n_pre, donor_codes, max_donors=max_donors, loo=loo)
    noise = noise_level(donors[:, :n_pre])
    ratio = float(rmspe_ratio(fit.pre_rmspe, fit.post_rmspe, noise))
    placebos["rmspe_ratio"] = rmspe_ratio(placebos["pre_rmspe"], placebos["post_rmspe"], noise)
    return PenalisedStudy(fit=fit, placebos=placebos, k=k, noise=noise, rmspe_ratio=ratio,
                          p_value=permutation_p_value(ratio, placebos["rmspe_ratio"]))
