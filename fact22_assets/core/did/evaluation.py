"""Strand 1 end to end: comparator choice, estimates and inference for every outcome.

One call gives every table the warehouse publishes for a study, each stacked
over the study's outcomes; the attribute names match the mart tables
(marts.comparator_ranking, marts.did_results, ...).

did_results puts every estimate of an outcome side by side, one row per
method: the 2x2 difference of means, OLS without and with the covariate,
and the synthetic control (estimate = mean post-period gap). The
specification the report relies on carries the placebo-in-space
permutation p-value beside its OLS p-values; the synthetic control row
carries its placebo RMSPE-ratio p-value and the post-RMSPE p-value among
placebos with a comparable pre-period fit (see `synthetic_control`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .estimation import DID_COLUMNS, did_estimates, main_method
from .event_study import event_study
from .placebo import PlaceboInSpace, placebo_in_space, placebo_in_time
from .ranking import rank_comparators, selected_comparator
from .study import Study
from .synthetic_control import SyntheticControl, synthetic_control

SYNTHETIC_CONTROL = "synthetic_control"
PLACEBO_SPACE_INFERENCE = "placebo-in-space: |estimate| of each eligible unit vs the comparator"
SYNTHETIC_CONTROL_INFERENCE = "placebo synthetic controls: post/pre RMSPE ratio of each donor"
DID_RESULTS_COLUMNS = [
    *DID_COLUMNS,
    "permutation_p_value",
    "n_placebos",
    "permutation_inference",
    "pre_rmspe",
    "post_rmspe",
    "rmspe_ratio",
    "post_rmspe_p_value",
    "n_comparable_placebos",
]


@dataclass(frozen=True)
class StudyResults:
    """The strand-1 tables of one study, named as the marts that hold them."""

    comparator_ranking: pd.DataFrame
    did_results: pd.DataFrame
    did_placebo_space: pd.DataFrame
    did_placebo_time: pd.DataFrame
    did_event_study: pd.DataFrame
    synthetic_control_weights: pd.DataFrame
    synthetic_control_paths: pd.DataFrame
    synthetic_control_placebos: pd.DataFrame


def evaluate_study(
    panel: pd.DataFrame,
    study: Study,
    neighbours: pd.DataFrame | None = None,
    deprivation: pd.DataFrame | None = None,
) -> StudyResults:
    """Every strand-1 table for `study`; fails if an outcome has no eligible comparator.

    did_results has DID_RESULTS_COLUMNS: the `estimation.did_estimates`
    columns plus permutation_p_value, n_placebos, permutation_inference,
    and, for the synthetic control row only, pre_rmspe, post_rmspe,
    rmspe_ratio, post_rmspe_p_value, n_comparable_placebos. The other
    tables are those of the functions that make them, stacked over outcomes.
    """
    rankings, did_rows, space, time, events = [], [], [], [], []
    weights, paths, synthetic_placebos = [], [], []
    for outcome in study.outcomes:
        ranking = rank_comparators(panel, study, outcome, neighbours, deprivation)
        comparator = selected_comparator(ranking)
        placebos = placebo_in_space(panel, study, outcome, comparator)
        synthetic = synthetic_control(panel, study, outcome)
        estimates = did_estimates(panel, study, outcome, comparator)

        rankings.append(ranking)
        did_rows += _did_rows(study, outcome, estimates, placebos, synthetic)
        space.append(placebos.table)
        time.append(placebo_in_time(panel, study, outcome, comparator))
        events.append(event_study(panel, study, outcome, comparator))
        if study.covariate:
            events.append(event_study(panel, study, outcome, comparator, include_covariate=True))
        weights.append(synthetic.weights)
        paths.append(synthetic.path)
        synthetic_placebos.append(synthetic.placebos)

    did_results = pd.DataFrame(did_rows, columns=DID_RESULTS_COLUMNS)
    for column in ("n_obs", "df_resid", "n_placebos", "n_comparable_placebos"):
        did_results[column] = did_results[column].astype("Int64")
    return StudyResults(
        comparator_ranking=_stack(rankings),
        did_results=did_results,
        did_placebo_space=_stack(space),
        did_placebo_time=_stack(time),
        did_event_study=_stack(events),
        synthetic_control_weights=_stack(weights),
        synthetic_control_paths=_stack(paths),
        synthetic_control_placebos=_stack(synthetic_placebos),
    )


def _did_rows(
    study: Study,
    outcome: str,
    estimates: pd.DataFrame,
    placebos: PlaceboInSpace,
    synthetic: SyntheticControl,
) -> list[dict]:
    rows = estimates.to_dict("records")
    for row in rows:
        if row["method"] == main_method(study):
            row |= {
                "permutation_p_value": placebos.p_value,
                "n_placebos": placebos.n_placebos,
                "permutation_inference": PLACEBO_SPACE_INFERENCE,
            }
    rows.append(
        {
            "study_id": study.study_id,
            "outcome": outcome,
            "treated_unit_code": study.treated_unit_code,
            "method": SYNTHETIC_CONTROL,
            "first_post_year": study.first_post_year,
            "estimate": synthetic.mean_post_gap,
            "permutation_p_value": synthetic.p_value,
            "n_placebos": synthetic.n_placebos,
            "permutation_inference": SYNTHETIC_CONTROL_INFERENCE,
            "pre_rmspe": synthetic.pre_rmspe,
            "post_rmspe": synthetic.post_rmspe,
            "rmspe_ratio": synthetic.rmspe_ratio,
            "post_rmspe_p_value": synthetic.post_rmspe_p_value,
            "n_comparable_placebos": synthetic.n_comparable_placebos,
        }
    )
    return rows


def _stack(tables: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(tables, ignore_index=True)
