"""Reuse the DiD step's estimates of a (study, vintage, outcome) job whose inputs did not change.

A job's results are a deterministic function of what it reads (core/did: no random draws; the same tables
in one process or two, see defs/did/parallel.py): the study's definition, the outcome, the estimators, the
code and the libraries that compute, the comparator context (statistical neighbours, deprivation, donor
exclusions) and, of the vintage's panel, only the rows of the study's years (every estimator reads the
study's pre- and post-period years, no other) plus the list of units and their names (the eligibility
table lists every unit of the panel).  `job_key` digests exactly that, so a corrected population outside a
study's window leaves its jobs' keys as they were.

`result_store.ResultStore` keeps each job's results under its key (a pickle: the very frames a fresh estimate gives, so
the marts stacked from them are the cold build's to the bit).  Because a key names everything the result
depends on, a stored result is right whichever run stored it: a run that failed later, one that was never
published, one on other studies.  Nothing is compared with the previous publication, so where its rows
live (the published file, the run's build copy) does not matter.  A file that cannot be read is a miss.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import result_store

# Bump when what a stored result holds changes shape.
FORMAT = "did-job-1"
# The libraries whose arithmetic the estimates are (a new version may move a result in its last digits).
LIBRARIES = ("numpy", "pandas", "scipy", "numba", "statsmodels")


def frame_digest(frame: pd.DataFrame | None) -> str:
    """sha256 of a frame's columns, dtypes and values in row order (the index is not read by the estimators)."""
    digest = hashlib.sha256()
    if frame is None:
        digest.update(b"None")
        return digest.hexdigest()
    digest.update(repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode())
    digest.update(f"rows={len(frame)}".encode())
    for name in frame.columns:
        values = frame[name].to_numpy()
        digest.update(b"\0" + str(name).encode() + b"\0")
        if values.dtype.kind in "biufcmM":
            digest.update(np.ascontiguousarray(values).tobytes())
        else:  # strings, None, pd.NA: their repr, each quoted and separated by repr of the list
            digest.update(repr(values.tolist()).encode())
    return digest.hexdigest()


def panel_slice_digest(panel: pd.DataFrame, years: Iterable[int]) -> str:
    """The part of a vintage's panel a study's jobs read: every column of the rows of ``years``, and every
    unit of the panel with its latest name (eligibility lists units that have no row in the window)."""
    years = sorted(set(years))
    rows = panel[panel["collection_year"].isin(years)]
    latest = panel.dropna(subset=["unit_name"]).sort_values("collection_year", kind="stable")
    names = latest.groupby("unit_code")["unit_name"].last()
    units = pd.DataFrame({"unit_code": sorted(panel["unit_code"].unique())})
    units["unit_name"] = names.reindex(units["unit_code"]).to_numpy()
    digest = hashlib.sha256(f"years={years}".encode())
    for part in (rows, units):
        digest.update(frame_digest(part.reset_index(drop=True)).encode())
    return digest.hexdigest()


def reusable(panel: pd.DataFrame) -> bool:
    """Whether a panel's jobs may be reused: one row per unit and year.  A duplicate (outside any window
    too) makes the estimators' pivot fail in a fresh build, so the jobs must run and fail the same way."""
    return not panel.duplicated(["unit_code", "collection_year"]).any()


def library_versions() -> str:
    return result_store.library_versions(LIBRARIES)


def job_key(*, code: str, libraries: str, study: Any, outcome: str, estimators: Sequence[str], panel_slice: str,
            neighbours: pd.DataFrame | None, deprivation: pd.DataFrame | None, exclusions: Mapping[str, str],
            neighbours_by_unit: pd.DataFrame | None) -> str:
    """The digest of everything one job's results depend on (``study``: its frozen dataclass, whose repr
    holds every field; ``code``: the fingerprint of the package and its SQL, so any code change is a miss)."""
    parts = [FORMAT, code, libraries, repr(study), outcome, repr(tuple(estimators)), panel_slice,
             frame_digest(neighbours), frame_digest(deprivation), repr(sorted(exclusions.items())),
             frame_digest(neighbours_by_unit)]
    return hashlib.sha256("\n\0".join(parts).encode()).hexdigest()
