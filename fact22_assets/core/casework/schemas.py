"""Column specifications of a trial's CSV inputs and their validation.

Beside its census returns (core/census), a trial reads a randomisation list
and, optionally, researcher-coded extracts (coded risk notes, a service's
management information). These are council data about children. The
warehouse ingests the real files and the synthetic stand-ins through the same
schemas, so anything the schemas refuse is refused for both. Arms, coding
points, locations and dates are the trial's (data/trials.yaml), never
constants here.

Row numbers in errors are *file line numbers*: the header is line 1, so the
first data row is row 2 (1-based data row + 1 for the header). An error about
the header itself (a missing or unknown column) is reported at row 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ..errors import SourceDataError

SERVICE_OUTCOMES = ("closed", "escalated_cp", "escalated_lac", "open", "other")
ENGAGEMENT_LEVELS = ("strong_desire", "compliant", "tokenistic", "dissent")

DATA_ORIGINS = ("SYNTHETIC", "COUNCIL")
# Council extracts arrive without a data_origin column; synthetic files carry one.
DEFAULT_DATA_ORIGIN = "COUNCIL"

# A child's id as the council's census return carries it (LAchildID): letters, digits, '-' and '_'. Anything
# else (a name, free text, an NHS number with spaces) is refused. Ids are pseudonymised at ingest.
CHILD_ID_PATTERN = r"[A-Za-z0-9_-]{1,40}"
# Pseudonymous identifiers of a council's own extracts (service families): a short letter prefix and digits.
PSEUDONYM_PATTERN = r"[A-Z]{1,4}[0-9]{1,8}"

# Sanity bounds for dates that are not otherwise constrained: they catch
# typed-in years (2091, 1915) without guessing at the service's history.
EARLIEST_PLAUSIBLE = date(2000, 1, 1)
LATEST_PLAUSIBLE = date(2035, 12, 31)

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UK_DATE = re.compile(r"\d{2}/\d{2}/\d{4}")


class ExtractError(SourceDataError):
    """A council extract that does not meet its schema (file, row, column and problem
    as for a published file: the header is row 1, the first data row is row 2)."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an extract.

    dtype is one of: text, bool, int, flag (0/1), date, date_list
    (';'-separated dates). `required` means every row must hold a value.
    """

    name: str
    dtype: str
    required: bool = True
    allowed: tuple[str, ...] | None = None
    min_value: int | date | None = None
    max_value: int | date | None = None
    pattern: str | None = None
    description: str = ""


# A cross-column rule: takes the typed frame, returns (position, column,
# problem) for the first offending row, or None.
RowRule = Callable[[pd.DataFrame], "tuple[int, str, str] | None"]


@dataclass(frozen=True)
class ExtractSchema:
    name: str
    columns: tuple[ColumnSpec, ...]
    unique_key: tuple[str, ...] = ()
    rules: tuple[RowRule, ...] = field(default=())
    unknown_column_problem: str = "unknown column (not in the schema)"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _is_null(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value.strip() == ""


def _parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if hasattr(value, "dtype") and value.dtype == bool:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (true/false, yes/no, 1/0)")


def _parse_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != int(value):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        raise ValueError(f"{value!r} is not a whole number")
    return int(float(text))


def _parse_date(value) -> date:
    """ISO (YYYY-MM-DD) or UK (DD/MM/YYYY) dates; nothing ambiguous."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value if type(value) is date else value.date()
    text = str(value).strip()
    try:
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
        if _UK_DATE.fullmatch(text):
            day, month, year = (int(part) for part in text.split("/"))
            return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date ({exc})") from None
    raise ValueError(f"{value!r} is not a date (expected YYYY-MM-DD or DD/MM/YYYY)")


def _parse_value(value, spec: ColumnSpec):
    if spec.dtype == "text":
        text = str(value).strip()
        if spec.pattern and not re.fullmatch(spec.pattern, text):
            raise ValueError(f"{text!r} does not match the pseudonymous id pattern {spec.pattern}")
        if spec.allowed and text not in spec.allowed:
            raise ValueError(f"unknown value {text!r}; allowed: {', '.join(spec.allowed)}")
        return text
    if spec.dtype == "bool":
        return _parse_bool(value)
    if spec.dtype in ("int", "flag"):
        number = _parse_int(value)
        if spec.dtype == "flag" and number not in (0, 1):
            raise ValueError(f"{value!r} is not a 0/1 flag")
        _check_range(number, spec)
        return number
    if spec.dtype == "date":
        day = _parse_date(value)
        _check_range(day, spec)
        return pd.Timestamp(day)
    if spec.dtype == "date_list":
        days = sorted(_parse_date(part) for part in str(value).split(";") if part.strip())
        for day in days:
            _check_range(day, spec)
        return ";".join(d.isoformat() for d in days) or None
    raise ValueError(f"schema error: unknown dtype {spec.dtype!r}")


