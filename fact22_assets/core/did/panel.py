"""Reading the long unit x year panel that every strand-1 statistic starts from.

The panel has one row per unit (local authority, by ONS GSS code) and
collection year, with the outcome rates, the covariate, population, the CIN
rate and `panel_status` ('consistent', or why the unit's series is broken).
The statistics work on unit x year matrices taken from it here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

KEY_COLUMNS = ("unit_code", "unit_name", "collection_year", "panel_status")
CONSISTENT = "consistent"


def require_columns(panel: pd.DataFrame, columns: Sequence[str]) -> None:
    """Fail with one message naming every missing column or duplicated unit-year."""
    missing = [c for c in (*KEY_COLUMNS, *columns) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}; it has {list(panel.columns)}")
    duplicated = panel.duplicated(["unit_code", "collection_year"])
    if duplicated.any():
        examples = panel.loc[duplicated, ["unit_code", "collection_year"]].head(5)
        raise ValueError(
            "panel must have one row per unit_code and collection_year; duplicated: "
            + ", ".join(f"{u} {y}" for u, y in examples.itertuples(index=False))
        )


def unit_names(panel: pd.DataFrame) -> pd.Series:
    """Each unit's name as in its latest year (authorities rename; codes stay)."""
    latest = panel.dropna(subset=["unit_name"]).sort_values("collection_year")
    return latest.groupby("unit_code")["unit_name"].last()


def matrix(
    panel: pd.DataFrame, column: str, unit_codes: Sequence[str], years: Sequence[int]
) -> np.ndarray:
    """Values of `column` as a units x years float array, NaN where no row or no value."""
    wide = panel.pivot(index="unit_code", columns="collection_year", values=column)
    return matrix_from_wide(wide, unit_codes, years)


def matrix_from_wide(wide: pd.DataFrame, unit_codes: Sequence[str], years: Sequence[int]) -> np.ndarray:
    """Rows `unit_codes` and columns `years` of a unit x year pivot, as floats (NaN where absent)."""
    return wide.reindex(index=list(unit_codes), columns=list(years)).to_numpy(dtype=float)


def complete_matrix(
    panel: pd.DataFrame, column: str, unit_codes: Sequence[str], years: Sequence[int]
) -> np.ndarray:
    """Like `matrix`, but every cell must hold a value.

    The estimators assume the balanced panel that `eligibility` guarantees;
    a gap here means a unit was passed that eligibility would have refused.
    """
    values = matrix(panel, column, unit_codes, years)
    gaps = np.isnan(values)
    if gaps.any():
        rows, cols = np.nonzero(gaps)
        examples = ", ".join(f"{unit_codes[r]} {years[c]}" for r, c in list(zip(rows, cols))[:5])
        count = int(gaps.sum())
        raise ValueError(f"'{column}' is missing for {count} unit-year(s), e.g. {examples}")
    return values
