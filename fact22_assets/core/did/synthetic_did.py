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
Algorithm 4. In each of B replications one control, drawn at random, plays
the treated unit and the others its controls; both weightings are
re-estimated (from the actual estimate's weights as the starting point,
with the actual estimate's sigma, zetas and stopping rule, as synthdid
passes them on), and
    se = sqrt((B - 1) / B) * sd(placebo estimates).
The confidence interval is estimate +/- 1.959964 se and the p-value the
two-sided normal one, as the paper's inference. The draws come from
`numpy.random.default_rng(seed)`, so results are reproducible but not the
same draws as R's.

Speed: the placebo fits all share the controls' data, so Frank-Wolfe runs
on all B problems at once on Gram matrices: each iteration costs O(B * N).
A control drawn more than once poses the same problem each time, so each
distinct one is solved once (about 100 of B = 200 draws among 130 donors);
a single problem runs a scalar loop with the same arithmetic. The whole
set takes about a second of CPU for 130 donors, 15 years and B = 200.
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
DEFAULT_REPLICATIONS = 200
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
    its mean is the estimate); placebo_estimates: the B placebo taus.
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
    seed: int


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
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
) -> np.ndarray:
    """Algorithm 4: B placebo estimates, each with one random control as pseudo-treated.

    Re-estimates both weightings for every replication, starting from the
    actual fit's weights (omega renormalised without the pseudo-treated
    unit) and with its sigma, zetas and stopping rule, as synthdid does.
    """
    donors = np.asarray(donors, dtype=float)
    n_donors = donors.shape[0]
    if n_donors < 2:
        raise ValueError("placebo inference needs at least 2 donors")
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


