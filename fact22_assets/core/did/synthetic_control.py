"""Synthetic control: the treated unit as a weighted mix of eligible authorities.

Weights are non-negative, sum to one and minimise the mean squared
prediction error of the outcome over the pre-period years (the outcome's
pre-period values are the only predictors). The problem is solved as
non-negative least squares on an augmented system: one extra row,
M * sum(w) = M, enforces the sum-to-one constraint as M grows; with the
data scaled to order one, M = 1e4 leaves the sum within about 1e-8 of one
even when the target lies outside the donors' hull, and the weights are
then rescaled to sum to exactly one. NNLS (Lawson-
Hanson) is exact, deterministic for a given donor order (unit_code) and
fast enough to refit the whole placebo set.

When there are more donors than pre-period years, many weightings may fit
the pre-period equally well -- often perfectly. NNLS returns a sparse one
(at most one donor more than there are pre years); read the weights as one
of possibly several, and the pre-period RMSPE as an overfit measure.

Inference (Abadie, Diamond & Hainmueller 2010): every donor in turn is
treated as if it had run the programme and fitted from the other donors;
the treated unit's post/pre RMSPE ratio is ranked among theirs, giving
    p = (1 + #{placebo ratio >= treated ratio}) / (1 + N).
With few pre years many units, the treated one included, are fitted
perfectly, and a ratio over a pre-RMSPE of 1e-11 is rounding noise. So a
pre-RMSPE below `EXACT_FIT_TOLERANCE` times the outcome's largest absolute
value counts as an exact fit and is replaced by that floor in the ratio:
exact fits then rank among themselves by post-period RMSPE alone, and above
every inexact fit. The placebo table flags them (exact_pre_fit).

That makes the ratio test uninformative whenever the treated unit is not
fitted exactly but many placebos are: it ranks behind all of them. So a
second p-value follows Abadie et al.'s restricted comparison: the treated
unit's post-period RMSPE ranked among placebos whose pre-period fit is
comparable -- pre-RMSPE at most `COMPARABLE_FIT_MULTIPLE` (5) times the
treated unit's (floored as above) --
    p = (1 + #{comparable placebos with post-RMSPE >= treated's}) / (1 + N comparable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .eligibility import require_treated_complete
from .placebo import permutation_p_value, rmspe_ratio
from .prepared import PreparedOutcome

SUM_TO_ONE_WEIGHT = 1e4
EXACT_FIT_TOLERANCE = 1e-8
COMPARABLE_FIT_MULTIPLE = 5.0


@dataclass(frozen=True)
class SyntheticControl:
    """Weights, the yearly path, the placebo fits and the summary of one outcome."""

    weights: pd.DataFrame
    path: pd.DataFrame
    placebos: pd.DataFrame
    pre_rmspe: float
    post_rmspe: float
    rmspe_ratio: float
    mean_post_gap: float
    exact_pre_fit: bool
    p_value: float
    n_placebos: int
    post_rmspe_p_value: float
    n_comparable_placebos: int


def synthetic_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that best reproduce `target` from `donors`.

    target: (n_years,); donors: (n_donors, n_years). Returns (n_donors,).
    """
    from scipy.optimize import nnls  # imported when a fit runs, not when the definitions load

    scale = max(np.abs(donors).max(), np.abs(target).max(), np.finfo(float).tiny)
    system = np.vstack([donors.T / scale, np.full(donors.shape[0], SUM_TO_ONE_WEIGHT)])
    goal = np.append(target / scale, SUM_TO_ONE_WEIGHT)
    weights, _ = nnls(system, goal)
    return weights / weights.sum()


