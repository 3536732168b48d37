"""A study x outcome prepared once and passed to every step of strand 1.

R's `did` calls `pre_process_did()` once and hands the resulting `DIDparams`
to every later step; here `prepare_outcome` does the same: it checks the
panel's columns, pivots each column it is asked for once per panel, decides
eligibility once, and gives an immutable `PreparedOutcome` that the ranking,
the estimators and the inference read.  No step re-derives eligibility or
re-pivots the panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .eligibility import eligibility, eligible_units
from .panel import matrix_from_wide, require_columns, unit_names
from .study import Study


class PreparedPanel:
    """The long unit x year panel with each column pivoted at most once.

    Shared by every outcome of one study and vintage. Its values never change
    after construction (the cache only remembers pivots of the same panel).
    """

    def __init__(self, panel: pd.DataFrame):
        self.frame = panel
        self._wide: dict[str, pd.DataFrame] = {}
        self._names: pd.Series | None = None

    def wide(self, column: str) -> pd.DataFrame:
        if column not in self._wide:
            self._wide[column] = self.frame.pivot(index="unit_code", columns="collection_year", values=column)
        return self._wide[column]

    def matrix(self, column: str, unit_codes: Sequence[str], years: Sequence[int]) -> np.ndarray:
        """Values of `column` as a units x years float array, NaN where no row or no value."""
        return matrix_from_wide(self.wide(column), unit_codes, years)

    def complete(self, column: str, unit_codes: Sequence[str], years: Sequence[int]) -> np.ndarray:
        """Like `matrix`, but every cell must hold a value (eligibility guarantees it)."""
        values = self.matrix(column, unit_codes, years)
        gaps = np.isnan(values)
        if gaps.any():
            rows, cols = np.nonzero(gaps)
            examples = ", ".join(f"{unit_codes[r]} {years[c]}" for r, c in list(zip(rows, cols))[:5])
            raise ValueError(f"'{column}' is missing for {int(gaps.sum())} unit-year(s), e.g. {examples}")
        return values

    @property
    def names(self) -> pd.Series:
        if self._names is None:
            self._names = unit_names(self.frame)
        return self._names


@dataclass(frozen=True)
class PreparedOutcome:
    """One outcome of one study: the panel, who is eligible and why not, and the context
    the comparator rule scores against (statistical neighbours, deprivation)."""

    study: Study
    outcome: str
    panel: PreparedPanel = field(repr=False)
    eligibility: pd.DataFrame = field(repr=False)
    candidates: tuple[str, ...]
    neighbours: pd.DataFrame | None = field(default=None, repr=False)
    deprivation: pd.DataFrame | None = field(default=None, repr=False)
    exclusions: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Every authority's statistical neighbours (unit_code, neighbour_code, neighbour_rank), so that
    # a placebo can rank its own neighbours first as the treated unit does (selection_placebo).
    neighbours_by_unit: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def treated(self) -> str:
        return self.study.treated_unit_code

    def values(self, column: str, unit_codes: Sequence[str], years: Sequence[int]) -> np.ndarray:
        return self.panel.complete(column, list(unit_codes), list(years))


def prepare_outcome(
    panel: pd.DataFrame | PreparedPanel,
    study: Study,
    outcome: str,
    neighbours: pd.DataFrame | None = None,
    deprivation: pd.DataFrame | None = None,
    exclusions: Mapping[str, str] | None = None,
    neighbours_by_unit: pd.DataFrame | None = None,
) -> PreparedOutcome:
    """Check and prepare `outcome` of `study` once; pass a `PreparedPanel` to share pivots between outcomes.
    ``exclusions``: units that may not be donors, with why (see `config.donor_exclusions`)."""
    prepared = panel if isinstance(panel, PreparedPanel) else PreparedPanel(panel)
    covariates = [study.covariate] if study.covariate else []
    require_columns(prepared.frame, [outcome, *covariates])
    table = eligibility(prepared, study, outcome, exclusions)
    return PreparedOutcome(study=study, outcome=outcome, panel=prepared, eligibility=table,
                           candidates=tuple(eligible_units(table)), neighbours=neighbours,
                           deprivation=deprivation, exclusions=dict(exclusions or {}),
                           neighbours_by_unit=neighbours_by_unit)
