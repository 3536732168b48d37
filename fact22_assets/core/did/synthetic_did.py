"""Synthetic difference-in-differences for one treated unit (pure numpy).

Arkhangelsky, Athey, Hirshberg, Imbens and Wager, "Synthetic Difference in
Differences", American Economic Review 111(12), 2021, 4088-4118; the
reference implementation is the R package synthdid
(github.com/synth-inference/synthdid), which this module follows step for
step for one treated unit and no covariates:

- noise level sigma: the standard deviation (n - 1 denominator) of all
  first differences of the control units' pre-period outcomes;
- unit weights omega on the simplex, with an intercept, minimising
  ||D_co' omega - d_tr||^2 + T_pre * zeta_omega^2 * ||omega||^2, where D are
  the pre-period series with each unit's own mean removed and
  zeta_omega = (N_treated * T_post)^(1/4) * sigma;
- time weights lambda on the simplex, with an intercept, minimising
  ||C lambda - c||^2 + N_co * zeta_lambda^2 * ||lambda||^2, where C holds the
  controls' pre-period outcomes and c their post-period means, each column
  centred over the controls, and zeta_lambda = 1e-6 * sigma;
- both solved as synthdid solves them: Frank-Wolfe with exact line search,
  stopping when an iteration lowers the objective (divided by the number of
  rows) by at most min_decrease^2, min_decrease = 1e-5 * sigma; 100
  iterations first, then `sparsify` (weights at most a quarter of the
  largest set to zero, the rest rescaled) and up to 10,000 more from there;
- tau = (mean treated post - lambda' treated pre)
        - (omega' control post means - omega' Y_co,pre lambda).

The unit-weight problem is strictly convex (zeta_omega > 0), so omega is
the unique optimum up to the stopping rule; the time-weight problem is
nearly flat (zeta_lambda is infinitesimal), so lambda is the sparse point
Frank-Wolfe stops at, as in synthdid.

Standard error: synthdid's `vcov(method = "placebo")`, the paper's
Algorithm 4, made exact. In each of B replications Algorithm 4 draws one
control at random to play the treated unit, the others its controls, and
re-estimates both weightings (from the actual estimate's weights as the
starting point, with the actual estimate's sigma, zetas and stopping rule,
as synthdid passes them on); then
    se = sqrt((B - 1) / B) * sd(placebo estimates),
the root mean squared deviation of the B placebo estimates. With one
treated unit a replication is fully determined by which control is drawn,
so the B -> infinity limit of that variance is the same mean over every
control once: by default (`replications=None`) each control is the
pseudo-treated unit exactly once, B = N, and the standard error has no
Monte Carlo error at all (200 seeded draws gave 19.71 and 22.79 on two data
vintages that differ only in the order two re-coded authorities sort in).
`replications=B` with a `seed` draws as synthdid does, from
`numpy.random.default_rng(seed)` (not R's draws). The confidence interval
is estimate +/- 1.959964 se and the p-value the two-sided normal one, as
the paper's inference.

Speed: the placebo fits all share the controls' data, so each is posed in
Gram form (O(N) per Frank-Wolfe step, no matrix product in the loop) and
solved by a loop compiled with numba (`frank_wolfe`), each problem to its own
stopping rule. A control drawn more than once poses the same problem each
time, so each distinct one is solved once.
`max_donors` caps the donor pool at the K controls nearest the treated
unit in demeaned pre-period RMSE (see `donor_pool`) before anything is
estimated; the result reports the pool size used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .donor_pool import capped_donor_pool

ETA_LAMBDA = 1e-6
MIN_DECREASE_PER_SIGMA = 1e-5
MAX_ITER = 10_000
MAX_ITER_PRE_SPARSIFY = 100
# scipy.stats.norm.ppf(0.975) written out (tests/test_import_cost.py checks it): scipy is imported when
# an estimate runs, not when the definitions load.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class SyntheticDiD:
    """The estimate, its placebo inference, the weights and the tuning used.

    unit_weights: unit_code, weight (every donor used, largest first);
    time_weights: year, weight (every pre-period year, in order);
    effect_path: year, effect (synthdid's effect curve: each post year's
    treated-minus-synthetic difference net of the lambda-weighted pre gap;
    its mean is the estimate); placebo_estimates: the B placebo taus (one
    per donor, in donor order, when every donor is used once); seed: None
    when every donor is used once.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    unit_weights: pd.DataFrame
    time_weights: pd.DataFrame
    effect_path: pd.DataFrame
    placebo_estimates: np.ndarray
    n_donors: int
    n_candidate_donors: int
    n_placebos: int
    noise_level: float
    zeta_omega: float
    zeta_lambda: float
    seed: int | None


