"""How often each p-value rejects where nothing happened, and whether that is its nominal rate.

A test at level alpha is calibrated when, over placebo studies (no
programme ran), it rejects (p <= alpha) about alpha of the time.  From R
rejections in n placebo studies the rejection rate R / n gets an exact
(Clopper-Pearson) binomial 95% interval; the p-value counts as
`calibrated` when that interval reaches alpha or lies below it (lower
bound <= alpha): its false-positive rate is not shown to exceed alpha.  A
conservative test (rate below alpha) is calibrated in this sense; it only
loses power, which `power` measures.

Studies are not independent (an authority's series appears in many
slices), so the interval is a guide, not an exact statement; Bertrand,
Duflo and Mullainathan (2004) read their placebo-law rejection rates the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..did.config import StudyEntry
from ..did.estimation import DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE, main_method
from .design import design_of
from .placebo_studies import P_VALUE_COLUMNS, P_VALUE_KINDS

ALPHAS = (0.05, 0.10)
CONFIDENCE = 0.95
CALIBRATION_COLUMNS = [
    "design", "method", "outcome", "alpha", "p_value_kind", "n_placebo_studies", "rejections", "rejection_rate",
    "rejection_rate_ci_low", "rejection_rate_ci_high", "calibrated", "p_value_description",
]
# Which of a did_results row's p-values its `inference_calibrated` speaks for: the re-selected placebo for
# the report's specification (the headline, see did_inference), else the row's placebo p-value, else its
# classical one.
HEADLINE_KIND_ORDER = ("reselected", "permutation", "classical")
TWO_UNIT_METHODS = (DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE)


def binomial_interval(rejections: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval for a binomial proportion; (NaN, NaN) when n is 0."""
    if n <= 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low = 0.0 if rejections == 0 else float(stats.beta.ppf(tail, rejections, n - rejections + 1))
    high = 1.0 if rejections == n else float(stats.beta.ppf(1 - tail, rejections + 1, n - rejections))
    return low, high


def estimator_calibration(studies: pd.DataFrame, alphas: Sequence[float] = ALPHAS) -> pd.DataFrame:
    """marts.estimator_calibration from marts.calibration_studies (placebo rows only).

    One row per method, outcome, alpha and p-value kind the method publishes
    (a kind with no value in any of its studies is left out).
    """
    placebo = studies[studies["placebo"].astype(bool)] if "placebo" in studies else studies
    rows = []
    for (design, method, outcome), group in placebo.groupby(["design", "method", "outcome"], sort=True):
        for kind, column in P_VALUE_COLUMNS.items():
            p = pd.to_numeric(group[column], errors="coerce").dropna().to_numpy(dtype=float)
            if p.size == 0:
                continue
            for alpha in alphas:
                rejections = int((p <= alpha).sum())
                low, high = binomial_interval(rejections, p.size)
                rows.append({"design": design, "method": method, "outcome": outcome, "alpha": float(alpha), "p_value_kind": kind,
                             "n_placebo_studies": int(p.size), "rejections": rejections,
                             "rejection_rate": rejections / p.size, "rejection_rate_ci_low": low,
                             "rejection_rate_ci_high": high, "calibrated": bool(low <= alpha),
                             "p_value_description": P_VALUE_KINDS[kind]})
    table = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    for column in ("n_placebo_studies", "rejections"):
        table[column] = table[column].astype("Int64")
    return table


def headline_kind(row: pd.Series | dict, main_method: str | None = None) -> str | None:
    """The p-value kind a did_results row's inference is read from (see HEADLINE_KIND_ORDER)."""
    get = row.get
    if main_method is not None and get("method") == main_method:
        return "reselected"
    for kind in HEADLINE_KIND_ORDER[1:]:
        value = get(P_VALUE_COLUMNS[kind])
        if value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA:
            return kind
    return None


def with_calibration(results: pd.DataFrame, calibration: pd.DataFrame | None,
                     studies: Mapping[str, StudyEntry], alpha: float = 0.05) -> pd.DataFrame:
    """did_results with calibration_p_value_kind, inference_calibrated and calibrated_rejection_rate.

    A row takes the calibration of its study's design (`design.design_of`), method, outcome and
    headline p-value kind at ``alpha``.  NULL where that was not measured: no calibration yet, another
    design, a method without a p-value, or the report's DiD of an outcome whose comparator the study
    fixes (the placebo study measures the ranking rule's design, not a hand-picked pair).
    """
    out = results.copy()
    kinds, flags, rates = [], pd.array([pd.NA] * len(out), dtype="boolean"), np.full(len(out), np.nan)
    lookup = {}
    if calibration is not None and len(calibration):
        at = calibration[np.isclose(calibration["alpha"].astype(float), alpha)]
        lookup = {(r.design, r.method, r.outcome, r.p_value_kind): (bool(r.calibrated), float(r.rejection_rate))
                  for r in at.itertuples()}
    for k, (_, row) in enumerate(out.iterrows()):
        entry = studies.get(row["study_id"])
        main = main_method(entry.study) if entry is not None else None
        kind = headline_kind(row, main)
        kinds.append(kind)
        if entry is None or kind is None:
            continue
        if row["method"] in TWO_UNIT_METHODS and row["outcome"] in entry.study.comparators:
            continue
        found = lookup.get((design_of(entry).label, row["method"], row["outcome"], kind))
        if found is not None:
            flags[k], rates[k] = found
    out["calibration_p_value_kind"] = pd.array(kinds, dtype="string")
    out["inference_calibrated"] = flags
    out["calibrated_rejection_rate"] = rates
    return out
