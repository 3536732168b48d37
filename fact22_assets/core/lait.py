"""LAIT-style benchmarking of each authority: its value beside England, its
region and each of its DfE statistical neighbours, its national rank and
quartile band as DfE's Local Authority Interactive Tool (LAIT) gives them,
and the change on the previous year.

Pure pandas over marts.cin_rates (one row per area x year) and
raw.statistical_neighbours; the asset in defs/lait writes the results.

Conventions (LAIT's code: ``calculate_rank``, ``calculate_quartile_band`` and
the quartiles of ``quantile(values, na.rm = TRUE)``; documented in
docs/cookbook.md and the data dictionary):

* Measures: every count, rate and percentage of the measure registry.
* Value: DfE's own published figure where DfE printed one for that
  authority-year (``value_basis`` 'published'), else the warehouse's
  ('rebased' for a rate on the latest population estimates, 'counts' for a
  count or a percentage of counts); both stay beside it
  (``value_published``, ``value_warehouse``).  England's and the region's
  value follow the same rule.
* Polarity: the registry's (LAIT's).  Without one ("Not applicable") there
  is no rank and the band is "Not applicable".
* National rank among the authorities with a value that year: 1 = best, the
  lowest value where lower is better (polarity Low), the highest where higher
  is; ties share the lowest rank (R's ``rank(ties.method = "min")``).
* Quartile band: the value against the quartiles (R's default type 7, the
  linear interpolation numpy and DuckDB's ``quantile_cont`` use) of the values
  of the authorities with a value that year: for polarity Low, A = at most the
  25% quartile, B = up to the median, C = up to the 75% quartile, D = above;
  for High the same quarters lettered D, C, B, A.  A value on a threshold takes
  the band below it, as LAIT's ``<=`` does.  The five thresholds are columns.
* Statistical neighbours: DfE's 2021 model for collection years before
  2022-23, its 2025 model from 2022-23 (collection year 2023) on; each
  neighbour's own value beside their average.
* ``rank_change`` = last year's rank minus this year's: positive = moved
  towards rank 1 (better).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import measures
from .measures import HIGH, LOW, NOT_APPLICABLE, PUBLISHED, PUBLISHED_SUFFIX, REBASED

SN_MODEL_2025_FROM = 2023  # collection year 2022-23 onwards: DfE's 2025 model
MODEL_YEARS = {"2021": (None, SN_MODEL_2025_FROM - 1), "2025": (SN_MODEL_2025_FROM, None)}
MAX_NEIGHBOURS = 10
BANDS_LOW_IS_BETTER = "ABCD"  # quarters from the lowest values up
QUARTILES = (0, 25, 50, 75, 100)
QUARTILE_COLUMNS = tuple(f"quartile_{q}" for q in QUARTILES)
NATIONAL, REGIONAL, AUTHORITY = "National", "Regional", "Local authority"
COUNTS_BASIS = "counts"


@dataclass(frozen=True)
class BenchmarkMeasure:
    name: str
    label: str
    unit: str
    polarity: str  # Low, High or Not applicable
    headline: bool = False


# DfE's headline measures of children's social care activity.
HEADLINE = ("cin_per_10k_children", "escalations_per_10k_children", "rereferral_percentage")
MEASURES: tuple[BenchmarkMeasure, ...] = tuple(
    BenchmarkMeasure(m.name, m.label, m.unit, m.polarity or NOT_APPLICABLE, m.name in HEADLINE)
    for m in measures.MEASURES)
MEASURE_NAMES = tuple(m.name for m in MEASURES)
_PUBLISHED = {m.name for m in measures.DERIVED if m.published}
_RATES = set(measures.RATE_NAMES)


def sn_model(collection_year: int) -> str:
    """The DfE statistical-neighbour model in force for a collection year."""
    return "2025" if collection_year >= SN_MODEL_2025_FROM else "2021"


def quartile_thresholds(values) -> tuple[float, ...] | None:
    """The five quartiles (minimum, 25%, median, 75%, maximum) of the values present, type 7."""
    present = np.asarray(pd.Series(values, dtype=float).dropna(), dtype=float)
    if not present.size:
        return None
    return tuple(float(q) for q in np.quantile(present, [q / 100 for q in QUARTILES]))


def quartile_bands(values, thresholds, polarities) -> np.ndarray:
    """LAIT's band of each value against its row of quartiles (n x 5) and its polarity: see the module
    docstring.  "Not applicable" without a polarity, None without a value."""
    values = np.asarray(values, dtype=float)
    cuts = np.asarray(thresholds, dtype=float).reshape(len(values), len(QUARTILES))
    polarities = np.asarray(polarities, dtype=object)
    # The quarter from the lowest values up (0-3), by LAIT's inclusive upper thresholds.
    quarter = np.select([values <= cuts[:, i] for i in (1, 2, 3)], [0, 1, 2], 3)
    letters = np.array(list(BANDS_LOW_IS_BETTER))
    band = np.where(polarities == LOW, letters[quarter], letters[3 - quarter]).astype(object)
    band[np.isnan(values)] = None
    band[~np.isin(polarities, [LOW, HIGH])] = NOT_APPLICABLE
    return band


def quartile_band(value, thresholds, polarity: str | None) -> str | None:
    """One value's band (`quartile_bands` for one row)."""
    value = np.nan if value is None or pd.isna(value) else float(value)
    cuts = [np.nan] * len(QUARTILES) if thresholds is None else list(thresholds)
    return quartile_bands([value], [cuts], [polarity])[0]


