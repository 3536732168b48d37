"""Two-unit OLS fits for many pairs at once, from per-unit sums.

Comparator screening and placebo-in-space each fit the same small
regression to one fixed unit paired with every other eligible unit. Both
regressions are saturated in the unit (and period) dummies, so their OLS
solution reduces to per-unit sums -- means and centred cross-products -- and
all pairs are solved together in numpy: no design matrix is built, and the
cost grows linearly with the number of units. The results equal a loop of
statsmodels OLS fits to rounding (tests and `benchmarks/` check both).

All inputs are balanced units x years arrays without gaps (see
`eligibility`), so every pair has the same residual degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairFits:
    """One coefficient per pair, with its classical (homoskedastic) inference."""

    estimate: np.ndarray
    se: np.ndarray
    t: np.ndarray
    p: np.ndarray
    df_resid: int
    n_obs: int
    covariate_coefficient: np.ndarray | None = None


def differential_slopes(
    treated_y: np.ndarray, candidate_y: np.ndarray, years: np.ndarray
) -> PairFits:
    """Pre-trend test of the treated unit against each candidate.

    Fits y = a + b*T + c*year + d*(T x year) to the two units' rows and
    returns d, the treated minus the candidate slope. With a separate
    intercept and slope per unit the fit splits into one line per unit, so
    d and its residual sum of squares come from per-unit centred sums.

    treated_y: (n_years,); candidate_y: (n_units, n_years); years: (n_years,).
    """
    treated_y, candidate_y = _check_arrays(treated_y, candidate_y)
    years = np.asarray(years, dtype=float)
    # Centring the years first keeps the sums well conditioned (2011**2 is large).
    t = years - years.mean()
    stt = t @ t

    def slope_and_rss(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        deviations = y - y.mean(axis=-1, keepdims=True)
        slope = (deviations @ t) / stt
        return slope, _non_negative((deviations**2).sum(axis=-1) - slope**2 * stt)

    treated_slope, treated_rss = slope_and_rss(treated_y)
    candidate_slope, candidate_rss = slope_and_rss(candidate_y)

    n_obs = 2 * years.size
    df = n_obs - 4
    sigma2 = (treated_rss + candidate_rss) / df
    return _with_inference(treated_slope - candidate_slope, np.sqrt(sigma2 * 2 / stt), df, n_obs)


def pair_did(
    treated_y: np.ndarray,
    control_y: np.ndarray,
    post: np.ndarray,
    treated_x: np.ndarray | None = None,
    control_x: np.ndarray | None = None,
) -> PairFits:
    """The report's DiD, Y = b0 + b1*T + b2*Post + bTE*(T x Post) [+ b3*X],
    of each treated row against one control unit.

    Without X the four dummies fit the four unit x period cell means
    exactly, so bTE is the 2x2 difference of means. With X, by
    Frisch-Waugh-Lovell, b3 is the slope of y on X within those cells and
    bTE = DiD(mean y) - b3 * DiD(mean X), with
    Var(bTE) = s^2 * (sum over cells of 1/n_cell + DiD(mean X)^2 / Sxx),
    because cell means are uncorrelated with the within-cell slope.

    treated_y, treated_x: (n_units, n_years); control_y, control_x: (n_years,);
    post: (n_years,) bool, True in post-period years.
    """
    control_y, treated_y = _check_arrays(control_y, treated_y)
    post = np.asarray(post, dtype=bool)
    if post.shape != control_y.shape or post.all() or not post.any():
        raise ValueError("post must flag each year, with at least one pre- and one post year")
    if (treated_x is None) != (control_x is None):
        raise ValueError("give the covariate for both treated and control, or for neither")
    n_pre, n_post = int((~post).sum()), int(post.sum())
    inverse_cell_sizes = 2 / n_pre + 2 / n_post
    n_obs = 2 * post.size

    treated_change, treated_dy = _cells(treated_y, post)
    control_change, control_dy = _cells(control_y, post)
    y_did = treated_change - control_change
    syy = _pair_sum(treated_dy, treated_dy, control_dy, control_dy)
    if treated_x is None:
        df = n_obs - 4
        return _with_inference(y_did, np.sqrt(syy / df * inverse_cell_sizes), df, n_obs)

    control_x, treated_x = _check_arrays(control_x, treated_x)
    treated_change, treated_dx = _cells(treated_x, post)
    control_change, control_dx = _cells(control_x, post)
    x_did = treated_change - control_change
    sxx = _pair_sum(treated_dx, treated_dx, control_dx, control_dx)
    sxy = _pair_sum(treated_dx, treated_dy, control_dx, control_dy)
    df = n_obs - 5
    # A covariate constant within every cell has no within-cell slope: NaN, not an error,
    # so one such placebo unit does not stop the rest.
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = sxy / sxx
        sigma2 = _non_negative(syy - slope * sxy) / df
        se = np.sqrt(sigma2 * (inverse_cell_sizes + x_did**2 / sxx))
    fits = _with_inference(y_did - slope * x_did, se, df, n_obs)
    return PairFits(**{**vars(fits), "covariate_coefficient": slope})


def _cells(values: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Post minus pre mean of each series, and each value's deviation from its period mean."""
    pre_mean = values[..., ~post].mean(axis=-1, keepdims=True)
    post_mean = values[..., post].mean(axis=-1, keepdims=True)
    deviations = values - np.where(post, post_mean, pre_mean)
    return (post_mean - pre_mean)[..., 0], deviations


def _pair_sum(
    treated_a: np.ndarray, treated_b: np.ndarray, control_a: np.ndarray, control_b: np.ndarray
) -> np.ndarray:
    """Sum of a*b over both units' rows of each pair."""
    return (treated_a * treated_b).sum(axis=-1) + control_a @ control_b


def _non_negative(rss: np.ndarray) -> np.ndarray:
    # A perfect fit's residual sum of squares can come out as -1e-13 by cancellation.
    return np.maximum(rss, 0.0)


def _with_inference(estimate: np.ndarray, se: np.ndarray, df: int, n_obs: int) -> PairFits:
    from scipy import stats  # imported when an estimate runs, not when the definitions load

    if df <= 0:
        raise ValueError(f"too few years for this regression: {df} residual degrees of freedom")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
    p = 2 * stats.t.sf(np.abs(t), df)
    return PairFits(estimate=estimate, se=se, t=t, p=p, df_resid=df, n_obs=n_obs)


def _check_arrays(single: np.ndarray, many: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One unit's series and a stack of units' series over the same years, without gaps."""
    single = np.asarray(single, dtype=float)
    many = np.atleast_2d(np.asarray(many, dtype=float))
    if single.ndim != 1 or many.ndim != 2 or many.shape[1] != single.size:
        raise ValueError(
            "expected one series of n years and a units x n array, "
            f"got shapes {single.shape} and {many.shape}"
        )
    if np.isnan(single).any() or np.isnan(many).any():
        raise ValueError("the fits need complete series; drop units with missing years first")
    return single, many