def _check_range(value, spec: ColumnSpec) -> None:
    low = spec.min_value
    high = spec.max_value
    if spec.dtype in ("date", "date_list"):
        low = low if low is not None else EARLIEST_PLAUSIBLE
        high = high if high is not None else LATEST_PLAUSIBLE
    if low is not None and value < low:
        raise ValueError(f"{value} is below the allowed minimum {low}")
    if high is not None and value > high:
        raise ValueError(f"{value} is above the allowed maximum {high}")


def _typed_series(values: list, spec: ColumnSpec) -> pd.Series:
    if spec.dtype == "bool":
        return pd.Series(values, dtype="boolean")
    if spec.dtype in ("int", "flag"):
        return pd.Series(values, dtype="Int64")
    if spec.dtype == "date":
        return pd.to_datetime(pd.Series(values, dtype="object"))
    return pd.Series(values, dtype="object")


def line_number(position: int) -> int:
    """File line of the data row at 0-based `position` (header is line 1)."""
    return position + 2


def validate_extract(df: pd.DataFrame, schema: ExtractSchema, source_file: str) -> pd.DataFrame:
    """Check an extract against its schema and return it typed.

    Raises ExtractError (file, row, column) at the first problem found:
    header problems first, then values column by column, then duplicate
    keys, then cross-column rules. Accepts text (as read with dtype=str) or
    already-typed values. The returned frame has the schema's columns in
    order, plus `data_origin` (kept if present, else DEFAULT_DATA_ORIGIN);
    booleans are pandas 'boolean', integers 'Int64', dates datetime64, and
    date lists a normalised, sorted ';'-separated text.
    """
    present = [str(c) for c in df.columns]
    expected = schema.column_names
    unexpected = [c for c in present if c not in expected and c != "data_origin"]
    for name in expected:
        if name not in present:
            hint = f"; unexpected column(s) {', '.join(unexpected)} - renamed?" if unexpected else ""
            raise ExtractError(source_file, 1, name, f"required column is missing{hint}")
    if unexpected:
        raise ExtractError(source_file, 1, unexpected[0], schema.unknown_column_problem)

    frame = df.reset_index(drop=True)
    typed = {}
    for spec in schema.columns:
        values = []
        for position, raw in enumerate(frame[spec.name].tolist()):
            if _is_null(raw):
                if spec.required:
                    raise ExtractError(
                        source_file, line_number(position), spec.name, "value is missing"
                    )
                values.append(None)
                continue
            try:
                values.append(_parse_value(raw, spec))
            except ValueError as exc:
                raise ExtractError(source_file, line_number(position), spec.name, str(exc)) from None
        typed[spec.name] = _typed_series(values, spec)
    out = pd.DataFrame(typed)

    origin_spec = ColumnSpec("data_origin", "text", allowed=DATA_ORIGINS)
    if "data_origin" in present:
        origins = []
        for position, raw in enumerate(frame["data_origin"].tolist()):
            try:
                origins.append(_parse_value(raw, origin_spec))
            except ValueError as exc:
                raise ExtractError(source_file, line_number(position), "data_origin", str(exc)) from None
        out["data_origin"] = origins
    else:
        out["data_origin"] = DEFAULT_DATA_ORIGIN

    if schema.unique_key:
        duplicated = out.duplicated(list(schema.unique_key), keep="first")
        if duplicated.any():
            position = int(duplicated.to_numpy().nonzero()[0][0])
            key = ", ".join(f"{k}={out.at[position, k]}" for k in schema.unique_key)
            raise ExtractError(
                source_file,
                line_number(position),
                schema.unique_key[0],
                f"duplicate {' + '.join(schema.unique_key)} ({key})",
            )

    for rule in schema.rules:
        problem = rule(out)
        if problem is not None:
            position, column, text = problem
            raise ExtractError(source_file, line_number(position), column, text)
    return out


