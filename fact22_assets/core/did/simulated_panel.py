"""A simulated strand-1 panel with a known effect, for tests and benchmarks.

Every unit's outcome is its own level plus its own linear trend plus a
shock common to all units in that year plus noise; the treated unit has no
trend of its own and gains `effect` per 10,000 in every post-period year.
So a comparator with a small own trend gives parallel pre-trends, and a
DiD estimate near `effect`. Units are coded E99xxxxxx, a range ONS does not
use, and named 'Synthetic authority ...' (simulated), so the data cannot pass for real.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .panel import CONSISTENT
from .study import FACT22

CHILD_SHARE = 0.21  # roughly England's share of residents aged under 18


def simulated_panel(
    n_units: int = 150,
    years: Sequence[int] = range(2010, 2020),
    first_post_year: int = FACT22.first_post_year,
    effect: float = 25.0,
    outcomes: Sequence[str] = FACT22.outcomes,
    treated_unit_code: str = FACT22.treated_unit_code,
    base_level: float = 100.0,
    trend_sd: float = 4.0,
    noise_sd: float = 3.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Long panel in the input contract: `n_units` comparators plus the treated unit."""
    rng = np.random.default_rng(seed)
    years = np.asarray(years)
    n = n_units + 1  # row 0 is the treated unit
    centred = years - years.mean()
    post = (years >= first_post_year).astype(float)

    population = rng.lognormal(np.log(300_000), 0.5, size=n)[:, None] * (1 + 0.005 * centred)
    cin_rate = rng.normal(330, 60, size=n)[:, None] + rng.normal(0, 10, size=(n, years.size))
    columns = {
        "population_all_ages": population,
        "cin_per_10k_children": cin_rate,
        "cin_at_31_march": np.round(cin_rate * population * CHILD_SHARE / 10_000),
    }
    for outcome in outcomes:
        level = rng.normal(base_level, 0.25 * base_level, size=n)
        trend = rng.normal(0, trend_sd, size=n)
        level[0], trend[0] = base_level, 0.0
        common = rng.normal(0, noise_sd, size=years.size)
        noise = rng.normal(0, noise_sd, size=(n, years.size))
        values = level[:, None] + trend[:, None] * centred + common + noise
        values[0] += effect * post
        columns[outcome] = values

    codes = [treated_unit_code] + [f"E99{i:06d}" for i in range(1, n)]
    names = ["Treated authority (synthetic)"]
    names += [f"Synthetic authority {i:03d}" for i in range(1, n)]
    panel = pd.DataFrame(
        {
            "unit_code": np.repeat(codes, years.size),
            "unit_name": np.repeat(names, years.size),
            "collection_year": np.tile(years, n).astype(int),
            "panel_status": CONSISTENT,
        }
    )
    for column, values in columns.items():
        panel[column] = values.ravel()
    return panel
