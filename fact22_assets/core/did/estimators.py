"""The registry of strand-1 estimators, and the ones the report's design needs.

`ESTIMATORS` lists every estimator (see `contract` for what one is) in the
order their rows appear.  The Dagster assets, the marts list, the data
dictionary's and publication's dependencies and the report's method labels
are all derived from it: a new estimator is one module plus one line here.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .contract import RESULTS, Estimator, Selection, results_rows
from .estimation import DIFFERENCE_OF_MEANS, OLS, OLS_WITH_COVARIATE, did_estimates, main_method
from .event_study import event_study
from .placebo import placebo_in_space, placebo_in_time
from .prepared import PreparedOutcome
from .ranking import rank_comparators, selected_comparator
from .robustness import ComparatorRobustness
from .selection_placebo import MART_DESCRIPTIONS as RESELECTION_MARTS
from .selection_placebo import SelectionAwarePlacebo
from .synthetic_control import synthetic_control
from .twfe import TwoWayFixedEffects
from .whole_pool import PenalisedSyntheticControlEstimator, SyntheticControlIdentificationEstimator, SyntheticDidEstimator

SYNTHETIC_CONTROL = "synthetic_control"
PLACEBO_SPACE_INFERENCE = "placebo-in-space: |estimate| of each eligible unit vs the comparator"
SYNTHETIC_CONTROL_INFERENCE = "placebo synthetic controls: post/pre RMSPE ratio of each donor"

# What each mart holds (the asset descriptions in Dagster and the data dictionary's fallback).
MART_DESCRIPTIONS = {
    "comparator_ranking": "Every candidate authority per study, vintage and outcome with eligibility (and why not), "
                          "pre-trend test, level and demographic similarity, component percentiles, composite score "
                          "and rank; `selected` marks the comparator.",
    RESULTS: "Per study, vintage and outcome: the 2x2 difference of means, the report's OLS with and without the "
             "CIN covariate (classical and HC1 errors, t, p, 95% CI, n) with the placebo-in-space permutation "
             "p-value, and the synthetic-control estimate (mean post-period gap) with its placebo p-values.",
    "did_placebo_space": "The estimator with every eligible authority as pseudo-treated against the comparator.",
    "did_placebo_time": "Fake start years inside the pre-period (pre-period data only).",
    "did_event_study": "One coefficient per year relative to the last pre-period year, with placebo-based intervals.",
    "synthetic_control_weights": "Synthetic-control donor weights per study, vintage and outcome.",
    "synthetic_control_paths": "Treated and synthetic yearly paths and their gap.",
    "synthetic_control_placebos": "Placebo synthetic controls behind the synthetic-control p-values.",
    "synthetic_did_weights": "Synthetic DiD unit weights (kind 'unit': donor, weight) and time weights (kind 'time': "
                             "pre-period year, weight) per study, vintage and outcome.",
    "penalised_synthetic_control_weights": "Penalised synthetic control (Abadie and L'Hour 2021) donor weights, with "
                                           "the penalty lambda and how it was chosen.",
    "synthetic_control_identification": "Whether the plain synthetic control is identified: is the treated authority "
                                        "inside the donors' convex hull, and the lowest and highest mean post-period "
                                        "gap over every weighting with the best pre-period fit.",
    **RESELECTION_MARTS,
    "did_comparator_robustness": "The specification curve: the report's DiD (OLS with the covariate) against every "
                                 "eligible comparator, with its rank and component scores, ordered by estimate.",
    "did_comparator_robustness_summary": "Per study, vintage and outcome: median, interquartile range and range of "
                                         "the estimates against every eligible comparator, the share of each sign, "
                                         "and where the chosen comparator's estimate sits.",
    "did_comparator_stability": "The comparator rule re-run with each pre-period year left out: the comparator it "
                                "then picks and that comparator's estimate on the full design.",
}


RULE, FIXED = "ranking rule", "fixed by the study"


def select_comparator(prepared: PreparedOutcome) -> Selection:
    """The ranking rule's pick, or the comparator the study fixes for this outcome
    (reproducing a published evaluation); the ranking is kept either way, so the
    fixed comparator's rank and scores show beside the rule's choice."""
    ranking = rank_comparators(prepared)
    fixed = prepared.study.comparators.get(prepared.outcome)
    if fixed is None:
        return Selection(ranking=ranking.assign(selection_rule=RULE), comparator=selected_comparator(ranking))
    row = prepared.eligibility[prepared.eligibility["unit_code"] == fixed]
    if row.empty or not row["eligible"].iloc[0]:
        why = "it is not in the panel" if row.empty else row["reason"].iloc[0]
        raise ValueError(f"study {prepared.study.study_id} fixes comparator {fixed} for {prepared.outcome}, "
                         f"but {why}")
    return Selection(ranking=ranking.assign(selected=ranking["unit_code"] == fixed, selection_rule=FIXED),
                     comparator=fixed)


class ComparatorRanking:
    name = "comparator_ranking"
    marts = ("comparator_ranking",)
    methods: Mapping[str, str] = {}
    cross_check = ("blocking check one_valid_comparator; tests/core/did/test_did_ranking.py ranks a hand-built "
                   "panel whose order is worked out by hand")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        return {"comparator_ranking": selection.ranking}


class TwoUnitDid:
    """The report's specification against the selected comparator, with its inference."""

    name = "two_unit_did"
    marts = (RESULTS, "did_placebo_space", "did_placebo_time", "did_event_study")
    methods = {
        DIFFERENCE_OF_MEANS: "2x2 difference of means",
        OLS: "OLS, no covariate",
        OLS_WITH_COVARIATE: "OLS with CIN covariate (report's specification)",
    }
    cross_check = ("blocking check did_two_by_two_recomputes (2x2 from marts.cin_rates_vintages); "
                   "tests/core/did/test_did_estimation.py against statsmodels OLS and a hand-worked 2x2")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        study, comparator = prepared.study, selection.comparator
        placebos = placebo_in_space(prepared, comparator)
        rows = did_estimates(prepared, comparator).to_dict("records")
        for row in rows:
            if row["method"] == main_method(study):
                row |= {
                    "permutation_p_value": placebos.p_value,
                    "n_placebos": placebos.n_placebos,
                    "permutation_inference": PLACEBO_SPACE_INFERENCE,
                }
        events = [event_study(prepared, comparator)]
        if study.covariate:
            events.append(event_study(prepared, comparator, include_covariate=True))
        return {
            RESULTS: results_rows(rows),
            "did_placebo_space": placebos.table,
            "did_placebo_time": placebo_in_time(prepared, comparator),
            "did_event_study": pd.concat(events, ignore_index=True),
        }


