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

from ..did.config import StudyEntry
from ..did.estimation import DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE, main_method
from .design import design_of
from .placebo_studies import P_VALUE_COLUMNS, P_VALUE_KINDS

ALPHAS = (0.05, 0.10)
CONFIDENCE = 0.95
CALIBRATION_COLUMNS = [
    "design", "method", "outcome", "alpha", "p_value_kind", "noise_band", "noise_from", "noise_to",
    "n_placebo_studies", "rejections", "rejection_rate", "rejection_rate_ci_low", "rejection_rate_ci_high",
    "calibrated", "p_value_description",
]
# Which of a did_results row's p-values its `inference_calibrated` speaks for: the re-selected placebo for
# the report's specification (the headline, see did_inference), else the row's placebo p-value, else its
# classical one.
HEADLINE_KIND_ORDER = ("reselected", "permutation", "classical")
TWO_UNIT_METHODS = (DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE)

# The report's first screen puts its pre-specified specification (re-selected placebo p) beside these methods
# (each with its own placebo p); the chance that at least one of them reaches p <= alpha where nothing happened
# is the first screen's family-wise false-positive rate, a row of estimator_calibration of its own.
FIRST_SCREEN_METHODS = ("synthetic_did", "penalised_synthetic_control", "twfe_all_donors", "synthetic_control")
FIRST_SCREEN_FAMILY = "any_first_screen_method"
FIRST_SCREEN_KIND = "first_screen"
FIRST_SCREEN_COLUMN = "first_screen_min_p"
P_VALUE_DESCRIPTIONS = {
    **P_VALUE_KINDS,
    FIRST_SCREEN_KIND: "the smallest p-value of the report's first screen (the pre-specified specification's "
                       "re-selected placebo p and each other method's placebo p), over placebo studies where "
                       "every one of them has a value: how often at least one reaches alpha",
}


def binomial_interval(rejections: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval for a binomial proportion; (NaN, NaN) when n is 0."""
    if n <= 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    # The beta quantiles as the inverse of the regularised incomplete beta function, which is what
    # scipy.stats.beta.ppf computes (equal to the bit over 44,000 (rejections, n) pairs): scipy.special
    # imports in a third of the time of scipy.stats, which a refresh need not otherwise import.  Imported here,
    # not when the definitions load.
    from scipy.special import betaincinv

    low = 0.0 if rejections == 0 else float(betaincinv(rejections, n - rejections + 1, tail))
    high = 1.0 if rejections == n else float(betaincinv(rejections + 1, n - rejections, 1 - tail))
    return low, high


ALL = "all"
NOISE_BANDS = ("lowest third", "middle third", "highest third")


def noise_thresholds(studies: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """(design, outcome) -> the 1/3 and 2/3 quantiles of the placebo studies' pre-period noise (one value per
    study: an authority at a start year), which split them into NOISE_BANDS."""
    found = {}
    placebo = studies[studies["placebo"].astype(bool)] if "placebo" in studies else studies
    for (design, outcome), group in placebo.groupby(["design", "outcome"], sort=True):
        noise = group.drop_duplicates(["unit_code", "first_post_year"])["pre_period_noise"].dropna().to_numpy(float)
        if noise.size >= 3:
            found[(design, outcome)] = (float(np.quantile(noise, 1 / 3)), float(np.quantile(noise, 2 / 3)))
    return found


def noise_band(noise: float, thresholds: tuple[float, float] | None) -> str | None:
    """Which third of the placebo studies' pre-period noise ``noise`` falls in (upper bounds inclusive)."""
    if thresholds is None or noise is None or not np.isfinite(noise):
        return None
    return NOISE_BANDS[0] if noise <= thresholds[0] else NOISE_BANDS[1] if noise <= thresholds[1] else NOISE_BANDS[2]


def estimator_calibration(studies: pd.DataFrame, alphas: Sequence[float] = ALPHAS) -> pd.DataFrame:
    """marts.estimator_calibration from marts.calibration_studies (placebo rows only).

    One row per design, method, outcome, alpha, p-value kind the method publishes (a kind with no value in any
    of its studies is left out) and noise band: every placebo study ('all'), then each third of them by the
    treated authority's pre-period noise (sd of its year-to-year changes; bounds in noise_from, exclusive, and
    noise_to, inclusive). A placebo test ranks an authority among all others, so it rejects alpha of them on
    average by construction; by noise it shows for whom: it rejects noisy authorities more often and steady
    ones less.
    """
    placebo = studies[studies["placebo"].astype(bool)] if "placebo" in studies else studies
    thresholds = noise_thresholds(placebo)
    rows = []
    groups = list(placebo.groupby(["design", "method", "outcome"], sort=True))
    family = first_screen_family(placebo)
    groups += list(family.groupby(["design", "method", "outcome"], sort=True)) if len(family) else []
    for (design, method, outcome), group in groups:
        cuts = thresholds.get((design, outcome))
        bands = [(ALL, None, None, np.ones(len(group), bool))]
        if cuts is not None:
            noise = group["pre_period_noise"].to_numpy(float)
            bounds = [(None, cuts[0]), (cuts[0], cuts[1]), (cuts[1], None)]
            bands += [(name, low, high, ((noise > low) if low is not None else True)
                       & ((noise <= high) if high is not None else True))
                      for name, (low, high) in zip(NOISE_BANDS, bounds)]
        for kind, column in {**P_VALUE_COLUMNS, FIRST_SCREEN_KIND: FIRST_SCREEN_COLUMN}.items():
            if column not in group:
                continue
            values = pd.to_numeric(group[column], errors="coerce").to_numpy(dtype=float)
            if np.isnan(values).all():
                continue
            for band, low, high, members in bands:
                p = values[members & ~np.isnan(values)]
                if p.size == 0:
                    continue
                for alpha in alphas:
                    rejections = int((p <= alpha).sum())
                    ci_low, ci_high = binomial_interval(rejections, p.size)
                    rows.append({"design": design, "method": method, "outcome": outcome, "alpha": float(alpha),
                                 "p_value_kind": kind, "noise_band": band, "noise_from": low, "noise_to": high,
                                 "n_placebo_studies": int(p.size), "rejections": rejections,
                                 "rejection_rate": rejections / p.size, "rejection_rate_ci_low": ci_low,
                                 "rejection_rate_ci_high": ci_high, "calibrated": bool(ci_low <= alpha),
                                 "p_value_description": P_VALUE_DESCRIPTIONS[kind]})
    table = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    for column in ("n_placebo_studies", "rejections"):
        table[column] = table[column].astype("Int64")
    for column in ("noise_from", "noise_to"):
        table[column] = table[column].astype(float)
    return table


