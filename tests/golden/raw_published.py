"""An independent recomputation of the warehouse's published numbers from the
raw files in data/, with plain pandas (openpyxl/xlrd for the ONS workbooks).

Nothing here imports fact22_assets: the rules are taken from the PROVENANCE
documents and data/sources.yaml, not from the warehouse's SQL.

- Counts: the old statistical first releases (one wide CSV a year, DfE number
  only) and the Explore Education Statistics releases (long, 2013 onwards).
  Where several releases print the same area, year and measure, the latest
  release (highest `rank` in sources.yaml) wins, whatever it printed; a
  symbol (x, c, .., u, z, :, .) or an empty cell is NULL. 2009-10 has no
  re-referrals.
- All-ages population: collection year Y uses mid-(Y-1), from the one file
  sources.yaml names for that mid-year. An authority whose boundary has no
  ONS row is the sum of the components in data/reference/population_geography.csv
  when all are present, else its own ONS code that year, else another code
  its DfE number has carried.
- 0-17 population: the SFR columns catalogued in sources.yaml (mid-2009 to
  mid-2011) and DfE's 0-17 file (mid-2012 onwards); the later release wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
MEASURES = ("referrals", "rereferrals", "cin_at_31_march", "closures", "escalations")
ENGLAND = "E92000001"
NATIONAL_KEY = "England"  # the key of England's row in every file


def _number(text) -> float:
    """A published cell as a number; symbols and blanks are NaN."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan
    cleaned = str(text).replace(",", "").strip().strip('"')
    try:
        return float(cleaned)
    except ValueError:
        return np.nan


@lru_cache(maxsize=1)
def catalogue() -> dict:
    return yaml.safe_load((DATA / "sources.yaml").read_text(encoding="utf-8"))


def _release_rank() -> dict[str, int]:
    return {r["release_id"]: r["rank"] for r in catalogue()["releases"]}


def _sources(family: str) -> list[dict]:
    return [s for s in catalogue()["sources"] if s["family"] == family]


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


# --------------------------------------------------------------------------- counts


def _sfr_cells() -> pd.DataFrame:
    """Old wide files: one row per LA plus England; the DfE number is geog_c."""
    ranks, rows = _release_rank(), []
    for src in _sources("dfe_cin_sfr"):
        frame = _read_csv(DATA / src["path"])
        national = frame["geog_l"].str.strip() == "National"
        keys = np.where(national, NATIONAL_KEY, frame["geog_c"].str.strip())
        for measure, column in src["measures"].items():
            if measure not in MEASURES:
                continue
            rows.append(pd.DataFrame({
                "level": np.where(national, "National", "Local authority"), "key": keys,
                "year": src["collection_year"], "measure": measure, "printed": frame[column].to_numpy(),
                "release_rank": ranks[src["release_id"]], "release_id": src["release_id"]}))
    return pd.concat(rows, ignore_index=True)


def _ees_cells() -> pd.DataFrame:
    """EES long files, National and Local authority rows (keyed by DfE number)."""
    ranks, rows = _release_rank(), []
    for src in _sources("dfe_cin_ees"):
        frame = _read_csv(DATA / src["path"])
        frame = frame[frame["geographic_level"].isin(["National", "Local authority"])]
        national = frame["geographic_level"] == "National"
        keys = np.where(national, NATIONAL_KEY, frame["old_la_code"].str.strip())
        for measure, column in src["measures"].items():
            rows.append(pd.DataFrame({
                "level": frame["geographic_level"].to_numpy(), "key": keys,
                "year": frame["time_period"].astype(int).to_numpy(), "measure": measure,
                "printed": frame[column].to_numpy(),
                "release_rank": ranks[src["release_id"]], "release_id": src["release_id"]}))
    return pd.concat(rows, ignore_index=True)


@lru_cache(maxsize=1)
def counts() -> pd.DataFrame:
    """One row per (level, key, year): the five counts, latest release winning.

    key is the DfE three-digit number for authorities, "England" for England.
    """
    cells = pd.concat([_sfr_cells(), _ees_cells()], ignore_index=True)
    duplicated = cells.duplicated(["level", "key", "year", "measure", "release_id"], keep=False)
    assert not duplicated.any(), cells[duplicated].head()
    latest = (cells.sort_values("release_rank")
              .drop_duplicates(["level", "key", "year", "measure"], keep="last"))
    latest = latest.assign(value=latest["printed"].map(_number))
    wide = latest.pivot(index=["level", "key", "year"], columns="measure", values="value")
    wide = wide.reindex(columns=list(MEASURES))
    # 2009-10 collected children referred more than once, not re-referrals.
    wide.loc[wide.index.get_level_values("year") == 2010, "rereferrals"] = np.nan
    return wide.reset_index()


