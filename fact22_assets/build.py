"""Materialise every asset and run every check, then publish.

``python -m fact22_assets.build`` is what ``make warehouse`` runs: the same
refresh job the schedule and the landing sensor start, recorded in the
project's Dagster instance (DAGSTER_HOME, default ``.dagster_home/``) so that
``make ui`` shows every materialisation and check result of the build.

The terminal gets the settings checked first (a wrong one is one line naming
the variable and the path, before anything runs), then one line per stage
as it completes and a summary; Dagster's full event stream goes to
``warehouse/logs/<run id>.log`` and to the UI.  It stops with a non-zero
exit, naming the failed steps and checks, when anything fails; the published
warehouse then stays as it was and any landing files are refused (unless the
machine, not the data, stopped it: then they stay for a retry).

When the inputs (by sha256) and the code equal what was last published, it
says so and exits before loading Dagster: nothing to do costs nothing.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

from fact22_assets.core.progress import Progress, plural, shorten
from fact22_assets.settings import dagster_home, logs_dir, problems

EXIT_SETTINGS = 2


def project_instance() -> dg.DagsterInstance:
    """The project's persistent Dagster instance (created on first use, telemetry off)."""
    import dagster as dg

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


class _ProgressHandler(logging.Handler):
    """Turns the run's Dagster events into the terminal's stage lines."""

    def __init__(self, progress: Progress, started: float, out=None):
        super().__init__(level=logging.DEBUG)
        self.progress, self.started, self.out = progress, started, out or sys.stdout

    def emit(self, record: logging.LogRecord) -> None:
        import dagster as dg

        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None:
            return
        elapsed = time.perf_counter() - self.started
        kind, data, lines = event.event_type_value, event.event_specific_data, []
        if kind == "ASSET_MATERIALIZATION":
            lines = self.progress.materialised(event.asset_key.to_user_string(), elapsed)
        elif kind == "ASSET_CHECK_EVALUATION":
            lines = self.progress.checked(data.asset_key.to_user_string(), data.check_name, data.passed,
                                          data.severity == dg.AssetCheckSeverity.ERROR, data.description or "",
                                          elapsed)
        elif kind == "STEP_FAILURE":
            error = data.error
            while error.cause is not None:
                error = error.cause
            if "blocking asset check failed" not in error.message:
                lines = self.progress.step_failed(event.step_key, error.message.strip())
        for line in lines:
            print(line, file=self.out, flush=True)


def _loggers(log_file: Path, handler: logging.Handler) -> dict[str, dg.LoggerDefinition]:
    import dagster as dg

    @dg.logger(description="Full event stream to a file; stage lines to the terminal.")
    def build_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("fact22.build", level=logging.DEBUG)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(to_file)
        logger.addHandler(handler)
        return logger

    return {"build": build_logger}


def stage_groups(job: dg.JobDefinition, keys: list[dg.AssetKey] | None = None) -> tuple[dict[str, str], list[str]]:
    """Asset (as shown in the UI, "raw/cin_ees") -> its group, for the assets the job materialises
    (of ``keys`` only, when given), and the checks ("asset:check") it evaluates."""
    graph = job.asset_layer.asset_graph
    chosen = [k for k in job.asset_layer.executable_asset_keys if keys is None or k in set(keys)]
    groups = {key.to_user_string(): graph.get(key).group_name for key in chosen
              if graph.get(key).is_materializable}
    checks = [f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys
              if keys is None or c.asset_key in set(keys)]
    return groups, checks


def selected_keys(job: dg.JobDefinition, sources: tuple[str, ...] | None) -> list[dg.AssetKey] | None:
    """The assets a refresh of ``sources`` rebuilds: those sources and everything downstream of them
    (None, everything, when ``sources`` is None)."""
    import dagster as dg

    from fact22_assets.glue.sources import source_key

    if sources is None:
        return None
    graph = job.asset_layer.asset_graph
    return sorted(dg.AssetSelection.assets(*(source_key(s) for s in sources)).downstream().resolve(graph),
                  key=lambda key: key.to_user_string())