def synthetic_control(prepared: PreparedOutcome) -> SyntheticControl:
    """The synthetic control of the treated unit from every eligible unit.

    weights columns: study_id, outcome, unit_code, unit_name, weight (every
    donor, largest weight first). path columns: study_id, outcome,
    collection_year, period ('pre'/'post'), treated_value, synthetic_value,
    gap (treated minus synthetic). placebos columns: study_id, outcome,
    unit_code, unit_name, role ('treated'/'placebo'), pre_rmspe, post_rmspe,
    rmspe_ratio, mean_post_gap, exact_pre_fit, ratio_at_least_as_extreme
    (ratio >= the treated unit's; p_value is the mean of this column),
    comparable_pre_fit (in the restricted comparison of post_rmspe_p_value).
    """
    study, outcome = prepared.study, prepared.outcome
    require_treated_complete(prepared.eligibility, study)
    donors = list(prepared.candidates)
    if len(donors) < 2:
        raise ValueError(
            f"synthetic control for {outcome} needs at least 2 eligible donors, got {len(donors)}"
        )
    years = list(study.study_years)
    pre = ~np.isin(years, study.post_years)
    treated = prepared.values(outcome, [study.treated_unit_code], years)[0]
    pool = prepared.values(outcome, donors, years)

    floor = EXACT_FIT_TOLERANCE * max(np.abs(pool).max(), np.abs(treated).max())
    weights = synthetic_weights(treated[pre], pool[:, pre])
    synthetic = weights @ pool
    fit = _fit_summary(treated - synthetic, pre, floor)

    placebo_fits = []
    for j in range(len(donors)):
        others = np.delete(pool, j, axis=0)
        placebo_weights = synthetic_weights(pool[j, pre], others[:, pre])
        placebo_fits.append(_fit_summary(pool[j] - placebo_weights @ others, pre, floor))

    names = prepared.panel.names
    ids = {"study_id": study.study_id, "outcome": outcome}
    weight_table = pd.DataFrame(
        {
            **ids,
            "unit_code": donors,
            "unit_name": names.reindex(donors).to_numpy(),
            "weight": weights,
        }
    ).sort_values(["weight", "unit_code"], ascending=[False, True], ignore_index=True)
    path = pd.DataFrame(
        {
            **ids,
            "collection_year": years,
            "period": np.where(pre, "pre", "post"),
            "treated_value": treated,
            "synthetic_value": synthetic,
            "gap": treated - synthetic,
        }
    )
    placebos = pd.DataFrame([fit, *placebo_fits])
    placebos.insert(0, "study_id", study.study_id)
    placebos.insert(1, "outcome", outcome)
    placebos.insert(2, "unit_code", [study.treated_unit_code, *donors])
    placebos.insert(3, "unit_name", names.reindex(placebos["unit_code"]).to_numpy())
    placebos.insert(4, "role", ["treated"] + ["placebo"] * len(donors))
    placebos["ratio_at_least_as_extreme"] = placebos["rmspe_ratio"] >= fit["rmspe_ratio"]
    comparable_limit = COMPARABLE_FIT_MULTIPLE * max(fit["pre_rmspe"], floor)
    placebos["comparable_pre_fit"] = placebos["pre_rmspe"] <= comparable_limit
    others = placebos.iloc[1:]
    comparable = others[others["comparable_pre_fit"]]

    return SyntheticControl(
        weights=weight_table,
        path=path,
        placebos=placebos,
        **fit,
        p_value=permutation_p_value(fit["rmspe_ratio"], others["rmspe_ratio"]),
        n_placebos=len(others),
        post_rmspe_p_value=permutation_p_value(fit["post_rmspe"], comparable["post_rmspe"]),
        n_comparable_placebos=len(comparable),
    )


def _fit_summary(gap: np.ndarray, pre: np.ndarray, floor: float) -> dict:
    pre_rmspe = float(np.sqrt(np.mean(gap[pre] ** 2)))
    post_rmspe = float(np.sqrt(np.mean(gap[~pre] ** 2)))
    return {
        "pre_rmspe": pre_rmspe,
        "post_rmspe": post_rmspe,
        "rmspe_ratio": float(rmspe_ratio(pre_rmspe, post_rmspe, floor)),
        "mean_post_gap": float(np.mean(gap[~pre])),
        "exact_pre_fit": pre_rmspe <= floor,
    }