# --------------------------------------------------------------------------- geography


@lru_cache(maxsize=1)
def la_codes() -> pd.DataFrame:
    """Every (DfE number, ONS code) pair with its dates, combined-reporting rows dropped."""
    frame = _read_csv(DATA / "la_lookup" / "las.csv")
    frame = frame[~frame["new_la_code"].str.contains("/") & frame["old_la_code"].str.fullmatch(r"\d{3}")]
    return frame.assign(
        start=pd.to_datetime(frame["date_of_operation"], format="%d/%m/%Y"),
        end=pd.to_datetime(frame["date_of_termination"].replace("", None), format="%d/%m/%Y"),
    )[["old_la_code", "new_la_code", "la_name", "start", "end"]]


def code_in_year(old_la_code: str, year: int) -> str | None:
    """The ONS code a DfE number carried on 31 March of collection year `year`."""
    day = pd.Timestamp(year, 3, 31)
    rows = la_codes()
    rows = rows[(rows["old_la_code"] == old_la_code) & (rows["start"] <= day)
                & (rows["end"].isna() | (rows["end"] >= day))]
    return rows["new_la_code"].iloc[0] if len(rows) else None


@cache
def unit_code(old_la_code: str) -> str:
    """A panel unit is named by the ONS code of its latest collection year."""
    frame = counts()
    last = frame.loc[(frame["level"] == "Local authority") & (frame["key"] == old_la_code), "year"].max()
    return code_in_year(old_la_code, int(last))


@lru_cache(maxsize=1)
def boundary_changes() -> pd.DataFrame:
    return _read_csv(DATA / "reference" / "boundary_changes.csv")


@lru_cache(maxsize=1)
def population_components() -> dict[str, list[str]]:
    frame = _read_csv(DATA / "reference" / "population_geography.csv")
    return frame.groupby("old_la_code")["component_area_code"].apply(list).to_dict()


# --------------------------------------------------------------------------- populations


@lru_cache(maxsize=1)
def all_ages() -> dict[int, dict[str, float]]:
    """mid-year -> {ONS code: all-ages estimate}, each mid-year from the file sources.yaml names."""
    out: dict[int, dict[str, float]] = {}
    for src in _sources("ons_mye4"):
        sheet = pd.read_excel(DATA / src["path"], sheet_name=src["sheet"], header=src["header_row"] - 1)
        sheet.columns = [str(c).strip() for c in sheet.columns]
        sheet = sheet.dropna(subset=["Code"]).drop_duplicates("Code")
        for mid in src["mid_years"]:
            out[mid] = dict(zip(sheet["Code"].str.strip(), sheet[f"Mid-{mid}"].astype(float)))
    for src in _sources("ons_mye2_csv"):
        frame = _read_csv(DATA / src["path"]).drop_duplicates("Code")
        out[src["mid_year"]] = dict(zip(frame["Code"].str.strip(), frame[src["all_ages_column"]].map(_number)))
    return out


def all_ages_for(key: str, year: int) -> float:
    """All-ages population behind collection year `year` for a DfE number (or England)."""
    estimates = all_ages().get(year - 1, {})
    if key == NATIONAL_KEY:
        return estimates.get(ENGLAND, np.nan)
    parts = population_components().get(key)
    if parts and all(p in estimates for p in parts):
        return float(sum(estimates[p] for p in parts))
    own = code_in_year(key, year)
    if own in estimates:
        return float(estimates[own])
    others = la_codes().loc[la_codes()["old_la_code"] == key, "new_la_code"]
    for code in others:
        if code in estimates:
            return float(estimates[code])
    return np.nan


@lru_cache(maxsize=1)
def children() -> dict[tuple[str, int], float]:
    """(key, mid-year) -> 0-17 estimate, the latest release winning."""
    ranks, cells = _release_rank(), []
    for src in _sources("dfe_cin_sfr"):
        column = src["measures"].get("population_0_17")
        if not column:
            continue
        frame = _read_csv(DATA / src["path"])
        keys = np.where(frame["geog_l"].str.strip() == "National", NATIONAL_KEY, frame["geog_c"].str.strip())
        cells.append(pd.DataFrame({"key": keys, "mid": src["collection_year"] - 1,
                                   "value": frame[column].map(_number), "rank": ranks[src["release_id"]]}))
    for src in _sources("dfe_population_0_17"):
        frame = _read_csv(DATA / src["path"])
        frame = frame[frame["geographic_level"].isin(["National", "Local authority"])]
        keys = np.where(frame["geographic_level"] == "National", NATIONAL_KEY, frame["old_la_code"].str.strip())
        cells.append(pd.DataFrame({"key": keys, "mid": frame["time_period"].astype(int),
                                   "value": frame["population_estimate"].map(_number),
                                   "rank": ranks[src["release_id"]]}))
    frame = pd.concat(cells, ignore_index=True).sort_values("rank").drop_duplicates(["key", "mid"], keep="last")
    return {(k, int(m)): v for k, m, v in zip(frame["key"], frame["mid"], frame["value"])}


