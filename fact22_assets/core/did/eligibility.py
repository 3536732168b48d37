"""Which authorities may serve as comparator, donor or placebo for an outcome.

A unit is eligible when, in every pre- and post-period year of the study, it
has a row, a consistent series (no boundary change), the outcome and the
covariate. The estimators need that balanced panel: a comparator with a
suppressed year would silently change the 2x2 cells it contributes to. The
treated unit is listed too, never eligible, so the table accounts for every
unit in the panel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .panel import CONSISTENT, require_columns
from .study import Study

if TYPE_CHECKING:
    from .prepared import PreparedPanel

TREATED_REASON = "treated unit"


def eligibility(
    prepared: PreparedPanel, study: Study, outcome: str, exclusions: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per unit in the panel: may it be a comparator for `outcome`?

    Columns: study_id, outcome, unit_code, unit_name, eligible (bool),
    reason (None when eligible, else every reason joined by '; ').
    ``exclusions``: unit_code -> why it may not be a donor (it ran a programme of
    its own in the study's years); such a unit is listed with that reason.
    """
    exclusions = exclusions or {}
    covariates = [study.covariate] if study.covariate else []
    panel = prepared.frame
    require_columns(panel, [outcome, *covariates])
    units = sorted(panel["unit_code"].unique())
    in_study = panel[panel["collection_year"].isin(study.study_years)]
    if in_study.empty:
        raise ValueError(f"panel has no rows in the study years {list(study.study_years)}")

    has_row = (
        in_study.groupby(["unit_code", "collection_year"])
        .size()
        .unstack()
        .reindex(index=units, columns=list(study.study_years))
        .notna()
        .to_numpy()
    )
    checks = [(~has_row, "no row for {years}")]
    for column in (outcome, *covariates):
        missing = np.isnan(prepared.matrix(column, units, study.study_years)) & has_row
        checks.append((missing, f"{column} missing or suppressed in {{years}}"))

    broken = _broken_in_window(in_study, study)
    years = np.array(study.study_years)
    reasons = []
    for i, unit in enumerate(units):
        unit_reasons = [TREATED_REASON] if unit == study.treated_unit_code else []
        if unit in exclusions and unit != study.treated_unit_code:
            unit_reasons.append(f"excluded: {exclusions[unit]}")
        if unit in broken.index:
            unit_reasons.append(f"broken series: {broken[unit]}")
        for flags, template in checks:
            if flags[i].any():
                unit_reasons.append(template.format(years=_describe_years(years[flags[i]], study)))
        reasons.append("; ".join(unit_reasons) or None)

    names = prepared.names
    return pd.DataFrame(
        {
            "study_id": study.study_id,
            "outcome": outcome,
            "unit_code": units,
            "unit_name": names.reindex(units).to_numpy(),
            "eligible": [r is None for r in reasons],
            "reason": reasons,
        }
    )


def _broken_in_window(in_study: pd.DataFrame, study: Study) -> pd.Series:
    """unit_code -> why its series is broken inside the study's years.

    With `series_first_year` / `series_last_year` in the panel (the years a
    boundary change starts or ends the series), a unit is broken only when
    its series starts after the first study year or ends before the last:
    an authority split after the window (Northamptonshire 2021, Cumbria 2023)
    has a consistent series throughout it. Without them, any row whose
    panel_status is not 'consistent' breaks the unit.
    """
    flagged = in_study.loc[in_study["panel_status"] != CONSISTENT]
    if {"series_first_year", "series_last_year"} <= set(in_study.columns):
        first = pd.to_numeric(flagged["series_first_year"], errors="coerce")
        last = pd.to_numeric(flagged["series_last_year"], errors="coerce")
        flagged = flagged[(first > min(study.study_years)) | (last < max(study.study_years))]
    return flagged.groupby("unit_code")["panel_status"].agg(lambda s: "; ".join(sorted(set(s.astype(str)))))


def eligible_units(table: pd.DataFrame) -> list[str]:
    """The eligible unit codes of an `eligibility` table, sorted for determinism."""
    return sorted(table.loc[table["eligible"], "unit_code"])


def require_treated_complete(table: pd.DataFrame, study: Study) -> None:
    """Stop when the treated unit itself lacks data: no estimate can be made."""
    row = table[table["unit_code"] == study.treated_unit_code]
    if row.empty:
        raise ValueError(f"treated unit {study.treated_unit_code} is not in the panel")
    reason = row["reason"].iloc[0]
    if reason != TREATED_REASON:
        problems = reason.removeprefix(TREATED_REASON + "; ")
        raise ValueError(f"treated unit {study.treated_unit_code} cannot be analysed: {problems}")


def require_eligible_comparator(table: pd.DataFrame, study: Study, comparator_code: str) -> None:
    """Stop unless both the treated unit and the comparator have complete data."""
    require_treated_complete(table, study)
    row = table[table["unit_code"] == comparator_code]
    if row.empty:
        raise ValueError(f"comparator {comparator_code} is not in the panel")
    if not row["eligible"].iloc[0]:
        raise ValueError(f"comparator {comparator_code} is not eligible: {row['reason'].iloc[0]}")


def _describe_years(years: np.ndarray, study: Study) -> str:
    pre = [int(y) for y in years if y in study.pre_years]
    post = [int(y) for y in years if y in study.post_years]
    parts = [f"pre-period {pre}" if pre else "", f"post-period {post}" if post else ""]
    return " and ".join(p for p in parts if p)
