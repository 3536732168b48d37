"""How much the pre-period pins down a plain synthetic control (identification report).

With few pre-period years and many donors, the treated unit's pre-period
vector X1 often lies inside the convex hull of the donors' vectors X0j: then
many simplex weightings reproduce it exactly, and they can disagree about
the post-period. This report answers three questions for one treated unit
(Abadie 2021, "Using synthetic controls", J. Econ. Lit. 59(2), section on
the uniqueness of the weights; METHOD.md, "Beyond the report"):

(a) inside_hull: is there w >= 0, sum(w) = 1 with X0' w = X1? A linear
    feasibility problem (scipy `linprog`, HiGHS), on data divided by its
    largest absolute value, with the fit allowed to miss by `tolerance`
    (default 1e-7 of that scale) in each year.
(b) best_pre_rmspe: the smallest pre-period root mean squared error over
    the simplex -- the least-squares QP, solved exactly by the active-set
    solver of `penalised_synthetic_control.simplex_qp` with no penalty.
    Every minimiser has the same fitted values f = X0' w* (the projection
    of X1 onto the hull is unique), so the set of best-fitting weightings
    is {w in the simplex : X0' w = f}; when X1 is inside the hull, f = X1.
(c) post_gap_low, post_gap_high: the least and greatest mean post-period
    gap (treated minus synthetic) over that set, two linear programmes
    (minimise and maximise w' m, m the donors' post-period means) with
    X0' w = f as equality constraints -- or, should rounding make those
    infeasible, within `tolerance` of f in every pre year.

A wide [low, high] interval says the pre-period does not decide the
synthetic control's answer; a penalised synthetic control (see
`penalised_synthetic_control`) or synthetic DiD picks one by a stated rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .penalised_synthetic_control import simplex_qp

DEFAULT_TOLERANCE = 1e-7


@dataclass(frozen=True)
class SyntheticControlIdentification:
    """The hull test, the best pre-period fit and the range of post-period gaps it allows.

    best_fit_weights: one best-fitting weighting (n_donors,); post_gap_best_fit:
    its mean post gap; weights_low / weights_high: weightings attaining the
    bounds; tolerance: the per-year slack used, in the outcome's units.
    """

    inside_hull: bool
    best_pre_rmspe: float
    post_gap_low: float
    post_gap_high: float
    post_gap_best_fit: float
    n_donors: int
    n_pre: int
    tolerance: float
    best_fit_weights: np.ndarray
    weights_low: np.ndarray
    weights_high: np.ndarray


def synthetic_control_identification(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    tolerance: float = DEFAULT_TOLERANCE,
) -> SyntheticControlIdentification:
    """Identification report for the plain synthetic control of `treated` (T,) from `donors` (N, T).

    The first `n_pre` columns are the pre-period; `tolerance` is relative to
    the data's largest absolute value.
    """
    treated = np.asarray(treated, dtype=float)
    donors = np.asarray(donors, dtype=float)
    if donors.ndim != 2 or treated.shape != donors.shape[1:] or not 1 <= n_pre < treated.size:
        raise ValueError(f"need treated (T,), donors (N, T), 1 <= n_pre < T; got {n_pre}")
    scale = max(np.abs(donors).max(), np.abs(treated).max(), np.finfo(float).tiny)
    x1, x0 = treated[:n_pre] / scale, donors[:, :n_pre] / scale
    post_means = donors[:, n_pre:].mean(axis=1)
    treated_post = treated[n_pre:].mean()
    slack = tolerance

    inside = _feasible(x0, x1, slack)
    best = simplex_qp(x0, -(x0 @ x1))
    fitted = x1 if inside else best @ x0
    low_w = _extreme(x0, fitted, slack, -post_means / scale)  # largest synthetic -> lowest gap
    high_w = _extreme(x0, fitted, slack, post_means / scale)
    if low_w is None or high_w is None:  # slack too tight for the solver: the fit is unique
        low_w = high_w = best
    residual = treated[:n_pre] - best @ donors[:, :n_pre]
    return SyntheticControlIdentification(
        inside_hull=bool(inside),
        best_pre_rmspe=float(np.sqrt(np.mean(residual**2))),
        post_gap_low=float(treated_post - low_w @ post_means),
        post_gap_high=float(treated_post - high_w @ post_means),
        post_gap_best_fit=float(treated_post - best @ post_means),
        n_donors=int(donors.shape[0]),
        n_pre=int(n_pre),
        tolerance=float(tolerance * scale),
        best_fit_weights=best,
        weights_low=low_w,
        weights_high=high_w,
    )


def _constraints(x0, target, slack):
    n = x0.shape[0]
    a_ub = np.vstack([x0.T, -x0.T])
    b_ub = np.concatenate([target + slack, -(target - slack)])
    return a_ub, b_ub, np.ones((1, n)), np.ones(1)


def _feasible(x0, x1, slack) -> bool:
    from scipy.optimize import linprog  # imported when a bound runs, not when the definitions load

    a_ub, b_ub, a_eq, b_eq = _constraints(x0, x1, slack)
    result = linprog(
        np.zeros(x0.shape[0]),
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    return result.status == 0


def _extreme(x0, fitted, slack, cost):
    """argmin cost' w over the simplex with X0' w = fitted (else within `slack`), or None."""
    from scipy.optimize import linprog  # imported when a bound runs, not when the definitions load

    n = x0.shape[0]
    result = linprog(
        cost,
        A_eq=np.vstack([x0.T, np.ones(n)]),
        b_eq=np.append(fitted, 1.0),
        bounds=(0, None),
        method="highs",
    )
    if result.status != 0:
        a_ub, b_ub, a_eq, b_eq = _constraints(x0, fitted, slack)
        result = linprog(
            cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
        )
    if result.status != 0:
        return None
    w = np.clip(result.x, 0.0, None)
    return w / w.sum()
