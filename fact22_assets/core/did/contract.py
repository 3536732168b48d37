"""The estimator contract: what every strand-1 estimator is and gives back.

An estimator is an object with

- ``name``: what it is called in logs and in the registry;
- ``marts``: the mart tables it writes rows to (``did_results`` is shared:
  each estimator adds rows in `DID_RESULTS_COLUMNS`, one per method);
- ``methods``: the ``method`` values it adds to ``did_results``, with the
  label the report prints;
- ``cross_check``: how its numbers are checked against an independent
  computation (a test or a blocking check), so nobody adds an unchecked one;
- ``estimate(prepared, selection)``: its rows for one prepared outcome, as
  a mapping mart name -> DataFrame.

Every registered estimator runs on every data vintage that covers a study,
unless the study skips it by name (`config.StudyEntry.skip_estimators`).

The registry of estimators is `estimators.ESTIMATORS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from .estimation import DID_COLUMNS
from .prepared import PreparedOutcome

RESULTS = "did_results"
DID_RESULTS_COLUMNS = [
    *DID_COLUMNS,
    "se_placebo",
    "ci_low_placebo",
    "ci_high_placebo",
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
class Selection:
    """The comparator rule's answer for one prepared outcome: the full ranking and its pick."""

    ranking: pd.DataFrame
    comparator: str


class Estimator(Protocol):
    name: str
    marts: tuple[str, ...]
    methods: Mapping[str, str]
    cross_check: str

    def estimate(self, prepared: PreparedOutcome, selection: Selection) -> dict[str, pd.DataFrame]: ...


def results_rows(rows: list[dict]) -> pd.DataFrame:
    """Rows of marts.did_results in its column order (missing columns empty)."""
    return pd.DataFrame(rows, columns=DID_RESULTS_COLUMNS)
