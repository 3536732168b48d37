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


def withhold_small_counts(frame: pd.DataFrame, counts: list[str], groupings: tuple[pd.Series, ...] = (),
                          status_suffix: str = "_status") -> pd.DataFrame:
    """Withhold counts of 1 to 5 with `suppress_small_counts`, once per grouping.

    Each grouping labels the rows that add up to a total published elsewhere
    (a NULL label: the row stands alone); there the core also withholds a
    second cell, so that one cell cannot be recovered by subtraction. A cell
    withheld in one grouping counts as withheld in the next, and the passes
    repeat until none withholds more. Sums across the columns of one row are
    not protected (the core's rule is one-dimensional).
    """
    frame = frame.reset_index(drop=True)
    alone = pd.Series([f"row:{i}" for i in range(len(frame))], dtype=object)
    passes = [alone] + [pd.Series(g).reset_index(drop=True).map(lambda label: f"group:{label}", na_action="ignore")
                        .where(lambda labels: labels.notna(), alone) for g in groupings]
    withheld = {c: np.zeros(len(frame), dtype=bool) for c in counts}
    while True:
        before = sum(int(w.sum()) for w in withheld.values())
        for labels in passes:
            # A cell already withheld stands in as 1, inside the range, so the core treats it as withheld too.
            trial = frame.assign(**{c: frame[c].astype("Int64").mask(withheld[c], 1) for c in counts},
                                 _suppression_group=labels.to_numpy())
            done = suppress_small_counts(trial, counts, group_columns=["_suppression_group"], status_suffix=status_suffix)
            for c in counts:
                withheld[c] |= (done[f"{c}{status_suffix}"] == SUPPRESSED).to_numpy()
        if sum(int(w.sum()) for w in withheld.values()) == before:
            break
    out = frame.copy()
    for c in counts:
        out[c] = frame[c].astype("Int64").mask(withheld[c])
        out[f"{c}{status_suffix}"] = pd.Series(np.where(withheld[c], SUPPRESSED, None), dtype="string")
    order = []
    for column in frame.columns:
        if column != "data_origin":
            order += [column, f"{column}{status_suffix}"] if column in counts else [column]
    return out[order + ["data_origin"]]
