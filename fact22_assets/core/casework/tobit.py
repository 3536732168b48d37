"""Censored-normal (Tobit) regression for case lengths.

Cases still open at the end of study have a case length of at least the
days observed; treating those as closures (OLS) or dropping them would
bias the lengths downwards. The Tobit model assumes a normal latent length
y* = X b + e, e ~ N(0, sigma^2), and uses P(y* >= c) for a case censored
at c (right) and P(y* <= c) for left-censoring.

sigma is estimated on the log scale (unconstrained); its standard error is
carried back by the delta method.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.base.model import GenericLikelihoodModel

from .origin import single_origin
from .rct import TREATED


class TobitModel(GenericLikelihoodModel):
    """Tobit model with per-observation censoring flags.

    endog holds the observed value, which for a censored case is its
    censoring point; right_censored / left_censored (boolean arrays) say
    which cases are censored. Parameters: the exog coefficients, then
    log_sigma.
    """

    def __init__(self, endog, exog, right_censored=None, left_censored=None, **kwds):
        super().__init__(endog, exog, extra_params_names=["log_sigma"], **kwds)
        n = len(self.endog)
        self.right_censored = np.zeros(n, bool) if right_censored is None else np.asarray(right_censored, bool)
        self.left_censored = np.zeros(n, bool) if left_censored is None else np.asarray(left_censored, bool)
        if (self.right_censored & self.left_censored).any():
            raise ValueError("a case cannot be censored on both sides")
        # One extra parameter (log_sigma) beyond the exog columns.
        self.k_extra = 1
        self.df_model = self.exog.shape[1] - 1
        self.df_resid = n - self.exog.shape[1] - 1

    def _split(self, params):
        params = np.asarray(params, dtype=float)
        beta, log_sigma = params[:-1], params[-1]
        sigma = np.exp(log_sigma)
        z = (self.endog - self.exog @ beta) / sigma
        return beta, log_sigma, sigma, z

    def loglikeobs(self, params):
        _, log_sigma, _, z = self._split(params)
        ll = stats.norm.logpdf(z) - log_sigma
        right, left = self.right_censored, self.left_censored
        ll[right] = stats.norm.logsf(z[right])
        ll[left] = stats.norm.logcdf(z[left])
        return ll

    def score_obs(self, params):
        _, _, sigma, z = self._split(params)
        # d loglike / d z for each kind of case, then the chain rule:
        # dz/d beta = -x / sigma, dz/d log_sigma = -z.
        dz = -z.copy()
        right, left = self.right_censored, self.left_censored
        dz[right] = -np.exp(stats.norm.logpdf(z[right]) - stats.norm.logsf(z[right]))
        dz[left] = np.exp(stats.norm.logpdf(z[left]) - stats.norm.logcdf(z[left]))
        d_beta = -dz[:, None] * self.exog / sigma
        d_log_sigma = -dz * z
        uncensored = ~(right | left)
        d_log_sigma[uncensored] -= 1.0
        return np.column_stack([d_beta, d_log_sigma])

    def score(self, params):
        return self.score_obs(params).sum(axis=0)

    def fit(self, start_params=None, method="bfgs", maxiter=1000, disp=0, **kwargs):
        if start_params is None:
            ols = sm.OLS(self.endog, self.exog).fit()
            start_params = np.append(ols.params, np.log(np.sqrt(ols.mse_resid)))
        kwargs.setdefault("gtol", 1e-8)
        return super().fit(start_params=start_params, method=method, maxiter=maxiter, disp=disp, **kwargs)


def fit_tobit(
    y: np.ndarray,
    exog: pd.DataFrame,
    right_censored: np.ndarray | None = None,
    left_censored: np.ndarray | None = None,
):
    """Fit a Tobit model; exog should include the constant."""
    return TobitModel(np.asarray(y, float), exog, right_censored, left_censored).fit()


def tobit_table(result, confidence: float = 0.95) -> pd.DataFrame:
    """Coefficients plus sigma (back from log_sigma) as a tidy table.

    Returns term, estimate, std_error, z_value, p_value, ci_low, ci_high.
    """
    z_crit = stats.norm.ppf(0.5 + confidence / 2)
    # exog_names already ends with the extra parameter, log_sigma
    names = list(result.model.exog_names)
    params = np.asarray(result.params, float)
    bse = np.asarray(result.bse, float)
    rows = []
    for name, estimate, se in zip(names[:-1], params[:-1], bse[:-1]):
        z = estimate / se
        rows.append(
            {
                "term": name,
                "estimate": estimate,
                "std_error": se,
                "z_value": z,
                "p_value": float(2 * stats.norm.sf(abs(z))),
                "ci_low": estimate - z_crit * se,
                "ci_high": estimate + z_crit * se,
            }
        )
    log_sigma, log_sigma_se = params[-1], bse[-1]
    sigma = float(np.exp(log_sigma))
    rows.append(
        {
            "term": "sigma",
            "estimate": sigma,
            "std_error": sigma * log_sigma_se,
            "z_value": np.nan,
            "p_value": np.nan,
            "ci_low": float(np.exp(log_sigma - z_crit * log_sigma_se)),
            "ci_high": float(np.exp(log_sigma + z_crit * log_sigma_se)),
        }
    )
    return pd.DataFrame(rows)


def case_length_tobit(
    lengths: pd.DataFrame, controls: Sequence[str] = (), left_censor_at_zero: bool = False
) -> pd.DataFrame:
    """Case length in days ~ treated + controls, right-censored at the end of follow-up.

    `lengths` comes from rct.case_lengths. With left_censor_at_zero, a
    case closed on its first day counts as "0 or less" (the latent length
    is bounded by the recording, not by the normal curve).

    Returns term (const, treated, controls..., sigma), estimate (days),
    std_error, z_value, p_value, ci_low, ci_high, n_cases,
    n_right_censored, n_left_censored, log_likelihood, converged,
    data_origin.
    """
    data = lengths[["case_length_days", "right_censored", TREATED, *controls]].dropna()
    exog = sm.add_constant(data[[TREATED, *controls]].astype(float), has_constant="add")
    right = data["right_censored"].astype(bool).to_numpy()
    left = (~right & (data["case_length_days"] <= 0)).to_numpy() if left_censor_at_zero else None
    result = fit_tobit(data["case_length_days"].to_numpy(float), exog, right, left)
    table = tobit_table(result)
    table["n_cases"] = len(data)
    table["n_right_censored"] = int(right.sum())
    table["n_left_censored"] = int(left.sum()) if left is not None else 0
    table["log_likelihood"] = float(result.llf)
    table["converged"] = bool(result.mle_retvals.get("converged", False))
    table["data_origin"] = single_origin(lengths)
    return table