class SyntheticControlEstimator:
    name = SYNTHETIC_CONTROL
    marts = (RESULTS, "synthetic_control_weights", "synthetic_control_paths", "synthetic_control_placebos")
    methods = {SYNTHETIC_CONTROL: "Synthetic control (mean post-period gap)"}
    cross_check = ("tests/core/did/test_did_synthetic_control.py: an exact synthetic match recovered, a planted "
                   "effect found, weights on the simplex")

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]:
        study, fit = prepared.study, synthetic_control(prepared)
        row = {
            "study_id": study.study_id,
            "outcome": prepared.outcome,
            "treated_unit_code": study.treated_unit_code,
            "method": SYNTHETIC_CONTROL,
            "first_post_year": study.first_post_year,
            "estimate": fit.mean_post_gap,
            "permutation_p_value": fit.p_value,
            "n_placebos": fit.n_placebos,
            "permutation_inference": SYNTHETIC_CONTROL_INFERENCE,
            "pre_rmspe": fit.pre_rmspe,
            "post_rmspe": fit.post_rmspe,
            "rmspe_ratio": fit.rmspe_ratio,
            "post_rmspe_p_value": fit.post_rmspe_p_value,
            "n_comparable_placebos": fit.n_comparable_placebos,
        }
        return {
            RESULTS: results_rows([row]),
            "synthetic_control_weights": fit.weights,
            "synthetic_control_paths": fit.path,
            "synthetic_control_placebos": fit.placebos,
        }


ESTIMATORS: tuple[Estimator, ...] = (
    ComparatorRanking(), TwoUnitDid(), SelectionAwarePlacebo(), SyntheticControlEstimator(), TwoWayFixedEffects(),
    SyntheticDidEstimator(), PenalisedSyntheticControlEstimator(), SyntheticControlIdentificationEstimator(),
    ComparatorRobustness(),
)


def mart_names(estimators: tuple[Estimator, ...] = ESTIMATORS) -> list[str]:
    """Every mart the estimators write, each once, in registry order."""
    names: list[str] = []
    for estimator in estimators:
        names += [m for m in estimator.marts if m not in names]
    return names


def method_labels(estimators: tuple[Estimator, ...] = ESTIMATORS) -> dict[str, str]:
    return {method: label for estimator in estimators for method, label in estimator.methods.items()}
