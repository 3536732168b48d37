"""Strand 1 end to end: every registered estimator over every outcome of a study.

Each outcome is prepared once (`prepared.prepare_outcome`, sharing one
`PreparedPanel` between outcomes), its comparator chosen once
(`estimators.select_comparator`), and every estimator of
`estimators.ESTIMATORS` adds its rows.  The result maps each mart name to
its table, stacked over outcomes in the study's order.

did_results puts every estimate of an outcome side by side, one row per
method: the 2x2 difference of means, OLS without and with the covariate,
and the synthetic control (estimate = mean post-period gap). The
specification the report relies on carries the placebo-in-space
permutation p-value beside its OLS p-values; the synthetic control row
carries its placebo RMSPE-ratio p-value and the post-RMSPE p-value among
placebos with a comparable pre-period fit (see `synthetic_control`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from .contract import DID_RESULTS_COLUMNS, RESULTS, Estimator
from .estimators import ESTIMATORS, mart_names, select_comparator
from .prepared import PreparedPanel, prepare_outcome
from .study import Study

_COUNT_COLUMNS = ("n_obs", "df_resid", "n_placebos", "n_comparable_placebos")


def evaluate_study(
    panel: pd.DataFrame,
    study: Study,
    neighbours: pd.DataFrame | None = None,
    deprivation: pd.DataFrame | None = None,
    estimators: tuple[Estimator, ...] = ESTIMATORS,
    exclusions: Mapping[str, str] | None = None,
    neighbours_by_unit: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Mart name -> table for `study`; fails if an outcome has no eligible comparator.

    did_results has DID_RESULTS_COLUMNS (see `contract`); the other tables
    are those of the functions that make them, stacked over outcomes.
    """
    shared = PreparedPanel(panel)
    return stack_outcomes([evaluate_outcome(shared, study, outcome, neighbours, deprivation, estimators, exclusions,
                                            neighbours_by_unit)
                           for outcome in study.outcomes], estimators)


def evaluate_outcome(
    panel: pd.DataFrame | PreparedPanel,
    study: Study,
    outcome: str,
    neighbours: pd.DataFrame | None = None,
    deprivation: pd.DataFrame | None = None,
    estimators: tuple[Estimator, ...] = ESTIMATORS,
    exclusions: Mapping[str, str] | None = None,
    neighbours_by_unit: pd.DataFrame | None = None,
) -> dict[str, list[pd.DataFrame]]:
    """One outcome of `study`: mart name -> the frames each estimator adds (see `stack_outcomes`).

    Outcomes do not depend on each other, so a caller may evaluate them in
    any order or in separate processes and stack them in the study's order.
    """
    shared = panel if isinstance(panel, PreparedPanel) else PreparedPanel(panel)
    prepared = prepare_outcome(shared, study, outcome, neighbours, deprivation, exclusions, neighbours_by_unit)
    selection = select_comparator(prepared)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in mart_names(estimators)}
    for estimator in estimators:
        for mart, frame in estimator.estimate(prepared, selection).items():
            parts[mart].append(frame)
    return parts


def stack_outcomes(outcomes: Sequence[Mapping[str, list[pd.DataFrame]]],
                   estimators: tuple[Estimator, ...] = ESTIMATORS) -> dict[str, pd.DataFrame]:
    """The marts of a study from its outcomes' `evaluate_outcome` parts, in the order given."""
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in mart_names(estimators)}
    for outcome in outcomes:
        for name, frames in outcome.items():
            parts[name] += frames
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items() if name != RESULTS}
    if RESULTS in parts:
        records = [row for frame in parts[RESULTS] for row in frame.to_dict("records")]
        results = pd.DataFrame(records, columns=DID_RESULTS_COLUMNS)
        for column in _COUNT_COLUMNS:
            results[column] = results[column].astype("Int64")
        tables[RESULTS] = results
    return tables
