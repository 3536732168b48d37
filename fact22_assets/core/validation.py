"""A thin wrapper over Great Expectations 1.x for validating DataFrames.

GX is imported lazily (it costs seconds) and runs in one ephemeral,
analytics-free context per process.  Each failed expectation comes back
with the rows it failed on, described by the caller's locator columns
(for raw tables: file, row and column), so a check can say where.

A build calls `validate_in_background` first: its helper process (forked,
`helper_process`) imports GX and makes its context while the build loads
Dagster and ingests, then runs every validation of the build (the same
function, on a copy of the frame): GX's import never waits on the build's
one busy core.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from fact22_assets.core import helper_process

SAMPLE_ROWS = 10


@dataclass(frozen=True)
class Expectation:
    """One GX expectation by its class name, e.g.
    ``Expectation("ExpectColumnValuesToNotBeNull", column="value")``."""

    kind: str
    kwargs: dict[str, Any]

    def __init__(self, kind: str, **kwargs: Any):
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "kwargs", kwargs)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.kind}({args})"


@dataclass
class Failure:
    expectation: str
    unexpected_count: int | None
    unexpected_rows: list[dict] = field(default_factory=list)
    observed: Any = None

    def summary(self) -> str:
        where = "; ".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in self.unexpected_rows[:3])
        files = {r["source_file"] for r in self.unexpected_rows if r.get("source_file")}
        if files and all("source_row" in r for r in self.unexpected_rows):
            # Say which rows of which file first: several cells of one row would
            # otherwise crowd out the other rows (a duplicate is two rows).
            rows = sorted({int(r["source_row"]) for r in self.unexpected_rows})
            where = f"{', '.join(sorted(files))} rows {rows}: " + where
        count_text = "" if self.unexpected_count is None else f" ({self.unexpected_count} unexpected)"
        observed = "" if self.observed is None else f" observed {self.observed!r}"
        return f"{self.expectation}{count_text}{observed}" + (f" at {where}" if where else "")


@dataclass
class ValidationOutcome:
    suite: str
    success: bool
    evaluated: int
    failures: list[Failure]

    def message(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations met"
        return f"{self.suite}: " + " | ".join(f.summary() for f in self.failures)


@lru_cache(maxsize=1)
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False}
    except Exception:  # progress bars are cosmetic; older builds lack the setting
        pass
    # One data asset for every frame: each validation passes its frame as the batch.
    asset = context.data_sources.add_pandas("fact22_frames").add_dataframe_asset(name="frame")
    return gx, asset.add_batch_definition_whole_dataframe("whole")


def validate_in_background() -> bool:
    """Fork the build's helper process (`helper_process`) and have it import GX and make its context now;
    every later validation of this process runs there.  Call it before any thread starts."""
    return helper_process.start(_context)


def validate_frame(frame: pd.DataFrame, expectations: list[Expectation], suite: str,
                   locator: list[str] | None = None) -> ValidationOutcome:
    """Validate ``frame`` against ``expectations``; ``locator`` names the columns
    that tell a person where a failing row is (e.g. source_file, source_row,
    source_column).  In the build's helper process when this process started one."""
    return helper_process.call(_validate, frame, expectations, suite, locator)


def _validate(frame: pd.DataFrame, expectations: list[Expectation], suite: str,
              locator: list[str] | None) -> ValidationOutcome:
    gx, batch_definition = _context()
    frame = frame.reset_index(drop=True)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    gx_suite = gx.ExpectationSuite(name=suite)
    for index, expectation in enumerate(expectations):
        gx_suite.add_expectation(
            getattr(gx.expectations, expectation.kind)(**expectation.kwargs, meta={"fact22_index": index}))
    # A pass needs only the verdict; the rows a failure names cost a second, complete, validation.
    result = batch.validate(gx_suite, result_format="BOOLEAN_ONLY")
    if not result.success:
        result = batch.validate(gx_suite, result_format="COMPLETE")
    failures = []
    # GX neither keeps the suite's order in its results nor gives ephemeral
    # expectations ids: match each result to ours by the index in its meta.
    for item in result.results:
        expectation = expectations[item.expectation_config.meta["fact22_index"]]
        if item.success:
            continue
        detail = item.result or {}
        rows = []
        indices = detail.get("unexpected_index_list") or []
        if locator and indices:
            picked = [i if isinstance(i, int) else i.get("index", i) for i in indices[:SAMPLE_ROWS]]
            picked = [i for i in picked if isinstance(i, int)]
            rows = frame.loc[picked, locator].astype(object).where(lambda f: f.notna(), None).to_dict("records")
        failures.append(Failure(expectation.describe(), detail.get("unexpected_count"), rows,
                                detail.get("observed_value")))
    return ValidationOutcome(suite, bool(result.success), len(expectations), failures)
