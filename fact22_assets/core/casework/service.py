"""A programme's own management information (strand 4; FACT22's in RR1067).

Descriptive only: where families were served, how their cases ended, and
how long cases ran, with the share escalated set against a benchmark (the
trial's escalation_benchmark: England's 9.3% for FACT22). That comparison is
not like for like: FACT22 took CIN families, the benchmark is all children
in need, so the binomial p-value describes distance from the benchmark, not
an effect of the programme.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .origin import single_origin
from .schemas import SERVICE_OUTCOMES

ESCALATED = ("escalated_cp", "escalated_lac")


def _days(service_mi: pd.DataFrame) -> pd.Series:
    return (service_mi["end_date"] - service_mi["start_date"]).dt.days


def case_length_by_start_year(service_mi: pd.DataFrame) -> pd.DataFrame:
    """Average case length by calendar year of start (the report's Figure 1).

    Returns start_year, n_started, n_ended, mean_days_ended (cases with an
    end date, whatever the outcome), n_closed, mean_days_to_close, n_open,
    data_origin. Recent years are biased short: their long cases are still
    open (n_open says how many).
    """
    frame = service_mi.assign(
        start_year=service_mi["start_date"].dt.year,
        days=_days(service_mi),
        is_closed=service_mi["outcome"] == "closed",
        is_open=service_mi["outcome"] == "open",
    )
    rows = []
    for year, group in frame.groupby("start_year"):
        closed = group[group["is_closed"]]
        rows.append(
            {
                "start_year": int(year),
                "n_started": len(group),
                "n_ended": int(group["days"].notna().sum()),
                "mean_days_ended": group["days"].mean(),
                "n_closed": len(closed),
                "mean_days_to_close": closed["days"].mean() if len(closed) else np.nan,
                "n_open": int(group["is_open"].sum()),
            }
        )
    out = pd.DataFrame(rows)
    out["data_origin"] = single_origin(service_mi)
    return out


def service_summary(
    service_mi: pd.DataFrame, locations: Sequence[str], national_escalation_share: float
) -> pd.DataFrame:
    """Location split, outcome shares and days to close, in one long table.

    Returns measure, category, n_families, n_total, share, mean_days,
    benchmark_share, p_value_vs_benchmark, data_origin. measure is one of
    'location', 'outcome', 'escalated' (CP + LAC together, with the national
    benchmark and a two-sided exact binomial test), 'days_to_close' (closed
    cases; mean_days filled).
    """
    from scipy import stats  # imported when a comparison runs, not when the definitions load

    total = len(service_mi)
    rows = []
    for location in locations:
        n = int((service_mi["location"] == location).sum())
        rows.append({"measure": "location", "category": location, "n_families": n})
    for outcome in SERVICE_OUTCOMES:
        n = int((service_mi["outcome"] == outcome).sum())
        rows.append({"measure": "outcome", "category": outcome, "n_families": n})

    escalated = int(service_mi["outcome"].isin(ESCALATED).sum())
    rows.append(
        {
            "measure": "escalated",
            "category": "cp_or_lac",
            "n_families": escalated,
            "benchmark_share": national_escalation_share,
            "p_value_vs_benchmark": float(
                stats.binomtest(escalated, total, national_escalation_share).pvalue
            )
            if total
            else np.nan,
        }
    )
    closed = service_mi["outcome"] == "closed"
    rows.append(
        {
            "measure": "days_to_close",
            "category": "closed",
            "n_families": int(closed.sum()),
            "mean_days": _days(service_mi[closed]).mean(),
        }
    )
    out = pd.DataFrame(
        rows,
        columns=[
            "measure",
            "category",
            "n_families",
            "n_total",
            "share",
            "mean_days",
            "benchmark_share",
            "p_value_vs_benchmark",
        ],
    )
    out["n_total"] = total
    out["share"] = out["n_families"] / total if total else np.nan
    out["data_origin"] = single_origin(service_mi)
    return out
