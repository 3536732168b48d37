"""Choosing one comparator authority per outcome, by a fixed, documented rule.

The report chose, for each outcome, the authority whose pre-period trend was
closest to parallel with the treated unit's and which was similar in the
level of the outcome and in demography. This module makes that choice
deterministic and shows its workings:

1. Candidates are the units `eligibility` accepts for the outcome.
2. Pre-trend gate: a candidate passes when the pre-period differential
   slope test (`pretrends`) has p >= `pretrend_alpha` (default 0.10).
   Failing candidates -- including any whose p cannot be computed -- are
   not dropped but ranked after every passing one.
3. Component scores, each a percentile rank in (0, 1] among all eligible
   candidates, lower meaning more alike; ties share their average rank and
   a missing value ranks after every observed one:
   - trend: the mean of the percentile ranks of |differential slope| and of
     `pre_gap_rmse` (how far the yearly gap strays from a straight line), so
     that "closest to parallel" means a flat gap *and* a steady one: a
     volatile candidate cannot win on a flat but noisy slope;
   - level: |difference in pre-period means|;
   - demography: the mean percentile rank of the available demographic
     distances (`similarity`: population ratio, CIN rate, statistical
     neighbour rank -- non-neighbours tie behind the listed ten --, and
     deprivation). A distance that is NaN for every candidate (input not
     supplied, or the treated unit's own value missing) is left out; with
     none left, the demography score is NaN.
4. composite_score = the weighted mean of the available scores, weights
   `weight_trend`, `weight_level`, `weight_demography` (default 0.5, 0.3,
   0.2), divided by the sum of the weights used.
5. Order: passing the gate first, then composite_score ascending, then
   unit_code ascending, so ties never depend on row order. Rank 1 is the
   comparator; if no candidate passes the gate, rank 1 still goes to the
   best of them, and passes_pretrend = False says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .eligibility import require_treated_complete
from .prepared import PreparedOutcome
from .pretrends import pretrend_tests
from .similarity import demographic_similarity, level_similarity

DEMOGRAPHIC_DISTANCES = {
    "population_ratio_distance": "pct_population",
    "cin_rate_distance": "pct_cin_rate",
    "statistical_neighbour_rank": "pct_statistical_neighbour",
    "deprivation_distance": "pct_deprivation",
}


def rank_comparators(prepared: PreparedOutcome) -> pd.DataFrame:
    """Every non-treated unit with its component scores and final rank.

    Columns: study_id, outcome, unit_code, unit_name, eligible, ineligible_reason,
    pre_mean, level_difference, abs_level_difference, relative_level_difference,
    differential_slope, differential_slope_se, differential_slope_t,
    differential_slope_df, differential_slope_p, passes_pretrend,
    population_ratio_distance, cin_rate_distance, statistical_neighbour_rank,
    deprivation_distance, pct_trend, pct_level, pct_population, pct_cin_rate,
    pct_statistical_neighbour, pct_deprivation, demography_score,
    composite_score, rank (1 = comparator; NA when ineligible), selected.
    Rows are in rank order, ineligible units last by unit_code.
    """
    study, units = prepared.study, prepared.eligibility
    require_treated_complete(units, study)
    candidates = list(prepared.candidates)

    demography = demographic_similarity(prepared, candidates)
    scores = (
        level_similarity(prepared, candidates)
        .merge(pretrend_tests(prepared, candidates), on="unit_code")
        .merge(demography, on="unit_code")
    )
    scores["passes_pretrend"] = scores["differential_slope_p"] >= study.ranking.pretrend_alpha
    scores["pct_slope"] = _percentile(scores["differential_slope"].abs())
    # Rounding first makes gaps that differ only by floating-point error tie.
    scores["pct_gap_noise"] = _percentile(scores["pre_gap_rmse"].round(9))
    scores["pct_trend"] = (scores["pct_slope"] + scores["pct_gap_noise"]) / 2
    scores["pct_level"] = _percentile(scores["abs_level_difference"])
    for distance, pct in DEMOGRAPHIC_DISTANCES.items():
        available = scores[distance].notna().any()
        scores[pct] = _percentile(scores[distance]) if available else np.nan
    scores["demography_score"] = scores[list(DEMOGRAPHIC_DISTANCES.values())].mean(axis=1)
    scores["composite_score"] = _weighted_mean(
        scores[["pct_trend", "pct_level", "demography_score"]], study.ranking.weights.values()
    )

    scores = scores.sort_values(
        ["passes_pretrend", "composite_score", "unit_code"], ascending=[False, True, True]
    )
    scores["rank"] = pd.array(np.arange(1, len(scores) + 1), dtype="Int64")
    scores["selected"] = scores["rank"] == 1

    others = units[units["unit_code"] != study.treated_unit_code]
    table = others.rename(columns={"reason": "ineligible_reason"}).merge(
        scores, on="unit_code", how="left"
    )
    table["selected"] = table["selected"].eq(True)
    table["passes_pretrend"] = table["passes_pretrend"].astype("boolean")
    table["differential_slope_df"] = table["differential_slope_df"].astype("Int64")
    table = table.sort_values(["rank", "unit_code"], na_position="last").reset_index(drop=True)
    return table[_COLUMNS]


def selected_comparator(ranking: pd.DataFrame) -> str:
    """The unit code ranked first; fails when no unit was eligible."""
    chosen = ranking.loc[ranking["selected"], "unit_code"]
    if chosen.empty:
        outcome = ranking["outcome"].iloc[0] if len(ranking) else "this outcome"
        raise ValueError(f"no eligible comparator for {outcome}: see ineligible_reason")
    return chosen.iloc[0]


def _percentile(distance: pd.Series) -> pd.Series:
    return distance.rank(method="average", na_option="bottom", pct=True)


def _weighted_mean(scores: pd.DataFrame, weights) -> pd.Series:
    weights = np.array(list(weights), dtype=float)
    values = scores.to_numpy(dtype=float)
    used = np.where(np.isnan(values), 0.0, weights)
    # A row whose only available scores carry zero weight has no composite: NaN.
    with np.errstate(divide="ignore", invalid="ignore"):
        composite = np.nansum(values * used, axis=1) / used.sum(axis=1)
    return pd.Series(composite, index=scores.index)


_COLUMNS = [
    "study_id",
    "outcome",
    "unit_code",
    "unit_name",
    "eligible",
    "ineligible_reason",
    "pre_mean",
    "level_difference",
    "abs_level_difference",
    "relative_level_difference",
    "differential_slope",
    "differential_slope_se",
    "differential_slope_t",
    "differential_slope_df",
    "differential_slope_p",
    "pre_gap_rmse",
    "passes_pretrend",
    "population_ratio_distance",
    "cin_rate_distance",
    "statistical_neighbour_rank",
    "deprivation_distance",
    "pct_slope",
    "pct_gap_noise",
    "pct_trend",
    "pct_level",
    *DEMOGRAPHIC_DISTANCES.values(),
    "demography_score",
    "composite_score",
    "rank",
    "selected",
]
