"""Parsers for ONS mid-year population estimates, into one long shape.

Rows: (area, mid-year, age group, population) with the file row and column
each number came from.  ``mid_year`` is the year of the 30 June estimate.
"""
from __future__ import annotations

import re

import pandas as pd

from .catalogue import Source, provenance
from .errors import SourceDataError
from .tabular import read_csv_table
from .values import read_count, require_columns

POPULATION_COLUMNS = [
    "source_id",
    "release_id",
    "source_file",
    "source_row",
    "source_column",
    "area_code",
    "area_name",
    "geography_type",
    "old_la_code",
    "mid_year",
    "age_group",
    "value_text",
    "population",
    "value_status",
    "problem",
]
ALL_AGES = "all_ages"
CHILDREN = "0_17"
_MID_YEAR = re.compile(r"^Mid-(\d{4})$")


def _row(source: Source, row: int, column: str, code, name, geography, old_code, mid_year: int, age: str, text) -> dict:
    value, status, problem = read_count(text, source.release.symbols)
    return {
        **provenance(source, row, column),
        "area_code": code,
        "area_name": name,
        "geography_type": geography,
        "old_la_code": old_code,
        "mid_year": mid_year,
        "age_group": age,
        "value_text": None if text is None else str(text),
        "population": value,
        "value_status": status,
        "problem": problem,
    }


def parse_mye4(source: Source) -> pd.DataFrame:
    """ONS MYE4 summary sheet: one row per area, one ``Mid-YYYY`` column per year."""
    display = f"{source.relative_path} [sheet {source.options['sheet']}]"
    header_row = int(source.options["header_row"])
    try:
        sheet = pd.read_excel(source.path, sheet_name=source.options["sheet"], header=None, dtype=object)
    except ValueError as error:
        raise SourceDataError(source.relative_path, None, None, f"cannot read sheet {source.options['sheet']!r}: {error}") from None
    if len(sheet) < header_row:
        raise SourceDataError(display, header_row, None, "sheet ends before its header row")
    header = ["" if pd.isna(h) else str(h).strip() for h in sheet.iloc[header_row - 1]]
    if header[:3] != ["Code", "Name", "Geography"]:
        raise SourceDataError(
            display, header_row, "A",
            f"expected the header 'Code, Name, Geography, Mid-…' on row {header_row}, found {header[:3]}; "
            "has the header moved? Set header_row in data/sources.yaml",
        )
    years_at = {int(m.group(1)): i for i, h in enumerate(header) if (m := _MID_YEAR.match(h))}
    wanted = [int(y) for y in source.options["mid_years"]]
    missing = [y for y in wanted if y not in years_at]
    if missing:
        raise SourceDataError(display, header_row, f"Mid-{missing[0]}", "mid-year column not found in the header")
    rows: list[dict] = []
    seen: dict[str, tuple] = {}
    for offset, values in enumerate(sheet.iloc[header_row:].itertuples(index=False)):
        file_row = header_row + 1 + offset
        code = values[0]
        if pd.isna(code) or not str(code).strip():
            continue
        code = str(code).strip()
        numbers = tuple(values[years_at[y]] for y in wanted)
        if code in seen:
            # MYE4 of the mid-2020 release prints ENGLAND twice; identical rows are one area.
            if seen[code] == numbers:
                continue
            raise SourceDataError(display, file_row, "Code", f"area {code} appears twice with different figures")
        seen[code] = numbers
        name = str(values[1]).strip()
        geography = str(values[2]).strip()
        for year, number in zip(wanted, numbers):
            rows.append(_row(source, file_row, f"Mid-{year}", code, name, geography, None, year, ALL_AGES, number))
    return pd.DataFrame(rows, columns=POPULATION_COLUMNS)


def parse_mye2_csv(source: Source) -> pd.DataFrame:
    """A CSV export of MYE2 Persons: one row per area, the all-ages total in one column."""
    table = read_csv_table(source.path, source.relative_path, source.options.get("encoding", "utf-8-sig"))
    column = source.options["all_ages_column"]
    require_columns(table.file, table.header, {"code": "Code", "name": "Name", "geography": "Geography", "all_ages": column})
    at = {c: table.column_index(c) for c in ("Code", "Name", "Geography", column)}
    year = int(source.options["mid_year"])
    rows = [
        _row(source, table.row_number(i), column, r[at["Code"]].strip(), r[at["Name"]].strip(),
             r[at["Geography"]].strip(), None, year, ALL_AGES, r[at[column]])
        for i, r in enumerate(table.rows)
    ]
    return pd.DataFrame(rows, columns=POPULATION_COLUMNS)


def parse_dfe_children(source: Source) -> pd.DataFrame:
    """DfE's file of ONS estimates of children aged 0 to 17.  Its ``time_period``
    is the mid-year of the estimate (DfE's rates for reporting year Y use Y-1)."""
    table = read_csv_table(source.path, source.relative_path, source.options.get("encoding", "utf-8-sig"))
    needed = ["time_period", "geographic_level", "region_code", "region_name", "old_la_code", "new_la_code",
              "la_name", "age_group", "population_estimate"]
    require_columns(table.file, table.header, {c: c for c in needed})
    at = {c: table.column_index(c) for c in needed}
    rows = []
    for i, r in enumerate(table.rows):
        file_row = table.row_number(i)
        level = r[at["geographic_level"]].strip()
        period = r[at["time_period"]].strip()
        if not period.isdigit():
            raise SourceDataError(table.file, file_row, "time_period", f"{period!r} is not a year")
        if level == "National":
            code, name, old_code = "E92000001", "England", None
        elif level == "Regional":
            code, name, old_code = r[at["region_code"]].strip(), r[at["region_name"]].strip(), None
        elif level == "Local authority":
            code, name, old_code = r[at["new_la_code"]].strip(), r[at["la_name"]].strip(), r[at["old_la_code"]].strip()
        else:
            continue
        rows.append(_row(source, file_row, "population_estimate", code, name, level, old_code, int(period),
                         CHILDREN, r[at["population_estimate"]]))
    return pd.DataFrame(rows, columns=POPULATION_COLUMNS)


PARSERS = {"ons_mye4": parse_mye4, "ons_mye2_csv": parse_mye2_csv, "dfe_population_0_17": parse_dfe_children}
