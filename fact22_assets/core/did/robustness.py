"""How much the report's DiD depends on which comparator the rule picked.

With five noisy pre-years and about 130 candidates, "the most parallel
comparator" is partly chance. An evaluator defends an effect by showing it
is not an artefact of that pick:

- the specification curve: the report's specification (OLS with the
  covariate when the study has one) against EVERY eligible comparator, with
  its rank and component scores from the ranking;
- a summary per outcome: median, interquartile range, range, the share of
  estimates of each sign, and where the chosen comparator's estimate sits
  (its percentile among all);
- the pick's stability: the rule re-run with each pre-period year left out,
  the comparator it then picks and that comparator's estimate on the full
  design.

All fits are one vectorised call (`closed_form.pair_did`): swapping which
unit of a pair is "treated" spans the same regressors, so the treated unit's
estimate against each candidate is minus the candidate's against the
treated unit, with the same standard error.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import replace

import numpy as np
import pandas as pd

from ..presentation import year_label
from .closed_form import pair_did
from .contract import Selection
from .prepared import PreparedOutcome, PreparedPanel, prepare_outcome
from .selection_placebo import rank_all_pairs
from .study import MIN_PRE_YEARS

SCORE_COLUMNS = ["rank", "passes_pretrend", "pct_trend", "pct_level", "demography_score", "composite_score"]


def estimates_against_every_comparator(prepared: PreparedOutcome, comparators: list[str]) -> pd.DataFrame:
    """The report's specification of the treated unit against each of ``comparators``.

    Columns: unit_code, estimate, se_classical, p_classical, covariate_coefficient.
    """
    study = prepared.study
    years = list(study.study_years)
    post = np.isin(years, study.post_years)
    treated = [study.treated_unit_code]
    y = prepared.values(prepared.outcome, comparators, years)
    control_y = prepared.values(prepared.outcome, treated, years)[0]
    if study.covariate:
        x = prepared.values(study.covariate, comparators, years)
        control_x = prepared.values(study.covariate, treated, years)[0]
        fits = pair_did(y, control_y, post, x, control_x)
    else:
        fits = pair_did(y, control_y, post)
    slope = fits.covariate_coefficient
    return pd.DataFrame({
        "unit_code": comparators,
        "estimate": -fits.estimate,
        "se_classical": fits.se,
        "p_classical": fits.p,
        "covariate_coefficient": np.nan if slope is None else slope,
    })


def specification_curve(prepared: PreparedOutcome, selection: Selection) -> pd.DataFrame:
    """One row per eligible comparator, ordered by estimate (the curve)."""
    candidates = list(prepared.candidates)
    table = estimates_against_every_comparator(prepared, candidates)
    scores = selection.ranking.set_index("unit_code").reindex(candidates)
    table.insert(1, "unit_name", scores["unit_name"].to_numpy())
    for column in SCORE_COLUMNS:
        table[column] = scores[column].to_numpy()
    table["selected"] = table["unit_code"] == selection.comparator
    table = table.sort_values(["estimate", "unit_code"], ignore_index=True)
    table.insert(0, "curve_position", np.arange(1, len(table) + 1))
    return _ids(prepared, table)


def summarise(curve: pd.DataFrame, prepared: PreparedOutcome, selection: Selection) -> pd.DataFrame:
    """Where the chosen estimate sits among the estimates against every comparator."""
    estimates = curve["estimate"].to_numpy(dtype=float)
    chosen = curve.loc[curve["selected"], "estimate"]
    chosen_value = float(chosen.iloc[0]) if len(chosen) else np.nan
    top = curve.sort_values("rank").head(10)["estimate"]
    row = {
        "comparator_code": selection.comparator,
        "chosen_estimate": chosen_value,
        "n_comparators": int(estimates.size),
        "median": float(np.median(estimates)),
        "q25": float(np.quantile(estimates, 0.25)),
        "q75": float(np.quantile(estimates, 0.75)),
        "minimum": float(estimates.min()),
        "maximum": float(estimates.max()),
        "share_negative": float((estimates < 0).mean()),
        "share_positive": float((estimates > 0).mean()),
        # Mid-rank percentile: ties count half, so the median comparator sits at 0.5.
        "chosen_percentile": float(((estimates < chosen_value).sum() + 0.5 * (estimates == chosen_value).sum())
                                   / estimates.size),
        "top10_minimum": float(top.min()),
        "top10_maximum": float(top.max()),
        "top10_share_negative": float((top < 0).mean()),
    }
    return _ids(prepared, pd.DataFrame([row]))


def leave_one_pre_year_out(prepared: PreparedOutcome, selection: Selection) -> pd.DataFrame:
    """The rule re-run without each pre-period year: its pick and that pick's estimate on the full design."""
    study = prepared.study
    if len(study.pre_years) - 1 < MIN_PRE_YEARS:
        return _ids(prepared, pd.DataFrame(columns=["left_out_year", "left_out_year_label", "comparator_code",
                                                     "comparator_name", "same_as_full", "estimate"]))
    full = estimates_against_every_comparator(prepared, list(prepared.candidates)).set_index("unit_code")
    rows = []
    for year, pick in zip(study.pre_years, _rule_picks_without_each_pre_year(prepared)):
        rows.append({
            "left_out_year": year,
            "left_out_year_label": year_label(year),
            "comparator_code": pick,
            "comparator_name": prepared.panel.names.get(pick),
            "same_as_full": pick == selection.comparator,
            # A pick outside the full design's pool (a unit eligible only without that year) has no estimate.
            "estimate": float(full["estimate"].get(pick, np.nan)),
        })
    return _ids(prepared, pd.DataFrame(rows))