def _with_default_basis(frame: pd.DataFrame) -> pd.DataFrame:
    """Per measure: DfE's published figure where it printed one, else the warehouse's, and which it is."""
    out = frame.copy()
    for name in MEASURE_NAMES:
        warehouse = pd.to_numeric(out[name], errors="coerce").astype(float)
        column = f"{name}{PUBLISHED_SUFFIX}"
        published = pd.to_numeric(out[column], errors="coerce").astype(float) \
            if name in _PUBLISHED and column in out else pd.Series(np.nan, index=out.index)
        own_basis = REBASED if name in _RATES else COUNTS_BASIS
        out[f"{name}__warehouse"] = warehouse
        out[f"{name}__published"] = published
        out[name] = published.where(published.notna(), warehouse)
        basis = pd.Series(own_basis, index=out.index, dtype=object).where(published.isna(), PUBLISHED)
        out[f"{name}__basis"] = basis.where(out[name].notna(), None)
    return out


def long_values(rates: pd.DataFrame) -> pd.DataFrame:
    """marts.cin_rates as one row per area x year x measure: value (default basis), its basis, and DfE's and
    the warehouse's value beside it (NULL when not published)."""
    frame = _with_default_basis(rates)
    ids = ["geographic_level", "area_code", "area_name", "old_la_code", "region_code", "region_name",
           "collection_year", "collection_year_label"]
    parts = {"value": "", "value_basis": "__basis", "value_published": "__published",
             "value_warehouse": "__warehouse"}
    pieces = []
    for name in MEASURE_NAMES:
        piece = frame[ids].copy()
        piece["measure"] = name
        for part, suffix in parts.items():
            piece[part] = frame[f"{name}{suffix}"]
        pieces.append(piece)
    out = pd.concat(pieces, ignore_index=True)
    for part in ("value", "value_published", "value_warehouse"):
        out[part] = out[part].astype(float)
    return out


