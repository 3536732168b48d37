"""Small-count suppression for published casework tables (DfE style).

Counts from 1 to 5 about children could identify them, so they are
withheld: the value becomes NULL and a companion `<column>_status` column
says 'c' (confidential), the DfE symbol. Zero is not suppressed (nothing
to disclose about nobody).

Secondary suppression, as implemented: rows that share `group_columns`
are taken to add up to a total that is published elsewhere (e.g. the
categories of one measure, or the two arms of one outcome). If a group
holds exactly one suppressed cell in a count column, that cell could be
recovered as total minus the others, so the smallest other cell of the
group (a non-zero one if there is any) is suppressed too. This is
one-dimensional: a table whose rows *and* columns both add to published
margins needs the caller to group each way in turn. A group of a single
row cannot be protected this way; its total must itself be withheld.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SUPPRESSED = "c"


def suppress_small_counts(
    df: pd.DataFrame,
    count_columns: Sequence[str],
    low: int = 1,
    high: int = 5,
    group_columns: Sequence[str] | None = None,
    status_suffix: str = "_status",
) -> pd.DataFrame:
    """Return a copy with counts low..high (inclusive) withheld.

    Each count column becomes nullable Int64; each gains a status column
    `<column><status_suffix>` holding 'c' where the count is withheld
    (primary or secondary) and NULL otherwise.
    """
    out = df.copy()
    if group_columns:
        grouped = out.reset_index(drop=True).groupby(list(group_columns), sort=False)
        groups = [np.asarray(rows) for rows in grouped.indices.values()]
    else:
        groups = [np.arange(len(out))]
    for column in count_columns:
        counts = out[column].astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
        withheld = (counts >= low) & (counts <= high)
        for rows in groups:
            if withheld[rows].sum() != 1 or len(rows) < 2:
                continue
            candidates = [r for r in rows if not withheld[r] and not np.isnan(counts[r])]
            if not candidates:
                continue
            non_zero = [r for r in candidates if counts[r] > 0]
            pool = non_zero or candidates
            withheld[min(pool, key=lambda r: counts[r])] = True
        values = out[column].astype("Int64")
        out[column] = values.mask(withheld)
        status = np.where(withheld, SUPPRESSED, None)
        out[f"{column}{status_suffix}"] = pd.Series(status, index=out.index, dtype="object")
    return out
