"""LAIT-style benchmarking of each authority: its value beside England, its
region and its DfE statistical neighbours, its national rank and quartile
band, and the change on the previous year.

Pure pandas over marts.cin_rates (one row per area x year) and
raw.statistical_neighbours; the asset in defs/benchmarks writes the results.

Conventions (documented in docs/cookbook.md and the data dictionary):

* Measures: every count and rate of the measure registry, plus DfE's headline
  percentage of referrals that were re-referrals within 12 months.  DfE's
  other headline measures, CIN per 10,000 children and child protection plans
  started per 10,000 children, are the registry's ``cin_per_10k_children`` and
  ``escalations_per_10k_children``.
* Statistical neighbours: DfE's 2021 model for collection years before
  2022-23, its 2025 model from 2022-23 (collection year 2023) on.
* National rank: 1 = the highest value among the authorities with a value
  that year (ties share the lowest rank, as ``rank(method="min")``).
  Quartile band: the rank split into quarters, A = the quarter with the
  highest values, D = the lowest.  LAIT bands authorities by quartile of their
  rank; its own direction (A = "best") depends on a measure's polarity, and
  children's social care activity has no good direction, so we fix A = highest.
* ``rank_change`` = last year's rank minus this year's: positive = moved
  towards rank 1 (higher values relative to other authorities).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .measures import CHILDREN, COUNTS, RATES

SN_MODEL_2025_FROM = 2023  # collection year 2022-23 onwards: DfE's 2025 model
BANDS = "ABCD"
NATIONAL, REGIONAL, AUTHORITY = "National", "Regional", "Local authority"


@dataclass(frozen=True)
class BenchmarkMeasure:
    name: str
    label: str
    unit: str
    headline: bool = False


REREFERRAL_PERCENTAGE = "rereferral_percentage"
HEADLINE = ("cin_per_10k_children", "escalations_per_10k_children", REREFERRAL_PERCENTAGE)

MEASURES: tuple[BenchmarkMeasure, ...] = (
    *(BenchmarkMeasure(c.name, c.label, "count") for c in COUNTS),
    *(BenchmarkMeasure(r.name, r.label, r.unit, r.name in HEADLINE) for r in RATES),
    BenchmarkMeasure(REREFERRAL_PERCENTAGE, "Re-referrals within 12 months (% of referrals)",
                     "% of referrals", True),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)
_CHILD_RATES = {r.name for r in RATES if r.denominator == CHILDREN}


def sn_model(collection_year: int) -> str:
    """The DfE statistical-neighbour model in force for a collection year."""
    return "2025" if collection_year >= SN_MODEL_2025_FROM else "2021"


def quartile_band(rank: float, ranked: float) -> str | None:
    """A-D from a rank among ``ranked`` authorities: A = the top quarter (highest values)."""
    if pd.isna(rank) or not ranked:
        return None
    return BANDS[min(math.ceil(4 * rank / ranked), 4) - 1]


def long_values(rates: pd.DataFrame) -> pd.DataFrame:
    """marts.cin_rates as one row per area x year x measure (value NULL when not published)."""
    frame = rates.copy()
    frame[REREFERRAL_PERCENTAGE] = np.where(frame["referrals"] > 0,
                                            100.0 * frame["rereferrals"] / frame["referrals"], np.nan)
    ids = ["geographic_level", "area_code", "area_name", "old_la_code", "region_code", "region_name",
           "collection_year", "collection_year_label"]
    out = frame.melt(id_vars=ids, value_vars=list(MEASURE_NAMES), var_name="measure", value_name="value")
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out


def la_benchmarks(rates: pd.DataFrame, neighbours: pd.DataFrame) -> pd.DataFrame:
    """Authority x year x measure: value, England, region, statistical-neighbour average and count,
    national rank and band, change and rank change on the previous year."""
    values = long_values(rates)
    la = values[values["geographic_level"] == AUTHORITY].drop(columns="geographic_level").rename(
        columns={"area_name": "la_name"})
    key = ["collection_year", "measure"]
    england = values[values["geographic_level"] == NATIONAL][key + ["value"]].rename(
        columns={"value": "england_value"})
    region = values[values["geographic_level"] == REGIONAL][["region_code", *key, "value"]].rename(
        columns={"value": "region_value"})
    out = la.merge(england, on=key, how="left").merge(region, on=["region_code", *key], how="left")
    out["sn_model"] = out["collection_year"].map(sn_model)

    pairs = neighbours[["model", "old_la_code", "neighbour_old_la_code"]].rename(columns={"model": "sn_model"})
    expected = pairs.groupby(["sn_model", "old_la_code"]).size().rename("sn_neighbours").reset_index()
    theirs = la[["old_la_code", *key, "value"]].rename(
        columns={"old_la_code": "neighbour_old_la_code", "value": "neighbour_value"})
    joined = out[["old_la_code", "sn_model", *key]].merge(pairs, on=["sn_model", "old_la_code"]) \
        .merge(theirs, on=["neighbour_old_la_code", *key], how="left")
    sn = joined.groupby(["old_la_code", *key])["neighbour_value"].agg(sn_average="mean", sn_count="count") \
        .reset_index()
    out = out.merge(sn, on=["old_la_code", *key], how="left").merge(expected, on=["sn_model", "old_la_code"],
                                                                     how="left")
    out["sn_count"] = out["sn_count"].fillna(0).astype(int)
    out["sn_neighbours"] = out["sn_neighbours"].fillna(0).astype(int)

    grouped = out.groupby(key)["value"]
    out["national_rank"] = grouped.rank(ascending=False, method="min")
    out["ranked_authorities"] = grouped.transform("count").astype(int)
    out["quartile_band"] = [quartile_band(r, n) for r, n in zip(out["national_rank"], out["ranked_authorities"])]

    previous = out[["old_la_code", *key, "value", "national_rank"]].rename(
        columns={"value": "value_previous_year", "national_rank": "national_rank_previous_year"})
    previous["collection_year"] = previous["collection_year"] + 1
    out = out.merge(previous, on=["old_la_code", *key], how="left")
    out["change_on_previous_year"] = out["value"] - out["value_previous_year"]
    out["rank_change"] = out["national_rank_previous_year"] - out["national_rank"]
    for column in ("national_rank", "national_rank_previous_year", "rank_change"):
        out[column] = out[column].astype("Int64")

    labels = {m.name: m for m in MEASURES}
    out["measure_label"] = out["measure"].map(lambda n: labels[n].label)
    out["unit"] = out["measure"].map(lambda n: labels[n].unit)
    out["headline_measure"] = out["measure"].isin(HEADLINE)
    out["measure_order"] = out["measure"].map(MEASURE_NAMES.index)
    out = out.sort_values(["la_name", "collection_year", "measure_order"], kind="stable")
    return out[["la_name", "old_la_code", "area_code", "region_code", "region_name", "collection_year",
                "collection_year_label", "measure", "measure_label", "unit", "headline_measure", "value",
                "england_value", "region_value", "sn_model", "sn_average", "sn_count", "sn_neighbours",
                "national_rank", "ranked_authorities", "quartile_band", "value_previous_year",
                "change_on_previous_year", "national_rank_previous_year", "rank_change"]].reset_index(drop=True)


WIDE_PARTS = {"": "value", "_england": "england_value", "_region": "region_value", "_sn_average": "sn_average",
              "_rank": "national_rank", "_band": "quartile_band"}


def la_benchmarks_wide(benchmarks: pd.DataFrame) -> pd.DataFrame:
    """One row per authority x year, one column per measure and part, for spreadsheets."""
    ids = ["la_name", "old_la_code", "area_code", "region_name", "collection_year", "collection_year_label",
           "sn_model"]
    wide = benchmarks[ids].drop_duplicates().reset_index(drop=True)
    for measure in MEASURE_NAMES:
        part = benchmarks[benchmarks["measure"] == measure]
        renamed = part[["old_la_code", "collection_year", *WIDE_PARTS.values()]].rename(
            columns={v: f"{measure}{suffix}" for suffix, v in WIDE_PARTS.items()})
        wide = wide.merge(renamed, on=["old_la_code", "collection_year"], how="left")
    return wide


def neighbour_table(neighbours: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """raw.statistical_neighbours with names and codes of both authorities and the years each model serves.
    ``names``: old_la_code, la_name, area_code (one row per DfE number)."""
    named = names.drop_duplicates("old_la_code")
    out = neighbours[["model", "old_la_code", "neighbour_rank", "neighbour_old_la_code", "closeness"]] \
        .merge(named, on="old_la_code", how="left") \
        .merge(named.rename(columns={"old_la_code": "neighbour_old_la_code", "la_name": "neighbour_la_name",
                                     "area_code": "neighbour_area_code"}), on="neighbour_old_la_code", how="left")
    out["used_for_years"] = out["model"].map(
        {"2021": f"collection years to {SN_MODEL_2025_FROM - 1}", "2025": f"collection years from {SN_MODEL_2025_FROM}"})
    return out[["model", "used_for_years", "la_name", "old_la_code", "area_code", "neighbour_rank", "neighbour_la_name",
                "neighbour_old_la_code", "neighbour_area_code", "closeness"]] \
        .sort_values(["model", "la_name", "neighbour_rank"]).reset_index(drop=True)