def _neighbour_values(out: pd.DataFrame, la: pd.DataFrame, neighbours: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """Each authority-year-measure with its model's neighbours' names and values (sn_1_... sn_10_...), their
    average and how many have a value."""
    pairs = neighbours[["model", "old_la_code", "neighbour_rank", "neighbour_old_la_code"]].rename(
        columns={"model": "sn_model"})
    pairs = pairs[pairs["neighbour_rank"] <= MAX_NEIGHBOURS]
    latest_names = la.drop_duplicates("old_la_code", keep="last").set_index("old_la_code")["la_name"]
    named = pairs.assign(name=pairs["neighbour_old_la_code"].map(latest_names))
    names = named.pivot(index=["sn_model", "old_la_code"], columns="neighbour_rank", values="name") \
        .reindex(columns=range(1, MAX_NEIGHBOURS + 1))
    names.columns = [f"sn_{k}_la_name" for k in names.columns]
    names["sn_neighbours"] = named.groupby(["sn_model", "old_la_code"]).size()
    theirs = la[["old_la_code", *key, "value"]].rename(
        columns={"old_la_code": "neighbour_old_la_code", "value": "neighbour_value"})
    index = ["old_la_code", *key]
    joined = out[["old_la_code", "sn_model", *key]].merge(pairs, on=["sn_model", "old_la_code"]) \
        .merge(theirs, on=["neighbour_old_la_code", *key], how="left")
    values = joined.set_index([*index, "neighbour_rank"])["neighbour_value"].unstack("neighbour_rank") \
        .reindex(columns=range(1, MAX_NEIGHBOURS + 1))
    summary = pd.DataFrame({"sn_average": values.mean(axis=1), "sn_count": values.notna().sum(axis=1)})
    values.columns = [f"sn_{k}_value" for k in values.columns]
    out = out.merge(summary.join(values).reset_index(), on=index, how="left") \
        .merge(names.reset_index(), on=["sn_model", "old_la_code"], how="left")
    out["sn_count"] = out["sn_count"].fillna(0).astype(int)
    out["sn_neighbours"] = out["sn_neighbours"].fillna(0).astype(int)
    return out


def _ranks_and_bands(out: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    polarity = {m.name: m.polarity for m in MEASURES}
    out["polarity"] = out["measure"].map(polarity)
    grouped = out.groupby(key, sort=False)["value"]
    out["ranked_authorities"] = grouped.transform("count").astype(int)
    cuts = pd.concat({column: grouped.quantile(q / 100) for column, q in zip(QUARTILE_COLUMNS, QUARTILES)}, axis=1)
    out = out.merge(cuts.reset_index(), on=key, how="left")
    # Rank 1 = best: the lowest value where lower is better, the highest where higher is; none without polarity.
    direction = out["polarity"].map({LOW: 1.0, HIGH: -1.0})
    out["national_rank"] = (out["value"] * direction).groupby([out[k] for k in key]).rank(method="min") \
        .astype("Int64")
    out["quartile_band"] = quartile_bands(out["value"], out[list(QUARTILE_COLUMNS)], out["polarity"])
    return out


def la_benchmarks(rates: pd.DataFrame, neighbours: pd.DataFrame) -> pd.DataFrame:
    """Authority x year x measure: value (DfE's where it printed one), its basis and both values beside it;
    England, region and the statistical neighbours (each, and their average); LAIT's polarity, national rank,
    quartile band and thresholds; change and rank change on the previous year."""
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
    out = _neighbour_values(out, la, neighbours, key)
    out = _ranks_and_bands(out, key)

    previous = out[["old_la_code", *key, "value", "national_rank"]].rename(
        columns={"value": "value_previous_year", "national_rank": "national_rank_previous_year"})
    previous["collection_year"] = previous["collection_year"] + 1
    out = out.merge(previous, on=["old_la_code", *key], how="left")
    out["change_on_previous_year"] = out["value"] - out["value_previous_year"]
    out["rank_change"] = (out["national_rank_previous_year"] - out["national_rank"]).astype("Int64")

    described = {m.name: m for m in MEASURES}
    out["measure_label"] = out["measure"].map(lambda n: described[n].label)
    out["unit"] = out["measure"].map(lambda n: described[n].unit)
    out["headline_measure"] = out["measure"].isin(HEADLINE)
    out["measure_order"] = out["measure"].map(MEASURE_NAMES.index)
    out = out.sort_values(["la_name", "collection_year", "measure_order"], kind="stable")
    neighbour_columns = [f"sn_{k}_{part}" for k in range(1, MAX_NEIGHBOURS + 1) for part in ("la_name", "value")]
    return out[["la_name", "old_la_code", "area_code", "region_code", "region_name", "collection_year",
                "collection_year_label", "measure", "measure_label", "unit", "headline_measure", "polarity",
                "value", "value_basis", "value_published", "value_warehouse", "england_value", "region_value",
                "sn_model", "sn_average", "sn_count", "sn_neighbours", *neighbour_columns,
                "national_rank", "ranked_authorities", "quartile_band", *QUARTILE_COLUMNS, "value_previous_year",
                "change_on_previous_year", "national_rank_previous_year", "rank_change"]].reset_index(drop=True)


WIDE_PARTS = {"": "value", "_basis": "value_basis", "_england": "england_value", "_region": "region_value",
              "_sn_average": "sn_average", "_rank": "national_rank", "_band": "quartile_band"}


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
    """raw.statistical_neighbours with names and codes of both authorities and the collection years each model
    serves in marts.la_benchmarks.  ``names``: old_la_code, la_name, area_code (one row per DfE number)."""
    named = names.drop_duplicates("old_la_code")
    out = neighbours[["model", "old_la_code", "neighbour_rank", "neighbour_old_la_code", "closeness"]] \
        .merge(named, on="old_la_code", how="left") \
        .merge(named.rename(columns={"old_la_code": "neighbour_old_la_code", "la_name": "neighbour_la_name",
                                     "area_code": "neighbour_area_code"}), on="neighbour_old_la_code", how="left")
    out["first_collection_year"] = out["model"].map(lambda m: MODEL_YEARS[m][0]).astype("Int64")
    out["last_collection_year"] = out["model"].map(lambda m: MODEL_YEARS[m][1]).astype("Int64")
    return out[["model", "first_collection_year", "last_collection_year", "la_name", "old_la_code", "area_code",
                "neighbour_rank", "neighbour_la_name", "neighbour_old_la_code", "neighbour_area_code", "closeness"]] \
        .sort_values(["model", "la_name", "neighbour_rank"]).reset_index(drop=True)