def synthetic_did(
    treated: np.ndarray,
    donors: np.ndarray,
    n_pre: int,
    donor_codes: Sequence[str] | None = None,
    years: Sequence[int] | None = None,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    max_donors: int | None = None,
) -> SyntheticDiD:
    """Synthetic DiD estimate of one treated unit with placebo standard error.

    treated: (T,) outcomes of the treated unit; donors: (N, T) of the
    controls; the first `n_pre` columns are the pre-period. donor_codes (N)
    and years (T) label the weight tables (default: positions).
    `replications` is B; `max_donors` keeps only the K controls nearest the
    treated unit (demeaned pre-period RMSE) -- None keeps every donor.
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
    if replications >= 2:
        se = float(np.sqrt((replications - 1) / replications) * np.std(placebos, ddof=1))
    else:
        se = float("nan")
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
        n_placebos=int(replications),
        noise_level=fit.noise_level,
        zeta_omega=fit.zeta_omega,
        zeta_lambda=fit.zeta_lambda,
        seed=int(seed),
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
    """synthdid's `sc.weight.fw` on B problems at once, in Gram form.

    Problem b: minimise ||A_b x - y_b||^2 + eta ||x||^2 over the simplex
    restricted to `allowed[b]`, eta = n_rows * zeta^2, given
    gram (1 or B, n, n) = A'A, linear (B, n) = A'y and const (B,) = y'y.
    Each step is synthdid's `fw.step`: move towards the vertex of least
    gradient by the exact line-search step, clipped to [0, 1]. A problem
    stops on synthdid's rule: after at least 2 iterations, once the value
    zeta^2 ||x||^2 + ||A x - y||^2 / n_rows falls by at most min_decrease^2
    in an iteration, or after max_iter iterations.

    With Q = A'A + eta I, a step x <- (1 - s) x + s e_i updates u = Q x,
    x'Q x and y'A x in O(n), so no matrix product is formed in the loop;
    finished problems leave the batch. One problem (the actual fit, and the
    tiny time-weight problems) takes `_frank_wolfe_one`: the same arithmetic
    in the same order on Python floats, so the same bits, without the
    batch's array overhead on each of up to 10,000 iterations.
    """
    eta = n_rows * zeta**2
    quad = gram + eta * np.eye(gram.shape[-1])
    shared = quad.shape[0] == 1
    solution = np.array(x0, dtype=float)
    x = solution.copy()
    u = x @ quad[0] if shared else np.einsum("bij,bj->bi", quad, x)
    xqx = np.einsum("bi,bi->b", x, u)
    yax = np.einsum("bi,bi->b", x, linear)
    linear = np.array(linear, dtype=float)
    # argmin of the half-gradient u - A'y over the allowed vertices only
    offset = np.where(allowed, linear, -np.inf)
    diagonal = np.diagonal(quad, axis1=1, axis2=2)
    const = np.broadcast_to(np.asarray(const, dtype=float), xqx.shape).copy()
    if x.shape[0] == 1:
        solution[0] = _frank_wolfe_one(quad[0], diagonal[0], linear[0], offset[0], float(const[0]), x[0], u[0],
                                       float(xqx[0]), float(yax[0]), n_rows, min_decrease, max_iter)
        return solution
    previous = np.full(xqx.shape, np.nan)
    active = np.arange(x.shape[0])
    threshold = min_decrease**2
    # Flat positions (row * n + vertex) read and write the C-ordered x, u, linear and diagonal with one `take`.
    n = x.shape[1]
    base = np.arange(active.size) * n
    diagonal = np.ascontiguousarray(diagonal)
    gradient = np.empty_like(u)
    subtract, multiply, minimum, maximum, where = np.subtract, np.multiply, np.minimum, np.maximum, np.where
    quad0 = quad[0]
    diag0 = diagonal[0]
    for iteration in range(1, max_iter + 1):
        vertex = subtract(u, offset, out=gradient).argmin(axis=1)
        flat = base + vertex
        u_vertex = u.take(flat)
        q_vertex = diag0.take(vertex) if shared else diagonal.take(flat)
        linear_vertex = linear.take(flat)
        x_vertex = x.take(flat)
        slope = (u_vertex - linear_vertex) - (xqx - yax)
        curvature = q_vertex - 2 * u_vertex + xqx
        moving = (x_vertex != 1.0) & (curvature > 0)
        step = minimum(maximum(where(moving, -slope / where(moving, curvature, 1.0), 0.0), 0.0), 1.0)
        keep = 1.0 - step
        keep_column = keep[:, None]
        multiply(x, keep_column, out=x)
        x.put(flat, x.take(flat) + step)
        multiply(u, keep_column, out=u)
        towards = quad0.take(vertex, axis=0) if shared else quad.reshape(-1, n).take(flat, axis=0)
        multiply(towards, step[:, None], out=towards)
        u += towards
        xqx = keep * keep * xqx + 2 * step * keep * u_vertex + step * step * q_vertex
        yax = keep * yax + step * linear_vertex
        value = (xqx - 2 * yax + const) / n_rows
        if iteration >= 2:
            going = previous - value > threshold
            previous = value
            if not going.all():
                solution[active[~going]] = x[~going]
                active, x, u, xqx, yax, previous = (
                    a[going] for a in (active, x, u, xqx, yax, previous)
                )
                linear, offset, const = linear[going], offset[going], const[going]
                if not shared:
                    quad, diagonal = quad[going], diagonal[going]
                if active.size == 0:
                    break
                base = np.arange(active.size) * n
                gradient = np.empty_like(u)
        else:
            previous = value
    solution[active] = x
    return solution


def _frank_wolfe_one(quad, diagonal, linear, offset, const, x, u, xqx, yax, n_rows, min_decrease, max_iter):
    """`_frank_wolfe` for a single problem: x (n,) and u = Q x (n,) are updated in place and x returned.

    Every scalar step is the batch's expression on Python floats (IEEE doubles,
    evaluated in the same order), so the iterates are bit for bit the batch's.
    """
    threshold = min_decrease**2
    previous = float("nan")
    linear_list = linear.tolist()
    diagonal_list = diagonal.tolist()
    argmin, subtract = np.argmin, np.subtract
    gradient = np.empty_like(u)
    for iteration in range(1, max_iter + 1):
        vertex = int(argmin(subtract(u, offset, out=gradient)))
        u_vertex = float(u[vertex])
        q_vertex = diagonal_list[vertex]
        slope = (u_vertex - linear_list[vertex]) - (xqx - yax)
        curvature = q_vertex - 2 * u_vertex + xqx
        if x[vertex] != 1.0 and curvature > 0:
            step = min(max(-slope / curvature, 0.0), 1.0)
        else:
            step = 0.0
        keep = 1.0 - step
        x *= keep
        x[vertex] += step
        u *= keep
        u += step * quad[vertex]
        # keep * keep, not keep**2: numpy squares an array by multiplying, Python's ** calls pow()
        xqx = keep * keep * xqx + 2 * step * keep * u_vertex + step * step * q_vertex
        yax = keep * yax + step * linear_list[vertex]
        value = (xqx - 2 * yax + const) / n_rows
        if iteration >= 2 and not previous - value > threshold:
            break
        previous = value
    return x
