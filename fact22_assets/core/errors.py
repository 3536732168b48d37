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


INFRASTRUCTURE = "infrastructure problem, not a data problem"


class InfrastructureError(RuntimeError):
    """The machine, not the data, stopped a refresh: a lock held by another
    process, a read-only or full disk.  The landed files are not at fault, so
    they stay in the landing folder for the next attempt; the message says
    what to do."""

    def __init__(self, problem: str, remedy: str):
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"{INFRASTRUCTURE}: {problem}. What to do: {remedy}. The landed files stay in the "
                         "landing folder and the next refresh retries them.")
