"""Year-by-year effects relative to the last pre-period year.

The event study regresses the two units' yearly outcomes on a unit fixed
effect, year fixed effects and treated x year dummies for every year but the
reference (the last pre year). With two units that regression is saturated:
each treated x year coefficient is exactly
    (treated - comparator gap in that year) - (the gap in the reference year),
and no residual degrees of freedom remain, so no classical standard error
exists. Intervals and p-values therefore come from placebos-in-space, as in
`placebo`: the same coefficient for every eligible non-comparator unit
paired with the comparator. Assuming an additive effect and placebo
coefficients that describe the treated unit's noise, the 95% interval is
    [b - q(0.975), b - q(0.025)]
with q the quantiles of the placebo coefficients for that year, and the
p-value is the two-sided permutation p of `placebo.permutation_p_value`.

A saturated two-unit regression also leaves no room for the covariate, so
`include_covariate=True` first removes it with each pair's own CIN
coefficient b3 from the report's DiD regression (`closed_form.pair_did`):
the event study is then run on Y - b3 * CIN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .eligibility import require_eligible_comparator
from .placebo import fits_against, permutation_p_value
from .prepared import PreparedOutcome
from .study import Study


def event_study(prepared: PreparedOutcome, comparator_code: str, include_covariate: bool = False) -> pd.DataFrame:
    """One row per study year.

    Columns: study_id, outcome, treated_unit_code, comparator_code,
    covariate_adjusted, collection_year, relative_year (0 = last pre year),
    period ('pre', 'reference', 'post'), estimate, placebo_sd, ci_low,
    ci_high, permutation_p_value, n_placebos. The reference year has
    estimate 0 by construction and no inference.
    """
    study, outcome = prepared.study, prepared.outcome
    if include_covariate and not study.covariate:
        raise ValueError(f"study {study.study_id} names no covariate to adjust for")
    require_eligible_comparator(prepared.eligibility, study, comparator_code)
    placebos = [u for u in prepared.candidates if u != comparator_code]
    pseudo_treated = [study.treated_unit_code, *placebos]
    years = list(study.study_years)
    reference = years.index(study.pre_years[-1])

    def gap(column: str) -> np.ndarray:
        """Each pseudo-treated unit minus the comparator, year by year."""
        own = prepared.values(column, pseudo_treated, years)
        return own - prepared.values(column, [comparator_code], years)

    outcome_gap = gap(outcome)
    if include_covariate:
        fits = fits_against(prepared, pseudo_treated, comparator_code)
        outcome_gap = outcome_gap - fits.covariate_coefficient[:, None] * gap(study.covariate)
    coefficients = outcome_gap - outcome_gap[:, [reference]]
    actual, placebo = coefficients[0], coefficients[1:]
    # A placebo whose covariate slope could not be estimated has no coefficients.
    placebo = placebo[~np.isnan(placebo).any(axis=1)]

    rows = []
    for k, year in enumerate(years):
        row = {
            "collection_year": year,
            "relative_year": year - years[reference],
            "period": _period(year, study),
            "estimate": actual[k],
            "placebo_sd": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "permutation_p_value": np.nan,
            "n_placebos": len(placebo),
        }
        if k != reference and len(placebo) > 1:
            low, high = np.quantile(placebo[:, k], [0.025, 0.975])
            row |= {
                "placebo_sd": placebo[:, k].std(ddof=1),
                "ci_low": actual[k] - high,
                "ci_high": actual[k] - low,
                "permutation_p_value": permutation_p_value(actual[k], placebo[:, k]),
            }
        rows.append(row)

    table = pd.DataFrame(rows)
    table.insert(0, "study_id", study.study_id)
    table.insert(1, "outcome", outcome)
    table.insert(2, "treated_unit_code", study.treated_unit_code)
    table.insert(3, "comparator_code", comparator_code)
    table.insert(4, "covariate_adjusted", include_covariate)
    return table


def _period(year: int, study: Study) -> str:
    if year == study.pre_years[-1]:
        return "reference"
    return "pre" if year in study.pre_years else "post"
