"""Parallel pre-trends: the treated unit against every candidate comparator.

For each candidate, on the pre-period rows of the two units,
    y = a + b*T + c*year + d*(T x year) + e,
and d -- the treated minus the candidate slope -- is tested against zero
with its classical standard error and a t distribution on 2n - 4 degrees
of freedom (n pre years). All candidates are fitted at once by
`closed_form.differential_slopes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .closed_form import differential_slopes
from .panel import complete_matrix
from .study import Study


def pretrend_tests(
    panel: pd.DataFrame, study: Study, outcome: str, candidate_codes: Sequence[str]
) -> pd.DataFrame:
    """One row per candidate: unit_code, differential_slope (per year),
    differential_slope_se, differential_slope_t, differential_slope_df,
    differential_slope_p."""
    years = list(study.pre_years)
    treated = complete_matrix(panel, outcome, [study.treated_unit_code], years)[0]
    candidates = complete_matrix(panel, outcome, candidate_codes, years)
    fits = differential_slopes(treated, candidates, np.array(years))
    return pd.DataFrame(
        {
            "unit_code": list(candidate_codes),
            "differential_slope": fits.estimate,
            "differential_slope_se": fits.se,
            "differential_slope_t": fits.t,
            "differential_slope_df": fits.df_resid,
            "differential_slope_p": fits.p,
        }
    )
