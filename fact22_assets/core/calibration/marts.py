"""The calibration marts' rows, from the national placebo study's files (see `files`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .files import staleness
from .placebo_studies import P_VALUE_COLUMNS
from .rates import noise_band, noise_thresholds

CALIBRATION_STUDY_COLUMNS = [
    "vintage", "design", "unit_code", "unit_name", "first_post_year", "outcome", "method", "comparator_code",
    "estimate", "p_classical", "p_hc1", "permutation_p_value", "reselected_p_value", "post_rmspe_p_value",
    "se_placebo", "n_placebos", "pre_period_noise",
]
DETECTABLE_EFFECT_COLUMNS = [
    "vintage", "design", "unit_code", "unit_name", "first_post_year", "outcome", "method", "ran_listed_programme",
    "estimate", "mde", "mde_normal", "placebo_sd", "n_placebos", "mde_placebos", "pre_period_noise", "noise_band",
]
CALIBRATION_RUN_COLUMNS = [
    "outcome", "vintage", "code_version", "computed_at", "design", "start_years", "n_studies", "n_placebo_studies",
    "methods", "seed", "approximations", "cpu_seconds", "wall_seconds", "workers",
    "origin", "calibration_code", "panel_digest", "stale", "stale_reasons",
]
_TYPES = {"first_post_year": "Int64", "n_placebos": "Int64"}
# Where the calibration in the warehouse came from (glue.freshness.calibration_source_dir).
COMPUTED, SHIPPED = "computed", "shipped"


@dataclass(frozen=True)
class CurrentState:
    """What a calibration must have been computed from to be current: the calibration code now
    (files.calibration_code), the latest vintage and the digest of its panel in the warehouse being built,
    and the configured studies' designs."""

    code: str
    vintage: str | None
    panel: str | None
    designs: tuple[str, ...]


def _empty(columns: list[str]) -> pd.DataFrame:
    types = {**_TYPES, "stale": "boolean"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "object")) for c in columns})


def calibration_studies(studies: pd.DataFrame) -> pd.DataFrame:
    """The placebo studies (authorities that ran no listed programme), one row per study, method and outcome."""
    if studies.empty:
        return _empty(CALIBRATION_STUDY_COLUMNS)
    # A study whose method published no p-value (synthetic DiD outside its seeded sample) is no calibration study.
    has_p = studies[list(P_VALUE_COLUMNS.values())].notna().any(axis=1)
    table = studies[studies["placebo"].astype(bool) & has_p].copy()
    for column, kind in _TYPES.items():
        table[column] = table[column].astype(kind)
    return table.sort_values(["design", "outcome", "first_post_year", "unit_code", "method"],
                             ignore_index=True)[CALIBRATION_STUDY_COLUMNS]


def detectable_effects(studies: pd.DataFrame) -> pd.DataFrame:
    """Every study's design (placebo or not) with the effect it can detect."""
    if studies.empty:
        return _empty(DETECTABLE_EFFECT_COLUMNS)
    thresholds = noise_thresholds(studies)
    table = studies.assign(ran_listed_programme=~studies["placebo"].astype(bool),
                           n_placebos=studies["n_placebos_mde"].astype("Int64"))
    table["noise_band"] = [noise_band(noise, thresholds.get((design, outcome))) for noise, design, outcome
                           in zip(table["pre_period_noise"], table["design"], table["outcome"])]
    table["first_post_year"] = table["first_post_year"].astype("Int64")
    return table.sort_values(["design", "outcome", "first_post_year", "unit_code", "method"],
                             ignore_index=True)[DETECTABLE_EFFECT_COLUMNS]


def calibration_runs(manifests: list[dict], origin: str, current: CurrentState) -> pd.DataFrame:
    """One row per outcome's manifest, with where it came from and whether it is stale (why, in words);
    lists and mappings as text."""
    if not manifests:
        return _empty(CALIBRATION_RUN_COLUMNS)
    rows = []
    for manifest in manifests:
        row = {c: manifest.get(c) for c in CALIBRATION_RUN_COLUMNS}
        reasons = staleness(manifest, current.code, current.vintage, current.panel, list(current.designs))
        row.update(origin=origin, stale=bool(reasons), stale_reasons="; ".join(reasons) or None)
        row["design"] = "; ".join(manifest["design"])
        row["start_years"] = ", ".join(str(y) for y in manifest["start_years"])
        row["methods"] = ", ".join(manifest["methods"])
        row["approximations"] = "; ".join(f"{k}: {v}" for k, v in manifest["approximations"].items())
        rows.append(row)
    table = pd.DataFrame(rows, columns=CALIBRATION_RUN_COLUMNS)
    for column in ("n_studies", "n_placebo_studies", "seed", "workers"):
        table[column] = table[column].astype("Int64")
    table["stale"] = table["stale"].astype("boolean")
    return table.sort_values("outcome", ignore_index=True)
