"""Words and number formats that figures and the report share.

Labels of measures come from the measure registry (`measures`); this module
adds how a collection year is written and how stand-in data are recognised,
so a figure and the table beside it never disagree.
"""
from __future__ import annotations

import re

import pandas as pd

from .casework.schemas import DATA_ORIGINS

# The data_origin value of the shipped stand-ins for the council's case
# extracts; figures and the report label anything built from them.
STANDIN_ORIGIN = DATA_ORIGINS[0]
STANDIN_LABEL = f"{STANDIN_ORIGIN} DATA"


# The RCT's outcomes (strand 2), as a heading would print them.
RCT_OUTCOME_LABELS = {"closed": "Case closed", "rereferred": "Re-referred", "escalated": "Escalated (child protection plan)"}
# The trials' analyses (strands 2 and 3).
ANALYSIS_LABELS = {"itt": "Intention to treat", "excluding_contaminated": "Excluding contaminated families"}
# Where a figure's numbers come from, for figures drawn from the public statistics (the casework's
# data_origin, SYNTHETIC or COUNCIL, for the others).
PUBLIC_ORIGIN = "PUBLIC"
_YEAR_SUFFIX = re.compile(r"^(?P<words>.*?)_(?P<year>(19|20)\d\d)$")


def time_point_label(code: str) -> str:
    """A trial's coding point as a heading prints it: the words of its code, its year in brackets
    ('six_months_2016' -> 'Six months (2016)'); each trial names its own in data/trials.yaml."""
    found = _YEAR_SUFFIX.match(str(code))
    words, year = (found["words"], found["year"]) if found else (str(code), None)
    text = words.replace("_", " ").strip().capitalize()
    return f"{text} ({year})" if year else text


def analysis_label(code: str) -> str:
    return ANALYSIS_LABELS.get(code, str(code).replace("_", " "))


def rct_outcome_label(outcome: str, in_sentence: bool = False) -> str:
    """'Case closed', or 'case closed' inside a sentence; unknown outcomes as they are."""
    text = RCT_OUTCOME_LABELS.get(outcome, outcome)
    return text[:1].lower() + text[1:] if in_sentence else text


def is_missing(value) -> bool:
    """None, NaN, NA or NaT: a value to print as missing."""
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def year_label(year) -> str:
    """2016 -> '2015-16' (the collection year ending 31 March 2016)."""
    year = int(year)
    return f"{year - 1}-{year % 100:02d}"


def is_standin(*frames: pd.DataFrame | None) -> bool:
    """True when any non-empty frame's data_origin says it is built from the stand-ins."""
    return any(frame is not None and len(frame) > 0 and "data_origin" in frame
               and bool((frame["data_origin"] == STANDIN_ORIGIN).any()) for frame in frames)