# The rule's picks read the panel, the design (not its name nor the comparators it fixes), the outcome, the
# neighbours, deprivation and exclusions: studies that differ only in name or fixed comparators share them.
_PICKS: OrderedDict[tuple, tuple[PreparedPanel, list[str]]] = OrderedDict()
_PICKS_SIZE = 64


def _rule_picks_without_each_pre_year(prepared: PreparedOutcome) -> list[str]:
    study = prepared.study
    key = (id(prepared.panel), repr(replace(study, study_id="-", comparators={})), prepared.outcome,
           _frame_digest(prepared.neighbours), _frame_digest(prepared.deprivation),
           tuple(sorted(prepared.exclusions.items())))
    cached = _PICKS.get(key)
    if cached is not None and cached[0] is prepared.panel:  # the same panel object, not a reused id
        return cached[1]
    picks = []
    for year in study.pre_years:
        shorter = replace(study, pre_years=tuple(y for y in study.pre_years if y != year))
        again = prepare_outcome(prepared.panel, shorter, prepared.outcome, prepared.neighbours, prepared.deprivation,
                                prepared.exclusions)
        # The rule vectorised (selection_placebo.rank_all_pairs: the same pick as rank_comparators, tested
        # so), for the treated unit alone: only the pick is needed here, not the ranking's table.
        pick = rank_all_pairs(again, [study.treated_unit_code], again.candidates)["comparator_code"].iloc[0]
        if pick is None:
            raise ValueError(f"no eligible comparator for {prepared.outcome} without {year}")
        picks.append(pick)
    _PICKS[key] = (prepared.panel, picks)
    while len(_PICKS) > _PICKS_SIZE:
        _PICKS.popitem(last=False)
    return picks


def _frame_digest(frame: pd.DataFrame | None) -> str | None:
    if frame is None:
        return None
    digest = hashlib.sha256(repr((list(frame.columns), list(frame.dtypes.astype(str)))).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _ids(prepared: PreparedOutcome, table: pd.DataFrame) -> pd.DataFrame:
    table.insert(0, "study_id", prepared.study.study_id)
    table.insert(1, "outcome", prepared.outcome)
    return table


class ComparatorRobustness:
    name = "comparator_robustness"
    marts = ("did_comparator_robustness", "did_comparator_robustness_summary", "did_comparator_stability")
    methods: dict[str, str] = {}
    cross_check = ("tests/core/did/test_did_robustness.py: each estimate equals did_estimates against that "
                   "comparator, and a hand-worked summary")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        curve = specification_curve(prepared, selection)
        return {
            "did_comparator_robustness": curve,
            "did_comparator_robustness_summary": summarise(curve, prepared, selection),
            "did_comparator_stability": leave_one_pre_year_out(prepared, selection),
        }