def read_extract(path, schema: ExtractSchema) -> pd.DataFrame:
    """Read a CSV extract as text (no type guessing) and validate it."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_extract(raw, schema, str(path))


def _first(mask: pd.Series) -> int | None:
    hits = mask.fillna(False).astype(bool).to_numpy().nonzero()[0]
    return int(hits[0]) if len(hits) else None


def _split_dates(text) -> list[pd.Timestamp]:
    if text is None or (isinstance(text, float) and text != text):
        return []
    return [pd.Timestamp(part) for part in str(text).split(";") if part]


# --- randomisation list ----------------------------------------------------


def randomisation_schema(arms: Sequence[str], first: date, last: date, list_columns: Sequence[str]) -> ExtractSchema:
    """The trial's randomisation list: one row per randomised child (the lead child of a family), the arm and the
    date; optional 0/1 columns the trial names (list_columns in data/trials.yaml)."""
    return ExtractSchema(
        name="randomisation",
        columns=(
            ColumnSpec("LAchildID", "text", pattern=CHILD_ID_PATTERN,
                       description="the child's id as in the census return (pseudonymised at ingest)"),
            ColumnSpec("arm", "text", allowed=tuple(arms)),
            ColumnSpec("randomised_on", "date", min_value=first, max_value=last),
            *(ColumnSpec(column, "bool") for column in list_columns),
        ),
        unique_key=("LAchildID",),
    )


# --- risk_notes ----------------------------------------------------------


def _arm_constant_per_case(df):
    first_arm = df.groupby("case_id")["arm"].transform("first")
    position = _first(df["arm"] != first_arm)
    if position is not None:
        return position, "arm", "case appears in both arms"
    return None


def risk_notes_schema(factor_codes: Sequence[str], arms: Sequence[str], time_points: Sequence[str]) -> ExtractSchema:
    """Schema of the coded case notes: one row per trial case (its LAchildID) and coding point, one 0/1 column per
    framework factor.

    The factor columns come from data/reference/risk_framework.csv, so a
    column that is not a framework factor is refused as an unknown code. The
    arms and coding points are the trial's (data/trials.yaml).
    """
    factor_columns = tuple(ColumnSpec(code, "flag") for code in factor_codes)
    return ExtractSchema(
        name="risk_notes",
        columns=(
            ColumnSpec("case_id", "text", pattern=CHILD_ID_PATTERN),
            ColumnSpec("arm", "text", allowed=tuple(arms)),
            ColumnSpec("time_point", "text", allowed=tuple(time_points)),
            *factor_columns,
            ColumnSpec("parent_engagement", "text", allowed=ENGAGEMENT_LEVELS),
            # Not coded for very young children; scores 0 when empty.
            ColumnSpec("child_engagement", "text", required=False, allowed=ENGAGEMENT_LEVELS),
        ),
        unique_key=("case_id", "time_point"),
        rules=(_arm_constant_per_case,),
        unknown_column_problem="unknown factor code (not in data/reference/risk_framework.csv)",
    )


# --- service_mi ----------------------------------------------------------


def _service_dates(df):
    position = _first(df["end_date"] < df["start_date"])
    if position is not None:
        return position, "end_date", "end date is before the start date"
    is_open = df["outcome"] == "open"
    position = _first(is_open & df["end_date"].notna())
    if position is not None:
        return position, "end_date", "an open case cannot have an end date"
    position = _first(~is_open & df["end_date"].isna())
    if position is not None:
        return position, "end_date", "a case that is not open needs an end date"
    return None


def service_schema(locations: Sequence[str], first: date, last: date) -> ExtractSchema:
    """The service's management information: one row per family it worked with, the service's own period and
    locations (data/trials.yaml)."""
    return ExtractSchema(
        name="service_information",
        columns=(
            ColumnSpec("family_id", "text", pattern=PSEUDONYM_PATTERN),
            ColumnSpec("start_date", "date", min_value=first, max_value=last),
            ColumnSpec("end_date", "date", required=False, min_value=first),
            ColumnSpec("location", "text", allowed=tuple(locations)),
            ColumnSpec("outcome", "text", allowed=SERVICE_OUTCOMES),
        ),
        unique_key=("family_id",),
        rules=(_service_dates,),
    )
