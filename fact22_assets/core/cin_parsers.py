"""Parsers for DfE children-in-need files, into one long shape of cells.

Every published layout (the wide old statistical first releases, the long
Explore Education Statistics files) becomes rows of
(area, collection year, measure, value, status, file row, file column), so
that staging treats all releases alike and every value can be traced to
the cell it came from.
"""
from __future__ import annotations

import pandas as pd

from .catalogue import Source, provenance
from .errors import SourceDataError
from .measures import PUBLISHED_FIGURES
from .tabular import read_csv_table
from .values import INVALID, read_count, require_columns

CELL_COLUMNS = [
    "source_id",
    "release_id",
    "source_file",
    "source_row",
    "source_column",
    "geographic_level",
    "area_code",
    "old_la_code",
    "area_name",
    "region_code",
    "region_name",
    "collection_year",
    "measure",
    "value_text",
    "value",
    "value_status",
    "problem",
]

NOT_COLLECTED = "not_collected"
ENGLAND_CODE = "E92000001"
_EES_LEVELS = {"National", "Regional", "Local authority"}
_EES_STRUCTURE = ["time_period", "geographic_level", "region_code", "region_name", "old_la_code", "new_la_code", "la_name"]


def _cell(source: Source, row: int, column: str | None, level: str, area_code, old_la_code, area_name,
          region_code, region_name, year: int, measure: str, text: str | None) -> dict:
    if column is None:
        value, status, problem = None, NOT_COLLECTED, source.not_collected.get(measure)
    else:
        value, status, problem = read_count(text, source.release.symbols)
    return {
        **provenance(source, row, column),
        "geographic_level": level,
        "area_code": area_code or None,
        "old_la_code": old_la_code or None,
        "area_name": area_name,
        "region_code": region_code or None,
        "region_name": region_name or None,
        "collection_year": year,
        "measure": measure,
        "value_text": text,
        "value": value,
        "value_status": status,
        "problem": problem,
    }


