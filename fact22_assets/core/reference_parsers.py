"""Parsers for geography and comparator reference files."""
from __future__ import annotations

import re
from datetime import date, datetime

import pandas as pd

from .catalogue import Source
from .errors import SourceDataError
from .tabular import read_csv_table
from .values import require_columns


def _date(text: str, file: str, row: int, column: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise SourceDataError(file, row, column, f"{text!r} is not a dd/mm/yyyy date") from None


def parse_las(source: Source) -> pd.DataFrame:
    """DfE's list of children's-services authorities with dates of operation.

    Rows that report two authorities together ("940 / 941") are kept and
    flagged: they describe joint reporting, not an authority of their own.
    """
    table = read_csv_table(source.path, source.relative_path)
    needed = ["new_la_code", "la_name", "date_of_operation", "date_of_termination", "parent_geography_code",
              "status", "old_la_code"]
    require_columns(table.file, table.header, {c: c for c in needed})
    at = {c: table.column_index(c) for c in needed}
    rows = []
    for i, r in enumerate(table.rows):
        file_row = table.row_number(i)
        rows.append({
            "source_row": file_row,
            "la_code": r[at["new_la_code"]].strip(),
            "la_name": r[at["la_name"]].strip(),
            "old_la_code": r[at["old_la_code"]].strip(),
            "valid_from": _date(r[at["date_of_operation"]], table.file, file_row, "date_of_operation"),
            "valid_to": _date(r[at["date_of_termination"]], table.file, file_row, "date_of_termination"),
            "region_code": r[at["parent_geography_code"]].strip(),
            "status": r[at["status"]].strip(),
            "is_joint_reporting": "/" in r[at["new_la_code"]],
            # The list also holds placeholders such as BFPO (code "z").
            "is_authority": bool(re.match(r"^E(06|08|09|10)\d{6}$", r[at["new_la_code"]].strip())),
        })
    return pd.DataFrame(rows)


def parse_regions(source: Source) -> pd.DataFrame:
    table = read_csv_table(source.path, source.relative_path)
    require_columns(table.file, table.header, {"region_code": "region_code", "region_name": "region_name"})
    at = {c: table.column_index(c) for c in ("region_code", "region_name")}
    return pd.DataFrame(
        [{"source_row": table.row_number(i), "region_code": r[at["region_code"]].strip(),
          "region_name": r[at["region_name"]].strip()} for i, r in enumerate(table.rows)]
    )


def parse_statistical_neighbours(source: Source) -> pd.DataFrame:
    """DfE statistical neighbours, one row per authority and neighbour rank.

    The 2021 CSV repeats the header ``SNP`` after every ``SNk``; the 2025 CSV
    names them ``SN_k`` / ``SN_kP``.  Both are read by position.
    """
    table = read_csv_table(source.path, source.relative_path)
    header = table.header
    model = str(source.options["model"])
    code_column = "LA num" if "LA num" in header else "old_la_code"
    require_columns(table.file, header, {"authority": code_column})
    code_at = header.index(code_column)
    neighbours = [(i, h) for i, h in enumerate(header) if h.replace("_", "").startswith("SN") and h.replace("_", "")[2:].isdigit()]
    if len(neighbours) != 10:
        raise SourceDataError(table.file, 1, None, f"expected 10 neighbour columns SN1..SN10, found {len(neighbours)}")
    rows = []
    predecessor_section = False
    for i, r in enumerate(table.rows):
        file_row = table.row_number(i)
        code = r[code_at].strip()
        if not code:
            # The 2021 file ends with a section headed "Old SNs:" for authorities
            # that no longer exist; the label row has no code.
            predecessor_section = predecessor_section or any("old sns" in c.lower() for c in r)
            continue
        if not code.isdigit():
            raise SourceDataError(table.file, file_row, code_column, f"{code!r} is not a DfE authority number")
        for rank, (at, name) in enumerate(neighbours, start=1):
            neighbour = r[at].strip()
            if not neighbour.isdigit():
                raise SourceDataError(table.file, file_row, name, f"{neighbour!r} is not a DfE authority number")
            rows.append({
                "model": model, "source_row": file_row, "old_la_code": code, "neighbour_rank": rank,
                "neighbour_old_la_code": neighbour, "closeness": r[at + 1].strip(),
                "predecessor_authority": predecessor_section,
            })
    return pd.DataFrame(rows)


def parse_deprivation(source: Source) -> pd.DataFrame:
    """IoD2019 upper-tier summaries: average score and its rank (1 = most deprived)."""
    display = f"{source.relative_path} [sheet {source.options['sheet']}]"
    sheet = pd.read_excel(source.path, sheet_name=source.options["sheet"], header=int(source.options["header_row"]) - 1)
    sheet.columns = [str(c).strip() for c in sheet.columns]
    wanted = {
        "utla_code": "Upper Tier Local Authority District code (2019)",
        "utla_name": "Upper Tier Local Authority District name (2019)",
        "imd_average_score": "IMD - Average score",
        "imd_rank_of_average_score": "IMD - Rank of average score",
    }
    require_columns(display, list(sheet.columns), wanted, header_row=int(source.options["header_row"]))
    frame = sheet[list(wanted.values())].rename(columns={v: k for k, v in wanted.items()})
    frame.insert(0, "source_row", range(int(source.options["header_row"]) + 1, int(source.options["header_row"]) + 1 + len(frame)))
    return frame.dropna(subset=["utla_code"])
