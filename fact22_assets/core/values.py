"""Reading one published cell: a count, or a documented symbol, never a guess."""
from __future__ import annotations

import re

from .errors import SourceDataError

# "3,835" (thousands separators, as the old SFR files print them) but not "3,8".
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")

PUBLISHED = "published"
BLANK = "blank"
INVALID = "invalid"


def read_count(text: object, symbols: dict[str, str]) -> tuple[float | None, str, str | None]:
    """Return (value, status, problem) for one cell of a count column.

    status is ``published`` for a number, the symbol itself for a symbol the
    release documents (the value then stays NULL: a suppressed cell is not a
    zero), ``blank`` for an empty cell, and ``invalid`` with a problem text
    for anything else, including a negative count.
    """
    if text is None:
        return None, BLANK, None
    cell = str(text).strip()
    if cell == "" or cell.lower() == "nan":
        return None, BLANK, None
    if cell in symbols:
        return None, cell, None
    if _GROUPED.match(cell):
        cell = cell.replace(",", "")
    if not _NUMBER.match(cell):
        documented = ", ".join(repr(s) for s in symbols) or "none"
        return None, INVALID, f"{str(text)!r} is neither a number nor a symbol this release documents ({documented})"
    value = float(cell)
    if value < 0:
        return None, INVALID, f"negative count {str(text)!r}"
    return value, PUBLISHED, None


def require_columns(file: str, header: list[str], wanted: dict[str, str], header_row: int = 1) -> None:
    """Fail on the first catalogued column the header lacks, naming it."""
    present = {h.strip() for h in header}
    for measure, column in wanted.items():
        if column not in present:
            near = [h for h in header if h.strip().lower() == column.lower()]
            hint = f" (found {near[0]!r}: column names are case-sensitive)" if near else ""
            raise SourceDataError(
                file,
                header_row,
                column,
                f"column for measure {measure!r} not found in the header{hint}; a renamed column "
                "needs a new mapping in data/sources.yaml",
            )
