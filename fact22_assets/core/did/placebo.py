"""Inference for one treated unit: placebos in space and in time.

With two authorities and a handful of noisy years, the OLS p-value leans on
independent, equal-variance errors that such data rarely have. Placebos ask
instead how unusual the actual estimate is among estimates where nothing
happened.

Placebo-in-space: every eligible unit except the comparator is in turn
treated as if it had run the programme and paired with the actual
comparator, using the report's estimator (with the covariate when the study
has one). Keeping the comparator fixed -- rather than choosing each placebo
its own comparator by the ranking rule -- makes all placebos one vectorised
fit, and asks a clean question: how often does an untreated authority drift
as far from this comparator as the treated one did? The permutation
p-value is two-sided,
    p = (1 + #{placebos with |estimate| >= |actual|}) / (1 + N),
counting the actual estimate among the permutations, so it is never 0.

Placebo-in-time: the actual pair on pre-period data only, with a fake start
at each pre year from the third on (so the fake pre-period has at least two
years). Estimates far from zero warn that the pre-period was not stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .closed_form import PairFits, pair_did
from .eligibility import require_eligible_comparator
from .estimation import did_fits
from .prepared import PreparedOutcome


@dataclass(frozen=True)
class PlaceboInSpace:
    """The placebo table (treated row first) and the permutation test it gives."""

    table: pd.DataFrame
    actual_estimate: float
    p_value: float
    n_placebos: int


def permutation_p_value(actual: float, placebos: Sequence[float]) -> float:
    """(1 + #{|placebo| >= |actual|}) / (1 + N), over the placebos that have a value."""
    placebos = np.asarray(placebos, dtype=float)
    placebos = placebos[~np.isnan(placebos)]
    return (1 + int((np.abs(placebos) >= abs(actual)).sum())) / (1 + placebos.size)


def rmspe_ratio(pre_rmspe, post_rmspe, floor: float):
    """The synthetic controls' test statistic: post- over pre-period RMSPE, the pre-period RMSPE floored.

    Abadie, Diamond and Hainmueller (2010). The floor is each estimator's: the
    plain synthetic control's rounding tolerance for exact fits, the penalised
    one's noise level (see `penalised_synthetic_control`). Scalars or arrays.
    """
    return np.asarray(post_rmspe, dtype=float) / np.maximum(np.asarray(pre_rmspe, dtype=float), floor)


def placebo_in_space(prepared: PreparedOutcome, comparator_code: str) -> PlaceboInSpace:
    """Each eligible non-comparator unit as pseudo-treated against the comparator.

    Table columns: study_id, outcome, comparator_code, unit_code, unit_name,
    role ('treated' or 'placebo'), estimate, se_classical, t_classical,
    p_classical, covariate_coefficient, n_obs, at_least_as_extreme (the
    placebo's |estimate| >= the actual's; True for the treated row, which
    the p-value counts too, so p is the mean of this column whenever every
    placebo has an estimate).
    """
    study, outcome = prepared.study, prepared.outcome
    require_eligible_comparator(prepared.eligibility, study, comparator_code)
    placebos = [u for u in prepared.candidates if u != comparator_code]
    pseudo_treated = [study.treated_unit_code, *placebos]

    fits = fits_against(prepared, pseudo_treated, comparator_code)
    actual, placebo_estimates = fits.estimate[0], fits.estimate[1:]
    at_least_as_extreme = np.abs(fits.estimate) >= abs(actual)
    covariate = fits.covariate_coefficient
    table = pd.DataFrame(
        {
            "study_id": study.study_id,
            "outcome": outcome,
            "comparator_code": comparator_code,
            "unit_code": pseudo_treated,
            "unit_name": prepared.panel.names.reindex(pseudo_treated).to_numpy(),
            "role": ["treated"] + ["placebo"] * len(placebos),
            "estimate": fits.estimate,
            "se_classical": fits.se,
            "t_classical": fits.t,
            "p_classical": fits.p,
            "covariate_coefficient": np.nan if covariate is None else covariate,
            "n_obs": fits.n_obs,
            "at_least_as_extreme": at_least_as_extreme,
        }
    )
    return PlaceboInSpace(
        table=table,
        actual_estimate=float(actual),
        p_value=permutation_p_value(actual, placebo_estimates),
        n_placebos=int((~np.isnan(placebo_estimates)).sum()),
    )


def placebo_in_time(prepared: PreparedOutcome, comparator_code: str) -> pd.DataFrame:
    """The actual pair with fake start years inside the pre-period.

    Columns: study_id, outcome, treated_unit_code, comparator_code,
    fake_first_post_year, n_fake_pre_years, n_fake_post_years, then the
    estimation columns (method, estimate, se_classical, ... as in
    `estimation.did_estimates`), one row per fake year and method.
    """
    study, outcome = prepared.study, prepared.outcome
    require_eligible_comparator(prepared.eligibility, study, comparator_code)
    pre = study.pre_years
    tables = []
    for start in range(2, len(pre)):
        fits = did_fits(prepared, comparator_code, pre[:start], pre[start:])
        fits.insert(0, "fake_first_post_year", pre[start])
        fits.insert(1, "n_fake_pre_years", start)
        fits.insert(2, "n_fake_post_years", len(pre) - start)
        tables.append(fits)
    table = pd.concat(tables, ignore_index=True)
    table.insert(0, "study_id", study.study_id)
    table.insert(1, "outcome", outcome)
    table.insert(2, "treated_unit_code", study.treated_unit_code)
    table.insert(3, "comparator_code", comparator_code)
    return table


def fits_against(prepared: PreparedOutcome, pseudo_treated: list[str], control: str) -> PairFits:
    """The study's DiD of each pseudo-treated unit against one control, in one vectorised fit."""
    study, outcome = prepared.study, prepared.outcome
    years = list(study.study_years)
    post = np.isin(years, study.post_years)
    y = prepared.values(outcome, pseudo_treated, years)
    control_y = prepared.values(outcome, [control], years)[0]
    if not study.covariate:
        return pair_did(y, control_y, post)
    x = prepared.values(study.covariate, pseudo_treated, years)
    control_x = prepared.values(study.covariate, [control], years)[0]
    return pair_did(y, control_y, post, x, control_x)