def first_screen_family(placebo: pd.DataFrame) -> pd.DataFrame:
    """One row per placebo study (design, authority, start year, outcome) in which every method of the report's
    first screen has its p-value: the pre-specified specification (ols_with_covariate where the design has a
    covariate, else ols; re-selected placebo p) and FIRST_SCREEN_METHODS (permutation p). Its
    FIRST_SCREEN_COLUMN is the smallest of them, so p <= alpha exactly when at least one method rejects."""
    key = ["design", "unit_code", "first_post_year", "outcome"]
    if placebo.empty:
        return pd.DataFrame(columns=[*key, "method", "pre_period_noise", FIRST_SCREEN_COLUMN])
    frames = []
    for design, rows in placebo.groupby("design", sort=True):
        main = OLS_WITH_COVARIATE if (rows["method"] == OLS_WITH_COVARIATE).any() else OLS
        members = [(main, P_VALUE_COLUMNS["reselected"])] + [(m, P_VALUE_COLUMNS["permutation"])
                                                              for m in FIRST_SCREEN_METHODS]
        wide = None
        for method, column in members:
            one = rows.loc[rows["method"] == method, [*key, "pre_period_noise", column]]
            one = one.rename(columns={column: method}).dropna(subset=[method])
            if wide is None:
                wide = one
            else:
                wide = wide.merge(one.drop(columns="pre_period_noise"), on=key, how="inner")
        p = wide[[m for m, _ in members]].apply(pd.to_numeric, errors="coerce")
        frames.append(wide[[*key, "pre_period_noise"]].assign(method=FIRST_SCREEN_FAMILY,
                                                               **{FIRST_SCREEN_COLUMN: p.min(axis=1)}))
    return pd.concat(frames, ignore_index=True)


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


def with_calibration(results: pd.DataFrame, calibration: pd.DataFrame | None, studies: Mapping[str, StudyEntry],
                     detectable: pd.DataFrame | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """did_results with calibration_p_value_kind, calibration_noise_band, inference_calibrated and
    calibrated_rejection_rate.

    A row takes the calibration of its study's design (`design.design_of`), method, outcome and headline p-value
    kind at ``alpha``, among placebo studies whose pre-period noise falls in the same third as the treated
    authority's at the study's start year (marts.detectable_effects' noise_band; all placebo studies when that is
    unknown).  NULL where nothing was measured: no calibration yet, another design, a method without a p-value,
    or the report's DiD of an outcome whose comparator the study fixes (the placebo study measures the ranking
    rule's design, not a hand-picked pair).
    """
    out = results.copy()
    n = len(out)
    kinds, bands = [], []
    flags, rates = pd.array([pd.NA] * n, dtype="boolean"), np.full(n, np.nan)
    lookup, band_of = {}, {}
    if calibration is not None and len(calibration):
        at = calibration[np.isclose(calibration["alpha"].astype(float), alpha)]
        lookup = {(r.design, r.method, r.outcome, r.p_value_kind, r.noise_band): (bool(r.calibrated),
                                                                                  float(r.rejection_rate))
                  for r in at.itertuples()}
    if detectable is not None and len(detectable):
        band_of = {(r.design, r.unit_code, int(r.first_post_year), r.outcome): r.noise_band
                   for r in detectable.itertuples() if isinstance(r.noise_band, str)}
    for k, (_, row) in enumerate(out.iterrows()):
        entry = studies.get(row["study_id"])
        main = main_method(entry.study) if entry is not None else None
        kind = headline_kind(row, main)
        kinds.append(kind)
        if entry is None or kind is None:
            bands.append(None)
            continue
        design = design_of(entry).label
        band = band_of.get((design, entry.study.treated_unit_code, entry.study.first_post_year, row["outcome"]), ALL)
        bands.append(band)
        if row["method"] in TWO_UNIT_METHODS and row["outcome"] in entry.study.comparators:
            continue
        found = lookup.get((design, row["method"], row["outcome"], kind, band))
        if found is not None:
            flags[k], rates[k] = found
    out["calibration_p_value_kind"] = pd.array(kinds, dtype="string")
    out["calibration_noise_band"] = pd.array(bands, dtype="string")
    out["inference_calibrated"] = flags
    out["calibrated_rejection_rate"] = rates
    return out