def parse_sfr(source: Source, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A wide statistical first release file: one row per authority plus England,
    the year embedded in the column names (the catalogue names each one).  ``columns``: measure -> the
    column to read (default: the catalogue's ``measures``, with its ``not_collected`` ones)."""
    counts = columns is None
    columns = source.measures if counts else columns
    not_collected = source.not_collected if counts else {}
    table = read_csv_table(source.path, source.relative_path, source.options.get("encoding", "utf-8-sig"))
    require_columns(table.file, table.header, {"level": "geog_l", "code": "geog_c", "name": "geog_n"})
    require_columns(table.file, table.header, columns)
    year = int(source.options["collection_year"])
    index = {name: table.column_index(name) for name in ["geog_l", "geog_c", "geog_n"]}
    new_code_at = table.column_index("new_la_code") if "new_la_code" in table.header else None
    measure_at = {m: table.column_index(c) for m, c in columns.items()}
    cells: list[dict] = []
    for i, row in enumerate(table.rows):
        file_row = table.row_number(i)
        level_text = row[index["geog_l"]].strip()
        if level_text == "National":
            level, code, old_code, name = "National", ENGLAND_CODE, None, "England"
        elif level_text == "LA":
            level = "Local authority"
            old_code = row[index["geog_c"]].strip()
            code = row[new_code_at].strip() if new_code_at is not None else None
            name = row[index["geog_n"]].strip()
            if not old_code.isdigit():
                raise SourceDataError(table.file, file_row, "geog_c", f"authority code {old_code!r} is not a DfE number")
        else:
            raise SourceDataError(table.file, file_row, "geog_l", f"unknown geographic level {level_text!r}")
        for measure, at in measure_at.items():
            cells.append(_cell(source, file_row, columns[measure], level, code, old_code, name,
                               None, None, year, measure, row[at]))
        for measure in not_collected:
            cells.append(_cell(source, file_row, None, level, code, old_code, name, None, None, year, measure, None))
    return pd.DataFrame(cells, columns=CELL_COLUMNS)


def parse_ees(source: Source, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A long Explore Education Statistics file: one row per geography and year.  ``columns``: measure ->
    the column to read (default: the catalogue's ``measures``)."""
    columns = source.measures if columns is None else columns
    table = read_csv_table(source.path, source.relative_path, source.options.get("encoding", "utf-8-sig"))
    require_columns(table.file, table.header, {c: c for c in _EES_STRUCTURE})
    require_columns(table.file, table.header, columns)
    at = {name: table.column_index(name) for name in _EES_STRUCTURE}
    measure_at = {m: table.column_index(c) for m, c in columns.items()}
    expected_years = source.options.get("years")
    cells: list[dict] = []
    for i, row in enumerate(table.rows):
        file_row = table.row_number(i)
        level = row[at["geographic_level"]].strip()
        if level not in _EES_LEVELS:
            continue
        period = row[at["time_period"]].strip()
        if not period.isdigit() or len(period) != 4:
            raise SourceDataError(table.file, file_row, "time_period", f"{period!r} is not a reporting year like 2025")
        year = int(period)
        if expected_years and not (expected_years[0] <= year <= expected_years[-1]):
            raise SourceDataError(table.file, file_row, "time_period",
                                  f"year {year} is outside the years {expected_years} the catalogue expects")
        if level == "National":
            code, old_code, name = ENGLAND_CODE, None, "England"
        elif level == "Regional":
            code, old_code, name = row[at["region_code"]].strip(), None, row[at["region_name"]].strip()
        else:
            code, old_code, name = row[at["new_la_code"]].strip(), row[at["old_la_code"]].strip(), row[at["la_name"]].strip()
            if not old_code.isdigit():
                raise SourceDataError(table.file, file_row, "old_la_code", f"authority code {old_code!r} is not a DfE number")
        for measure, column_at in measure_at.items():
            cells.append(_cell(source, file_row, columns[measure], level, code, old_code, name,
                               row[at["region_code"]].strip(), row[at["region_name"]].strip(), year, measure,
                               row[column_at]))
    if not cells:
        raise SourceDataError(table.file, None, "geographic_level", "no National, Regional or Local authority rows")
    return pd.DataFrame(cells, columns=CELL_COLUMNS)


def parse_published(source: Source) -> pd.DataFrame:
    """DfE's own rates, percentages and 0-17 denominators a file prints (``published_columns:`` in
    data/sources.yaml), as cells like ``parse_sfr``'s and ``parse_ees``' with the registry's names.

    A population file (``denominator_for: [first, last]``, the collection years whose rates divide by its
    estimates) holds mid-years: each collection year Y takes the latest mid-year before Y ends (mid-(Y-1), or
    the last one the file has: DfE's 2021-22 rates divide by mid-2020, mid-2021 not being out yet)."""
    columns = source.published_columns
    unknown = sorted(set(columns) - set(PUBLISHED_FIGURES))
    if unknown:
        raise SourceDataError(source.relative_path, None, None,
                              f"published_columns names {unknown}, not DfE figures the warehouse keeps; known: "
                              f"{', '.join(PUBLISHED_FIGURES)}")
    cells = (parse_sfr if source.family == "dfe_cin_sfr" else parse_ees)(source, columns)
    cells = _declare_differences(source, cells)
    served = source.options.get("denominator_for")
    if not served:
        return cells
    mid_years = cells.rename(columns={"collection_year": "mid_year"})
    years = pd.DataFrame({"collection_year": range(int(served[0]), int(served[-1]) + 1)})
    paired = years.merge(mid_years, how="cross")
    paired = paired[paired["mid_year"] <= paired["collection_year"] - 1]
    latest = paired.sort_values("mid_year").groupby(
        ["collection_year", "geographic_level", "area_code", "old_la_code", "measure"], dropna=False).tail(1)
    return latest.drop(columns="mid_year")[CELL_COLUMNS].sort_values(["collection_year", "source_row"]) \
        .reset_index(drop=True)


def _declare_differences(source: Source, cells: pd.DataFrame) -> pd.DataFrame:
    """Mark the cells the catalogue declares as DfE's own file disagreeing with itself
    (``published_differences: [{row, column, reason}]``): their ``problem`` holds the reason."""
    declared = source.options.get("published_differences") or []
    for entry in declared:
        at = (cells["source_row"] == int(entry["row"])) & (cells["source_column"] == str(entry["column"]))
        if not at.any():
            raise SourceDataError(source.relative_path, int(entry["row"]), str(entry["column"]),
                                  "published_differences names a cell that holds no published figure")
        cells.loc[at, "problem"] = str(entry["reason"])
    return cells


def invalid_cells(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells["value_status"] == INVALID]
