"""An authority's totals per collection year from its census returns, by DfE's definitions.

The definitions are the measure registry's (core/measures.py CASE_MEASURES):
each count is taken from the return of its own year, as DfE counts it, except
re-referrals, which look back 12 months into the return of the year before.
Without that return a year's re-referrals cannot be counted and are NULL, with
the reason.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .returns import year_bounds
from .trial import episodes_across_returns

MEASURES = ("referrals", "rereferrals", "cin_at_31_march", "closures", "escalations")


def _in_year(dates: pd.Series, year: int) -> pd.Series:
    start, end = year_bounds(year)
    return (dates >= start) & (dates <= end)


def rereferral_flags(episodes: pd.DataFrame) -> pd.Series:
    """For each referral (every episode, once, across returns): whether the same child's previous referral was
    within 12 months before it (on or after the same date a year earlier)."""
    ordered = episodes.sort_values(["authority_code", "child_key", "referral_date"], kind="stable")
    previous = ordered.groupby(["authority_code", "child_key"])["referral_date"].shift(1)
    within = previous.notna() & (previous >= ordered["referral_date"] - pd.DateOffset(months=12)) & (
        previous < ordered["referral_date"])
    return within.reindex(episodes.index)


def authority_totals(episodes: pd.DataFrame, cp_plans: pd.DataFrame) -> pd.DataFrame:
    """authority_code, collection_year, measure, census_value (NULL where it cannot be counted), note.

    ``episodes`` and ``cp_plans`` are the restricted census tables (every return of every authority, each row
    with authority_code and collection_year, the return it came from).
    """
    rows = []
    unique = episodes_across_returns(episodes)
    unique = unique.assign(rereferral=rereferral_flags(unique).to_numpy())
    for (authority, year), returned in episodes.groupby(["authority_code", "collection_year"], sort=True):
        year = int(year)
        need = ~returned["referral_nfa"].fillna(False).astype(bool)
        referred = _in_year(returned["referral_date"], year)
        plans = cp_plans[(cp_plans["authority_code"] == authority) & (cp_plans["collection_year"] == year)]
        loaded = set(episodes.loc[episodes["authority_code"] == authority, "collection_year"].astype(int))
        mine = unique[(unique["authority_code"] == authority) & _in_year(unique["referral_date"], year)]
        values = {
            "referrals": (int(referred.sum()), ""),
            "cin_at_31_march": (int((need & returned["closure_date"].isna()).sum()), ""),
            "closures": (int((need & _in_year(returned["closure_date"], year)).sum()), ""),
            "escalations": (int(_in_year(plans["start_date"], year).sum()), ""),
            "rereferrals": ((int(mine["rereferral"].sum()), "") if year - 1 in loaded else
                            (None, f"needs the {year - 2}-{str(year - 1)[2:]} return (the 12 months before)")),
        }
        for measure in MEASURES:
            value, note = values[measure]
            rows.append({"authority_code": authority, "collection_year": year, "measure": measure,
                         "census_value": value, "note": note})
    out = pd.DataFrame(rows, columns=["authority_code", "collection_year", "measure", "census_value", "note"])
    out["census_value"] = out["census_value"].astype("Int64")
    return out


# --- the comparison with what DfE published ------------------------------------------------------------------

SUPPRESSED = "c"  # DfE's symbol: 1 to 5, or a secondary suppression
NOT_AVAILABLE = ("x", "..", ":", "z")


def tolerance(published: float, relative: float, rounding_unit: int) -> float:
    """How far a council's own count may sit from DfE's published one: half DfE's rounding unit (England and
    regional totals are rounded to 10; an authority's counts are exact) or the trial's relative share of the
    published value, whichever is larger."""
    return max(rounding_unit / 2 if rounding_unit > 1 else 0.0, relative * abs(published))


def reconcile(totals: pd.DataFrame, published: pd.DataFrame, relative: dict[str, float],
              years: dict[str, tuple[int, ...]]) -> pd.DataFrame:
    """Each total beside DfE's published figure for that authority and year.

    ``published``: authority_code, collection_year, measure, published_value, published_status ('published' or
    DfE's symbol as staging.cin_area_year keeps it: 'c' withheld, 'x' / '..' not available, 'u' low reliability),
    rounding_unit. ``relative`` and ``years``: per authority, the
    trial's relative tolerance and the years it reconciles.

    within_tolerance is true when |difference| <= tolerance; for a value DfE suppressed ('c': 1 to 5, or a
    secondary suppression) true when the census value is 1 to 5 and NULL (not comparable) otherwise; NULL when
    DfE publishes nothing or the census cannot count the measure (note says why).
    """
    merged = totals.merge(published, on=["authority_code", "collection_year", "measure"], how="left")
    merged = merged[[int(y) in years.get(a, ()) for a, y in zip(merged["authority_code"], merged["collection_year"])]]
    out = []
    for row in merged.itertuples(index=False):
        census, value, status = row.census_value, row.published_value, row.published_status
        unit = int(row.rounding_unit) if pd.notna(row.rounding_unit) else 1
        record = {"authority_code": row.authority_code, "collection_year": int(row.collection_year),
                  "measure": row.measure, "census_value": census, "published_value": value,
                  "published_status": status if isinstance(status, str) else "not published",
                  "difference": np.nan, "tolerance": np.nan, "within_tolerance": None, "note": row.note}
        if pd.isna(census):
            pass
        elif status == SUPPRESSED:
            record["within_tolerance"] = True if 1 <= census <= 5 else None
            record["note"] = ("DfE withheld a count of 1 to 5" if 1 <= census <= 5 else
                              "DfE withheld the value (a secondary suppression): not comparable")
        elif pd.isna(value):
            record["note"] = "DfE publishes no value for this authority and year"
        else:
            allowed = tolerance(float(value), relative.get(row.authority_code, 0.0), unit)
            record.update(difference=float(census) - float(value), tolerance=allowed,
                          within_tolerance=bool(abs(float(census) - float(value)) <= allowed))
        out.append(record)
    frame = pd.DataFrame(out, columns=["authority_code", "collection_year", "measure", "census_value",
                                       "published_value", "published_status", "difference", "tolerance",
                                       "within_tolerance", "note"])
    frame["census_value"] = frame["census_value"].astype("Int64")
    frame["within_tolerance"] = frame["within_tolerance"].astype("boolean")
    return frame


def rounding_units(published_values: pd.DataFrame) -> pd.DataFrame:
    """authority-level rounding per collection year and measure, read from the values themselves: 10 when every
    authority's published value that year is a multiple of 10 (a rounded table), else 1."""
    values = published_values.dropna(subset=["published_value"])
    multiple = (values["published_value"] % 10 == 0)
    grouped = multiple.groupby([values["collection_year"], values["measure"]]).agg(["all", "size"])
    grouped["rounding_unit"] = np.where(grouped["all"] & (grouped["size"] >= 20), 10, 1)
    return grouped.reset_index()[["collection_year", "measure", "rounding_unit"]]
