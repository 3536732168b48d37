"""Parallel pre-trends: the treated unit against every candidate comparator.

For each candidate, on the pre-period rows of the two units,
    y = a + b*T + c*year + d*(T x year) + e,
and d -- the treated minus the candidate slope -- is tested against zero
with its classical standard error and a t distribution on 2n - 4 degrees
of freedom (n pre years). All candidates are fitted at once by
`closed_form.differential_slopes`.

A small slope difference alone does not make two series parallel: a
candidate that swings wildly year to year can have a flat trend in its gap
and, with a large standard error, pass the test easily. `pre_gap_rmse`
measures how far the yearly gap (candidate minus treated) strays from its
own straight line; parallel series keep it small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .closed_form import differential_slopes
from .prepared import PreparedOutcome


def pretrend_tests(prepared: PreparedOutcome, candidate_codes: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: unit_code, differential_slope (per year),
    differential_slope_se, differential_slope_t, differential_slope_df,
    differential_slope_p, pre_gap_rmse."""
    years = list(prepared.study.pre_years)
    treated = prepared.values(prepared.outcome, [prepared.treated], years)[0]
    candidates = prepared.values(prepared.outcome, candidate_codes, years)
    fits = differential_slopes(treated, candidates, np.array(years))
    return pd.DataFrame(
        {
            "unit_code": list(candidate_codes),
            "differential_slope": fits.estimate,
            "differential_slope_se": fits.se,
            "differential_slope_t": fits.t,
            "differential_slope_df": fits.df_resid,
            "differential_slope_p": fits.p,
            "pre_gap_rmse": gap_rmse(treated, candidates, np.array(years, dtype=float)),
        }
    )


def gap_rmse(treated: np.ndarray, candidates: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Root mean square deviation of each candidate's yearly gap to the
    treated unit from the gap's least-squares line (candidates x years in,
    one value per candidate out), vectorised over candidates."""
    gap = candidates - treated[np.newaxis, :]
    centred = years - years.mean()
    slope = (gap * centred).sum(axis=1) / (centred**2).sum()
    residual = gap - gap.mean(axis=1, keepdims=True) - slope[:, np.newaxis] * centred
    return np.sqrt((residual**2).mean(axis=1))
