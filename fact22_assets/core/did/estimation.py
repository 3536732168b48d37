"""The report's difference-in-differences estimate for one outcome.

    Y = b0 + b1*T + b2*Post + bTE*(T x Post) + b3*CIN + e

fitted by statsmodels OLS to the treated unit's and the comparator's rows in
the pre- and post-period; bTE is the effect. Each estimate carries classical
standard errors and HC1 heteroskedasticity-robust ones (White's sandwich
scaled by n / (n - k), Stata's `robust`); both use the t distribution on
n - k degrees of freedom for p-values and 95% intervals, since with 18 rows
a normal approximation would overstate precision. Beside the regression
the table gives the plain 2x2 difference of means and the regression
without the covariate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .eligibility import require_eligible_comparator
from .prepared import PreparedOutcome
from .study import Study

DIFFERENCE_OF_MEANS = "difference_of_means"
OLS = "ols"
OLS_WITH_COVARIATE = "ols_with_covariate"


FIT_COLUMNS = [
    "method",
    "estimate",
    "se_classical",
    "t_classical",
    "p_classical",
    "ci_low_classical",
    "ci_high_classical",
    "se_hc1",
    "t_hc1",
    "p_hc1",
    "ci_low_hc1",
    "ci_high_hc1",
    "covariate_coefficient",
    "n_obs",
    "df_resid",
    "r_squared",
    "treated_pre_mean",
    "treated_post_mean",
    "comparator_pre_mean",
    "comparator_post_mean",
]


DID_COLUMNS = [
    "study_id",
    "outcome",
    "treated_unit_code",
    "comparator_code",
    "comparator_name",
    "method",
    "first_post_year",
    *FIT_COLUMNS[1:],
]


def main_method(study: Study) -> str:
    """The specification the report relies on: with the covariate when there is one."""
    return OLS_WITH_COVARIATE if study.covariate else OLS


def did_estimates(prepared: PreparedOutcome, comparator_code: str) -> pd.DataFrame:
    """One row per method: difference_of_means, ols, and (with a covariate) ols_with_covariate.

    Columns: study_id, outcome, treated_unit_code, comparator_code, comparator_name,
    method, first_post_year, estimate, se_classical, t_classical, p_classical,
    ci_low_classical, ci_high_classical, se_hc1, t_hc1, p_hc1, ci_low_hc1,
    ci_high_hc1, covariate_coefficient, n_obs, df_resid, r_squared,
    treated_pre_mean, treated_post_mean, comparator_pre_mean, comparator_post_mean.
    The difference_of_means row has the estimate, the cell means and n_obs only.
    """
    study = prepared.study
    require_eligible_comparator(prepared.eligibility, study, comparator_code)
    table = did_fits(prepared, comparator_code, study.pre_years, study.post_years)
    table = table.assign(
        study_id=study.study_id,
        outcome=prepared.outcome,
        treated_unit_code=study.treated_unit_code,
        comparator_code=comparator_code,
        comparator_name=prepared.panel.names.get(comparator_code),
        first_post_year=study.first_post_year,
    )
    return table[DID_COLUMNS]


def did_fits(
    prepared: PreparedOutcome,
    comparator_code: str,
    pre_years: Sequence[int],
    post_years: Sequence[int],
) -> pd.DataFrame:
    """The estimates, one row per method (FIT_COLUMNS), for any split of years;
    placebo-in-time reuses it with fake splits inside the pre-period."""
    study = prepared.study
    years = [*pre_years, *post_years]
    units = [study.treated_unit_code, comparator_code]
    y = prepared.values(prepared.outcome, units, years)
    post = np.isin(years, post_years)
    cell_means = {
        f"{unit}_{period}_mean": y[i, mask].mean()
        for i, unit in enumerate(("treated", "comparator"))
        for period, mask in (("pre", ~post), ("post", post))
    }
    difference = (cell_means["treated_post_mean"] - cell_means["treated_pre_mean"]) - (
        cell_means["comparator_post_mean"] - cell_means["comparator_pre_mean"]
    )

    treated = np.repeat([1.0, 0.0], len(years))
    post_rows = np.tile(post, 2).astype(float)
    design = np.column_stack([np.ones_like(treated), treated, post_rows, treated * post_rows])
    rows = [
        {"method": DIFFERENCE_OF_MEANS, "estimate": difference, "n_obs": y.size, **cell_means},
        {"method": OLS, **_ols(y.ravel(), design), **cell_means},
    ]
    if study.covariate:
        x = prepared.values(study.covariate, units, years).ravel()
        with_x = np.column_stack([design, x])
        rows.append({"method": OLS_WITH_COVARIATE, **_ols(y.ravel(), with_x), **cell_means})
    table = pd.DataFrame(rows, columns=FIT_COLUMNS)
    table["df_resid"] = table["df_resid"].astype("Int64")
    return table


def _ols(y: np.ndarray, design: np.ndarray) -> dict:
    """bTE (column 3) with classical and HC1 inference; b3 when column 4 exists."""
    effect = 3
    import statsmodels.api as sm  # lazily: most of a second to import

    classical = sm.OLS(y, design).fit()
    robust = sm.OLS(y, design).fit(cov_type="HC1", use_t=True)
    ci_classical = classical.conf_int(0.05)[effect]
    ci_robust = robust.conf_int(0.05)[effect]
    return {
        "estimate": classical.params[effect],
        "se_classical": classical.bse[effect],
        "t_classical": classical.tvalues[effect],
        "p_classical": classical.pvalues[effect],
        "ci_low_classical": ci_classical[0],
        "ci_high_classical": ci_classical[1],
        "se_hc1": robust.bse[effect],
        "t_hc1": robust.tvalues[effect],
        "p_hc1": robust.pvalues[effect],
        "ci_low_hc1": ci_robust[0],
        "ci_high_hc1": ci_robust[1],
        "covariate_coefficient": classical.params[4] if design.shape[1] > 4 else np.nan,
        "n_obs": int(classical.nobs),
        "df_resid": int(classical.df_resid),
        "r_squared": classical.rsquared,
    }