@dataclass(frozen=True)
class SdidWeights:
    """Unit weights (n_donors,), time weights (n_pre,) and the tuning that produced them."""

    omega: np.ndarray
    lambda_: np.ndarray
    estimate: float
    noise_level: float
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float


def noise_level(donors_pre: np.ndarray) -> float:
    """synthdid's sigma: sd of the controls' first differences over the pre-period."""
    donors_pre = np.asarray(donors_pre, dtype=float)
    if donors_pre.shape[1] < 2:
        raise ValueError("the noise level needs at least 2 pre-period years")
    return float(np.std(np.diff(donors_pre, axis=1), ddof=1))


def sparsify(weights: np.ndarray) -> np.ndarray:
    """synthdid's `sparsify_function`, row-wise: zero weights <= max / 4, rescale to sum 1."""
    weights = np.where(weights <= weights.max(axis=-1, keepdims=True) / 4, 0.0, weights)
    return weights / weights.sum(axis=-1, keepdims=True)


def sdid_weights(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    noise: float | None = None,
) -> SdidWeights:
    """Unit and time weights and the estimate, for one treated unit.

    treated: (T,); donors: (N, T); the first `n_pre` columns are the
    pre-period. `noise` overrides sigma (synthdid's `noise.level`).
    """
    treated, donors, n_pre = _check(treated, donors, n_pre)
    n_donors, n_years = donors.shape
    n_post = n_years - n_pre
    sigma = noise_level(donors[:, :n_pre]) if noise is None else float(noise)
    zeta_omega = (1 * n_post) ** 0.25 * sigma
    zeta_lambda = ETA_LAMBDA * sigma
    min_decrease = MIN_DECREASE_PER_SIGMA * sigma

    unit = _UnitProblem(donors[:, :n_pre])
    omega = _solve(
        unit.gram[None],
        unit.linear_for(treated[:n_pre])[None],
        unit.const_for(treated[:n_pre])[None],
        n_rows=n_pre,
        zeta=zeta_omega,
        x0=np.full((1, n_donors), 1.0 / n_donors),
        allowed=np.ones((1, n_donors), bool),
        min_decrease=min_decrease,
    )[0]
    time = _TimeProblem(donors, n_pre)
    gram, linear, const = time.problems(np.array([-1]))
    lambda_ = _solve(
        gram,
        linear,
        const,
        n_rows=n_donors,
        zeta=zeta_lambda,
        x0=np.full((1, n_pre), 1.0 / n_pre),
        allowed=np.ones((1, n_pre), bool),
        min_decrease=min_decrease,
    )[0]
    estimate = _tau(treated, donors, n_pre, omega, lambda_)
    return SdidWeights(
        omega, lambda_, float(estimate), sigma, zeta_omega, zeta_lambda, min_decrease
    )


def placebo_estimates(
    donors: np.ndarray,
    n_pre: int,
    fit: SdidWeights,
    replications: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Algorithm 4's placebo estimates: every control once as pseudo-treated (default), or B random draws.

    Re-estimates both weightings for every pseudo-treated control, starting
    from the actual fit's weights (omega renormalised without the
    pseudo-treated unit) and with its sigma, zetas and stopping rule, as
    synthdid does. Returns (N,) in donor order with `replications=None`, else
    (B,) in draw order.
    """
    donors = np.asarray(donors, dtype=float)
    n_donors = donors.shape[0]
    if n_donors < 2:
        raise ValueError("placebo inference needs at least 2 donors")
    if replications is None:
        drawn = np.arange(n_donors)
    else:
        drawn = np.random.default_rng(seed).integers(n_donors, size=replications)
    # A control drawn twice poses the same problem twice: each distinct one is solved once.
    pseudo, drawn_as = np.unique(drawn, return_inverse=True)
    problems = pseudo.size
    allowed = np.ones((problems, n_donors), bool)
    allowed[np.arange(problems), pseudo] = False

    omega0 = np.where(allowed, fit.omega, 0.0)
    totals = omega0.sum(axis=1, keepdims=True)
    omega0 = np.where(
        totals > 0, omega0 / np.where(totals > 0, totals, 1), allowed / (n_donors - 1)
    )
    unit = _UnitProblem(donors[:, :n_pre])
    omega = _solve(
        unit.gram[None],
        unit.gram[pseudo],
        np.diag(unit.gram)[pseudo],
        n_rows=n_pre,
        zeta=fit.zeta_omega,
        x0=omega0,
        allowed=allowed,
        min_decrease=fit.min_decrease,
    )
    gram, linear, const = _TimeProblem(donors, n_pre).problems(pseudo)
    lambda_ = _solve(
        gram,
        linear,
        const,
        n_rows=n_donors - 1,
        zeta=fit.zeta_lambda,
        x0=np.repeat(fit.lambda_[None], problems, axis=0),
        allowed=np.ones((problems, n_pre), bool),
        min_decrease=fit.min_decrease,
    )
    omega, lambda_ = omega[drawn_as], lambda_[drawn_as]
    pre, post_mean = donors[:, :n_pre], donors[:, n_pre:].mean(axis=1)
    treated_part = post_mean[drawn] - np.einsum("bt,bt->b", pre[drawn], lambda_)
    control_part = omega @ post_mean - np.einsum("bn,nt,bt->b", omega, pre, lambda_)
    return treated_part - control_part


def placebo_se(placebos: np.ndarray) -> float:
    """Algorithm 4's se: sqrt((B - 1) / B) * sd(placebo estimates), the root mean squared deviation."""
    placebos = np.asarray(placebos, dtype=float)
    b = placebos.size
    return float(np.sqrt((b - 1) / b) * np.std(placebos, ddof=1)) if b >= 2 else float("nan")


