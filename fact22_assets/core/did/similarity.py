"""How close each candidate is to the treated unit in level and in demography.

Every measure is a distance: 0 means identical to the treated unit, larger
means less alike. Pre-period values are averaged over the study's pre years,
ignoring gaps, because demography is context, not an estimator input.

Demographic distances:
- population_ratio_distance: |ln(candidate population / treated population)|,
  symmetric, so half and double the size are equally far;
- cin_rate_distance: |difference| in children in need per 10,000 children;
- statistical_neighbour_rank: the candidate's rank (1 = closest) in the
  DfE statistical neighbour list of the treated unit; NaN if not listed;
- deprivation_distance: |difference| in IMD average score.
A measure is entirely NaN when its input is not supplied or the treated
unit's own value is missing; `ranking` then leaves it out of the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .prepared import PreparedOutcome

POPULATION = "population_all_ages"
CIN_RATE = "cin_per_10k_children"


def level_similarity(prepared: PreparedOutcome, candidate_codes: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: unit_code, pre_mean, level_difference (candidate
    minus treated pre-period mean), abs_level_difference, relative_level_difference
    (absolute difference over the treated unit's pre-period mean)."""
    years = list(prepared.study.pre_years)
    treated_mean = prepared.values(prepared.outcome, [prepared.treated], years).mean()
    pre_mean = prepared.values(prepared.outcome, candidate_codes, years).mean(axis=1)
    difference = pre_mean - treated_mean
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(difference) / abs(treated_mean)
    return pd.DataFrame(
        {
            "unit_code": list(candidate_codes),
            "pre_mean": pre_mean,
            "level_difference": difference,
            "abs_level_difference": np.abs(difference),
            "relative_level_difference": relative,
        }
    )


def demographic_similarity(prepared: PreparedOutcome, candidate_codes: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: unit_code, population_ratio_distance,
    cin_rate_distance, statistical_neighbour_rank, deprivation_distance.

    The prepared outcome's neighbours: the treated unit's DfE statistical
    neighbours, columns unit_code and neighbour_rank (1..10); its
    deprivation: unit_code and imd_average_score. Either may be None.
    """
    codes = list(candidate_codes)
    study, neighbours, deprivation = prepared.study, prepared.neighbours, prepared.deprivation
    treated_population, population = _pre_means(prepared, POPULATION, codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        population_distance = np.abs(np.log(population / treated_population))
    treated_cin_rate, cin_rate = _pre_means(prepared, CIN_RATE, codes)

    return pd.DataFrame(
        {
            "unit_code": codes,
            "population_ratio_distance": population_distance,
            "cin_rate_distance": np.abs(cin_rate - treated_cin_rate),
            "statistical_neighbour_rank": _neighbour_ranks(neighbours, codes),
            "deprivation_distance": _deprivation_distances(deprivation, study, codes),
        }
    )


def _pre_means(prepared: PreparedOutcome, column: str, codes: list[str]) -> tuple[float, np.ndarray]:
    if column not in prepared.panel.frame.columns:
        return np.nan, np.full(len(codes), np.nan)
    values = prepared.panel.matrix(column, [prepared.treated, *codes], list(prepared.study.pre_years))
    # Rows with no value at all stay NaN without a warning: NaN is the answer there.
    counts = (~np.isnan(values)).sum(axis=1)
    means = np.where(counts > 0, np.nansum(values, axis=1) / np.maximum(counts, 1), np.nan)
    return means[0], means[1:]


def _neighbour_ranks(neighbours: pd.DataFrame | None, codes: list[str]) -> np.ndarray:
    if neighbours is None:
        return np.full(len(codes), np.nan)
    _require(neighbours, ["unit_code", "neighbour_rank"], "statistical neighbours")
    ranks = neighbours.set_index("unit_code")["neighbour_rank"]
    return ranks.reindex(codes).to_numpy(dtype=float)


def _deprivation_distances(deprivation: pd.DataFrame | None, study, codes: list[str]) -> np.ndarray:
    if deprivation is None:
        return np.full(len(codes), np.nan)
    _require(deprivation, ["unit_code", "imd_average_score"], "deprivation")
    scores = deprivation.set_index("unit_code")["imd_average_score"]
    treated = scores.get(study.treated_unit_code, np.nan)
    return np.abs(scores.reindex(codes).to_numpy(dtype=float) - float(treated))


def _require(table: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} table lacks column(s) {missing}; it has {list(table.columns)}")
    repeated = table.loc[table["unit_code"].duplicated(), "unit_code"]
    if not repeated.empty:
        raise ValueError(f"{what} table lists unit(s) more than once: {sorted(set(repeated))}")
