"""Errors that point a person at the exact cell that is wrong."""
from __future__ import annotations


class SourceDataError(ValueError):
    """A published file that cannot be read as the catalogue describes it.

    Rows are numbered as a spreadsheet shows them: the header of a CSV is
    row 1, its first data row is row 2; in an Excel sheet the row is the
    sheet's own row number.
    """

    def __init__(self, file: str, row: int | None, column: str | None, problem: str):
        self.file = file
        self.row = row
        self.column = column
        self.problem = problem
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}")