def synthetic_did(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    replications: int | None = None,
    seed: int = 0,
    max_donors: int | None = None,
) -> SyntheticDiD:
    """Synthetic DiD estimate of one treated unit with placebo standard error.

    treated: (T,) outcomes of the treated unit; donors: (N, T) of the
    controls; the first `n_pre` columns are the pre-period. donor_codes (N)
    and years (T) label the weight tables (default: positions).
    `replications`: None uses every donor once as the placebo (the exact
    placebo variance), B draws B at random with `seed`; `max_donors` keeps
    only the K controls nearest the treated unit (demeaned pre-period RMSE)
    -- None keeps every donor.
    """
    from scipy import stats  # imported when an estimate runs, not when the definitions load

    treated, donors, n_pre = _check(treated, donors, n_pre)
    codes = np.asarray(
        [str(i) for i in range(donors.shape[0])] if donor_codes is None else list(donor_codes)
    )
    years = np.arange(donors.shape[1]) if years is None else np.asarray(list(years))
    if codes.size != donors.shape[0] or years.size != donors.shape[1]:
        raise ValueError("donor_codes must have one code per donor row and years one per column")
    n_candidates = donors.shape[0]
    if max_donors is not None:
        pool = capped_donor_pool(treated[:n_pre], donors[:, :n_pre], max_donors, demean=True)
        keep = np.sort(pool.indices)
        donors, codes = donors[keep], codes[keep]

    fit = sdid_weights(treated, donors, n_pre)
    placebos = placebo_estimates(donors, n_pre, fit, replications, seed)
    se = placebo_se(placebos)
    z = fit.estimate / se if se > 0 else float("nan")
    p_value = float(2 * stats.norm.sf(abs(z))) if se > 0 else float("nan")

    unit_weights = pd.DataFrame({"unit_code": codes, "weight": fit.omega}).sort_values(
        ["weight", "unit_code"], ascending=[False, True], ignore_index=True
    )
    time_weights = pd.DataFrame({"year": years[:n_pre], "weight": fit.lambda_})
    synthetic_gap = treated - fit.omega @ donors
    effect_path = pd.DataFrame(
        {
            "year": years[n_pre:],
            "effect": synthetic_gap[n_pre:] - synthetic_gap[:n_pre] @ fit.lambda_,
        }
    )
    return SyntheticDiD(
        estimate=fit.estimate,
        se=se,
        ci_low=fit.estimate - Z_95 * se,
        ci_high=fit.estimate + Z_95 * se,
        p_value=p_value,
        unit_weights=unit_weights,
        time_weights=time_weights,
        effect_path=effect_path,
        placebo_estimates=placebos,
        n_donors=int(donors.shape[0]),
        n_candidate_donors=int(n_candidates),
        n_placebos=int(placebos.size),
        noise_level=fit.noise_level,
        zeta_omega=fit.zeta_omega,
        zeta_lambda=fit.zeta_lambda,
        seed=None if replications is None else int(seed),
    )


def _check(treated, donors, n_pre) -> tuple[np.ndarray, np.ndarray, int]:
    treated = np.asarray(treated, dtype=float)
    donors = np.asarray(donors, dtype=float)
    n_pre = int(n_pre)
    if donors.ndim != 2 or treated.shape != donors.shape[1:]:
        raise ValueError(
            f"treated must be (T,) and donors (N, T); got {treated.shape}, {donors.shape}"
        )
    if not 2 <= n_pre < treated.size:
        raise ValueError(
            f"n_pre must leave >= 2 pre and >= 1 post years; got {n_pre} of {treated.size}"
        )
    if not (np.isfinite(treated).all() and np.isfinite(donors).all()):
        raise ValueError("treated and donors must be complete (no NaN or infinite values)")
    return treated, donors, n_pre


def _tau(treated, donors, n_pre, omega, lambda_) -> float:
    pre, post_mean = donors[:, :n_pre], donors[:, n_pre:].mean(axis=1)
    treated_part = treated[n_pre:].mean() - treated[:n_pre] @ lambda_
    return float(treated_part - (omega @ post_mean - omega @ pre @ lambda_))


