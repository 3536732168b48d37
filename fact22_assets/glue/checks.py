"""Turning validation outcomes into Dagster check results with evidence."""
import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from fact22_assets.core.validation import Expectation, validate_frame
from fact22_assets.glue.tables import sql_text

SAMPLE = 20


def gx_result(frame: pd.DataFrame, expectations: list[Expectation], suite: str, locator: list[str],
              severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """Validate with Great Expectations and put what failed, and where, in metadata."""
    outcome = validate_frame(frame, expectations, suite, locator)
    failed_rows = [
        {"expectation": f.expectation, "unexpected_count": f.unexpected_count, "observed": str(f.observed), **row}
        for f in outcome.failures for row in (f.unexpected_rows or [{}])
    ]
    metadata = {
        "suite": dg.MetadataValue.text(suite),
        "expectations_evaluated": dg.MetadataValue.int(outcome.evaluated),
        "expectations_failed": dg.MetadataValue.int(len(outcome.failures)),
        "rows_validated": dg.MetadataValue.int(len(frame)),
        "expectations": dg.MetadataValue.md("\n".join(f"- `{e.describe()}`" for e in expectations)),
    }
    if failed_rows:
        metadata["failures"] = dg.MetadataValue.md(pd.DataFrame(failed_rows).head(SAMPLE).to_markdown(index=False))
    return dg.AssetCheckResult(passed=outcome.success, severity=severity, description=outcome.message()[:2000],
                               metadata=metadata)


def rows_result(offending: pd.DataFrame, what: str,
                severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """A SQL invariant: passes when the query found no offending rows."""
    if offending.empty:
        return dg.AssetCheckResult(passed=True, severity=severity, description=f"no {what}",
                                   metadata={"offending_rows": 0})
    first = "; ".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in offending.head(3).to_dict("records"))
    return dg.AssetCheckResult(
        passed=False, severity=severity,
        description=f"{len(offending)} {what}: {first}"[:2000],
        metadata={"offending_rows": len(offending),
                  "sample": dg.MetadataValue.md(offending.head(SAMPLE).to_markdown(index=False))},
    )


def check_query(duckdb: DuckDBResource, name: str, params=None) -> pd.DataFrame:
    """Rows returned by ``sql/checks/<name>.sql``: the offending rows of an invariant."""
    with duckdb.get_connection() as con:
        return con.execute(sql_text(f"checks/{name}.sql"), params or None).df()


class InlineCheck:
    """A blocking check evaluated inside its asset's materialization, on the asset's own connection: no step
    and no connection of its own (each costs about a tenth of a second of a build).  The asset declares
    ``spec`` among its check_specs and returns ``result(con)``; called with a DuckDB resource, as the tests of
    every check do, it opens a connection and evaluates."""

    def __init__(self, asset: dg.AssetKey, name: str, description: str, evaluate):
        self.spec = dg.AssetCheckSpec(name, asset=asset, description=description, blocking=True)
        self.evaluate = evaluate

    @property
    def check_specs(self) -> list[dg.AssetCheckSpec]:
        return [self.spec]

    def result(self, con) -> dg.AssetCheckResult:
        found = self.evaluate(con)
        return dg.AssetCheckResult(check_name=self.spec.name, asset_key=self.spec.asset_key, passed=found.passed,
                                   severity=found.severity, description=found.description, metadata=found.metadata)

    def __call__(self, duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            return self.result(con)


def rows_of(con, name: str, params=None) -> pd.DataFrame:
    """``check_query`` on an open connection."""
    return con.execute(sql_text(f"checks/{name}.sql"), params or None).df()
