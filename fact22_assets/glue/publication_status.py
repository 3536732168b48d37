"""Whether the published warehouse is the latest build, as the Dagster UI shows it.

A refresh that fails publishes nothing: analysts keep reading the last good
file.  The check ``serves_latest_build`` on ``meta/publication`` says which:
a successful refresh evaluates it (passed, naming the build it serves and
since when), and every failed refresh, whoever started it (`make warehouse`,
the schedule, the landing sensor: lifecycle/refresh.py ``conclude``), reports
it failed with the build still served and the attempt's reasons, so the asset
graph and the asset's page show the published data as older than the latest
attempt.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

PUBLICATION = dg.AssetKey(["meta", "publication"])
CHECK = "serves_latest_build"


def last_publication(published: Path) -> dict | None:
    """The newest row of meta.publication in the published file (None when nothing is published)."""
    if not published.exists():
        return None
    con = duckdb.connect(str(published), read_only=True)
    try:
        row = con.execute("SELECT published_at, run_id, vintage, code_version FROM meta.publication "
                          "ORDER BY published_at DESC LIMIT 1").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return None if row is None else dict(zip(["published_at", "run_id", "vintage", "code_version"], row))


def stale_evaluation(published: Path, run_id: str, reasons: list[str]) -> dg.AssetCheckEvaluation:
    served = last_publication(published)
    if served is None:
        said = f"nothing is published: the latest refresh (run {run_id}) failed"
    else:
        said = (f"STALE: serving vintage {served['vintage']} published {served['published_at']:%Y-%m-%d %H:%M} UTC "
                f"(run {served['run_id']}); the latest refresh (run {run_id}, "
                f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC) failed and published nothing")
    return dg.AssetCheckEvaluation(
        asset_key=PUBLICATION, check_name=CHECK, passed=False, severity=dg.AssetCheckSeverity.WARN,
        description=said,
        metadata={"failed_run": dg.MetadataValue.text(run_id),
                  "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons) or "- (see the run)"),
                  **served_metadata(served)})


def report_stale_publication(instance: dg.DagsterInstance, published: Path, run_id: str,
                             reasons: list[str]) -> str:
    """Record on meta/publication that the published data are older than a failed attempt; returns the text."""
    evaluation = stale_evaluation(published, run_id, reasons)
    instance.report_runless_asset_event(evaluation)
    instance.report_runless_asset_event(dg.AssetObservation(
        asset_key=PUBLICATION, description=evaluation.description,
        metadata={"status": dg.MetadataValue.text(evaluation.description), **evaluation.metadata}))
    return evaluation.description


@dg.asset_check(asset=PUBLICATION, name=CHECK, blocking=False,
                description="The published warehouse is the build of the latest refresh. A failed refresh publishes "
                            "nothing; whoever started it (make warehouse, the schedule, the landing sensor), this "
                            "check is then recorded failed, naming the build still served and why the attempt "
                            "failed.")
def serves_latest_build(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from fact22_assets.settings import warehouse_path

    served = last_publication(warehouse_path())
    current = served is not None and served["run_id"] == context.run.run_id
    return dg.AssetCheckResult(
        passed=current, severity=dg.AssetCheckSeverity.WARN,
        description=(f"serving this run's build: vintage {served['vintage']}, published "
                     f"{served['published_at']:%Y-%m-%d %H:%M} UTC" if current
                     else "the published file is not this run's build"),
        metadata=served_metadata(served))


def served_metadata(served: dict | None) -> dict[str, dg.MetadataValue]:
    """Which build is served, and since when: on the publication's page after every refresh."""
    if served is None:
        return {"served_run": dg.MetadataValue.text("none"), "served_vintage": dg.MetadataValue.text("none")}
    return {"served_run": dg.MetadataValue.text(str(served["run_id"])),
            "served_vintage": dg.MetadataValue.text(str(served["vintage"])),
            "served_since": dg.MetadataValue.text(f"{served['published_at']:%Y-%m-%d %H:%M} UTC")}