class _UnitProblem:
    """Gram form of the unit-weight problem: units' pre-period series, each demeaned."""

    def __init__(self, donors_pre: np.ndarray):
        self.demeaned = donors_pre - donors_pre.mean(axis=1, keepdims=True)
        self.gram = self.demeaned @ self.demeaned.T

    def linear_for(self, target_pre: np.ndarray) -> np.ndarray:
        return self.demeaned @ (target_pre - target_pre.mean())

    def const_for(self, target_pre: np.ndarray) -> np.ndarray:
        centred = target_pre - target_pre.mean()
        return np.asarray(centred @ centred)


class _TimeProblem:
    """Gram form of the time-weight problem on the controls, leaving one out per problem.

    Rows are controls, columns the pre years plus the post-period mean; each
    column is centred over the controls in the problem. Leaving control p
    out is a rank-one downdate of the full cross-products.
    """

    def __init__(self, donors: np.ndarray, n_pre: int):
        z = np.column_stack([donors[:, :n_pre], donors[:, n_pre:].mean(axis=1)])
        self.z = z - z.mean(axis=0)  # a common shift leaves every centred problem unchanged
        self.n_pre = n_pre

    def problems(self, left_out: np.ndarray):
        """Gram (B, T0, T0), linear (B, T0), const (B,); left_out -1 means keep all."""
        z, n = self.z, self.z.shape[0]
        full = z.T @ z
        rows = np.where(left_out[:, None] >= 0, z[np.maximum(left_out, 0)], 0.0)
        count = np.where(left_out >= 0, n - 1, n)[:, None, None]
        sums = z.sum(axis=0) - rows
        cross = (
            full - rows[:, :, None] * rows[:, None, :] - sums[:, :, None] * sums[:, None, :] / count
        )
        k = self.n_pre
        return cross[:, :k, :k], cross[:, :k, k], cross[:, k, k]


def _solve(gram, linear, const, n_rows, zeta, x0, allowed, min_decrease) -> np.ndarray:
    """synthdid's two rounds: 100 iterations, sparsify, then up to MAX_ITER more."""
    first = _frank_wolfe(
        gram, linear, const, n_rows, zeta, x0, allowed, min_decrease, MAX_ITER_PRE_SPARSIFY
    )
    return _frank_wolfe(
        gram, linear, const, n_rows, zeta, sparsify(first), allowed, min_decrease, MAX_ITER
    )


def _frank_wolfe(
    gram, linear, const, n_rows, zeta, x0, allowed, min_decrease, max_iter
) -> np.ndarray:
    """synthdid's `sc.weight.fw` on B problems, each to its own stopping rule, in Gram form.

    Problem b: minimise ||A_b x - y_b||^2 + eta ||x||^2 over the simplex
    restricted to `allowed[b]`, eta = n_rows * zeta^2, given
    gram (1 or B, n, n) = A'A, linear (B, n) = A'y and const (B,) = y'y.
    Each step is synthdid's `fw.step`: move towards the vertex of least
    gradient by the exact line-search step, clipped to [0, 1]. A problem
    stops on synthdid's rule: after at least 2 iterations, once the value
    zeta^2 ||x||^2 + ||A x - y||^2 / n_rows falls by at most min_decrease^2
    in an iteration, or after max_iter iterations.

    With Q = A'A + eta I, a step x <- (1 - s) x + s e_i updates u = Q x,
    x'Q x and y'A x in O(n), so no matrix product is formed in the loop.
    The loop itself is `frank_wolfe.solve`, compiled with numba: one problem
    after another, each to its own stopping rule.
    """
    from . import frank_wolfe  # numba loads when synthetic DiD first runs, not with the definitions

    eta = n_rows * zeta**2
    quad = gram + eta * np.eye(gram.shape[-1])
    x = np.array(x0, dtype=float, order="C")
    u = x @ quad[0] if quad.shape[0] == 1 else np.einsum("bij,bj->bi", quad, x)
    xqx = np.einsum("bi,bi->b", x, u)
    yax = np.einsum("bi,bi->b", x, linear)  # before the copy below: einsum's sums depend on the layout
    linear = np.array(linear, dtype=float, order="C")
    # argmin of the half-gradient u - A'y over the allowed vertices only
    offset = np.ascontiguousarray(np.where(allowed, linear, -np.inf))
    const = np.broadcast_to(np.asarray(const, dtype=float), xqx.shape).copy()
    frank_wolfe.solve(np.ascontiguousarray(quad), linear, offset, const, x, np.ascontiguousarray(u),
                      np.ascontiguousarray(xqx), np.ascontiguousarray(yax), float(n_rows), float(min_decrease**2),
                      int(max_iter))
    return x