def build(instance: dg.DagsterInstance | None = None, tags: dict[str, str] | None = None,
          out=None, sources: tuple[str, ...] | None = None) -> dg.ExecuteInProcessResult:
    """Run the refresh job: every asset, or (``sources``) only what depends on those sources."""
    from fact22_assets.definitions import defs

    job = defs().resolve_job_def("refresh")
    keys = selected_keys(job, sources)
    run_id = str(uuid.uuid4())
    log_dir = logs_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{run_id}.log"
    progress = Progress(*stage_groups(job, keys))
    handler = _ProgressHandler(progress, time.perf_counter(), out)
    result = job.with_logger_defs(_loggers(log_file, handler)).execute_in_process(
        run_config={"loggers": {"build": {}}},  # a logger is used only when the run config names it
        instance=instance or project_instance(), raise_on_error=False, tags=tags, run_id=run_id,
        asset_selection=keys)
    result.progress, result.log_file = progress, log_file
    return result


def main() -> int:
    wrong = problems()
    if wrong:
        for line in wrong:
            print(f"settings: {line}", file=sys.stderr)
        return EXIT_SETTINGS

    from fact22_assets.glue.freshness import nothing_to_do
    from fact22_assets.settings import warehouse_path

    started = time.perf_counter()
    same, why = nothing_to_do()
    if same and "--force" not in sys.argv[1:]:
        print(f"warehouse up to date, nothing published: {warehouse_path()} ({why}; "
              f"checked in {time.perf_counter() - started:.2f} s; --force rebuilds)")
        return 0

    from fact22_assets.core.landing import landing_files, load_full_catalogue, reject
    from fact22_assets.glue.freshness import refresh_plan
    from fact22_assets.glue.run_report import LANDING_TAG, failure_reasons, infrastructure_failure
    from fact22_assets.settings import accepted_dir, data_dir, landing_dir

    plan = refresh_plan() if "--force" not in sys.argv[1:] else None
    instance = project_instance()
    scope = ("every asset" if plan is None or plan.sources is None
             else f"only what depends on {', '.join(plan.sources)} ({plan.why})")
    print(f"building the warehouse: {scope} (Dagster instance {dagster_home()}; full log in {logs_dir()}/)",
          flush=True)
    waiting = landing_files(landing_dir())
    try:
        _, candidates, incomplete = load_full_catalogue(data_dir(), accepted_dir(), landing_dir(), with_waiting=True)
    except Exception:  # noqa: BLE001 - whatever a landed file does to the reader, the run refuses it with the reason
        pass
    else:
        # Files of a release landed in part wait for the rest: not built, not refused.
        for part in incomplete:
            print(part.describe(time.time()), file=sys.stderr)
        waiting = [s.path for s in candidates]
    result = build(instance, tags={LANDING_TAG: ",".join(p.name for p in waiting)} if waiting else None,
                   sources=None if plan is None else plan.sources)
    elapsed = time.perf_counter() - started
    progress: Progress = result.progress
    for line in progress.unfinished():
        print(line)
    reasons = failure_reasons(result.all_events)
    for line in reasons:
        print(f"FAILED {line}", file=sys.stderr)  # whole: a refusal names file, row and column
    for line in progress.warnings():
        print(f"warning: {shorten(line, 200)}", file=sys.stderr)
    ok = result.success and not reasons
    if not ok:
        from fact22_assets.glue.publication_status import report_stale_publication

        said = report_stale_publication(instance, warehouse_path(), result.run_id, reasons)
        print(f"meta/publication in the UI now says: {said}", file=sys.stderr)
    if not ok and infrastructure_failure(reasons):
        print(f"the machine, not the data, stopped the refresh: {len(waiting)} landed file(s) stay in "
              f"{landing_dir()} for the next attempt", file=sys.stderr)
    elif not ok and waiting:
        for path in reject(waiting, reasons, landing_dir() / "rejected"):
            print(f"refused landing file {path.name}: see {path.name}.reason.txt in {path.parent}", file=sys.stderr)
    done, total, passed, warned, failed = progress.totals()
    print(f"{done} of {total} assets materialised; checks: {passed} passed, {plural(warned, 'warning')}, "
          f"{failed} failed. "
          f"Run {result.run_id}: log {result.log_file}; `make ui` shows it.")
    status = "built and published" if ok else "NOT published (the published warehouse is unchanged)"
    print(f"warehouse {status}: {warehouse_path()} in {elapsed:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