# --------------------------------------------------------------------------- rates


RESIDENT_RATES = {"closures_per_10k": "closures", "rereferrals_per_10k": "rereferrals",
                  "escalations_per_10k": "escalations", "referrals_per_10k": "referrals"}
CHILD_RATES = {"closures_per_10k_children": "closures", "rereferrals_per_10k_children": "rereferrals",
               "escalations_per_10k_children": "escalations", "referrals_per_10k_children": "referrals",
               "cin_per_10k_children": "cin_at_31_march"}


@lru_cache(maxsize=1)
def rates() -> pd.DataFrame:
    """Counts, both populations and every rate, for England and every authority-year."""
    frame = counts().copy()
    frame["population_mid_year"] = frame["year"] - 1
    frame["population_all_ages"] = [all_ages_for(k, y) for k, y in zip(frame["key"], frame["year"])]
    kids = children()
    frame["population_0_17"] = [kids.get((k, y - 1), np.nan) for k, y in zip(frame["key"], frame["year"])]
    for rate, count in RESIDENT_RATES.items():
        frame[rate] = 10000.0 * frame[count] / frame["population_all_ages"]
    for rate, count in CHILD_RATES.items():
        frame[rate] = 10000.0 * frame[count] / frame["population_0_17"]
    return frame


# --------------------------------------------------------------------------- the study panel


@dataclass(frozen=True)
class Study:
    study_id: str
    treated_unit_code: str
    pre_years: tuple[int, ...]
    post_years: tuple[int, ...]
    outcomes: tuple[str, ...]
    covariate: str

    @property
    def years(self) -> tuple[int, ...]:
        return self.pre_years + self.post_years


def study(study_id: str = "fact22_cheshire_east") -> Study:
    entries = yaml.safe_load((DATA / "studies.yaml").read_text(encoding="utf-8"))["studies"]
    design = next(s["design"] for s in entries if s["study_id"] == study_id)
    return Study(study_id, design["treated_unit_code"], tuple(design["pre_years"]), tuple(design["post_years"]),
                 tuple(design["outcomes"]), design["covariate"])


def _boundary_breaks_window(old_la_code: str, years: tuple[int, ...]) -> bool:
    """A series that starts after the first study year or ends before the last one."""
    rows = boundary_changes()[boundary_changes()["old_la_code"] == old_la_code]
    for _, row in rows.iterrows():
        first = int(row["first_collection_year"]) if row["first_collection_year"] else None
        last = int(row["last_collection_year"]) if row["last_collection_year"] else None
        if (first is not None and first > min(years)) or (last is not None and last < max(years)):
            return True
    return False


@lru_cache(maxsize=4)
def panel(s: Study) -> pd.DataFrame:
    """Authority x study year: outcomes, covariate and the unit's latest ONS code (do not modify)."""
    frame = rates()
    frame = frame[(frame["level"] == "Local authority") & frame["year"].isin(s.years)].copy()
    frame["unit_code"] = frame["key"].map(unit_code)
    return frame[["unit_code", "key", "year", *s.outcomes, s.covariate]]


def eligible_units(s: Study, outcome: str) -> list[str]:
    """Units with a row, the outcome and the covariate in every study year, and a series
    that no boundary change interrupts within the study window; never the treated unit."""
    frame = panel(s)
    complete = frame.dropna(subset=[outcome, s.covariate]).groupby("unit_code")["year"].nunique()
    keys = frame.groupby("unit_code")["key"].first()
    units = [u for u, n in complete.items() if n == len(s.years) and u != s.treated_unit_code
             and not _boundary_breaks_window(keys[u], s.years)]
    return sorted(units)


def pre_post_means(s: Study, outcome: str, units: list[str]) -> pd.DataFrame:
    """Each unit's mean outcome over the pre- and the post-period."""
    frame = panel(s)
    frame = frame[frame["unit_code"].isin(units)]
    frame = frame.assign(period=np.where(frame["year"].isin(s.pre_years), "pre", "post"))
    return frame.pivot_table(index="unit_code", columns="period", values=outcome, aggfunc="mean")[["pre", "post"]]
