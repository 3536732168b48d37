"""Reading published CSV files as text, exactly as printed."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceDataError


@dataclass(frozen=True)
class CsvTable:
    """Header and rows of a CSV, every cell as text; ``row_number(i)`` is the
    file row of data row ``i`` (the header is row 1)."""

    file: str
    header: list[str]
    rows: list[list[str]]

    def row_number(self, index: int) -> int:
        return index + 2

    def column_index(self, name: str) -> int:
        return [h.strip() for h in self.header].index(name)


def _first_row(data: bytes, encoding: str) -> list[str] | None:
    """The first CSV row of some bytes, for naming where a bad byte sits; None if they are not CSV at all."""
    try:
        return next(csv.reader(io.StringIO(data.decode(encoding, errors="replace"), newline="")), [])
    except csv.Error:
        return None


def read_csv_table(path: Path, display_name: str, encoding: str = "utf-8-sig") -> CsvTable:
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceDataError(display_name, 1, None, "file is empty: no header row")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        header = _first_row(raw.split(b"\n", 1)[0], encoding) or []
        cells_before = _first_row(raw[line_start:error.start], encoding) or [""]
        column = header[len(cells_before) - 1].strip() if 0 < len(cells_before) <= len(header) else None
        raise SourceDataError(
            display_name,
            line,
            column,
            f"byte {error.start} is not valid {encoding} ({error.reason}); the file is in another "
            "encoding: record it as `encoding:` in the catalogue once you know which",
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise SourceDataError(display_name, reader.line_num, None, f"not a readable CSV file ({error})") from None
    if not rows:
        raise SourceDataError(display_name, None, None, "file has no header")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if not body:
        raise SourceDataError(display_name, 2, None, "file has a header but no data rows (truncated?)")
    for index, row in enumerate(rows[1:]):
        if any(cell.strip() for cell in row) and len(row) != len(header):
            # Name the first column the short row lacks (or the first extra one).
            column = header[len(row)] if len(row) < len(header) else f"(extra cell {len(header) + 1})"
            raise SourceDataError(
                display_name,
                index + 2,
                column,
                f"has {len(row)} cells where the header has {len(header)} (truncated or shifted row?)",
            )
    return CsvTable(file=display_name, header=header, rows=[r for r in rows[1:] if any(c.strip() for c in r)])
