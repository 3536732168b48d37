"""Materialise every asset and run every check, then publish.

``python -m fact22_assets.build`` is what ``make warehouse`` runs: the same
refresh job the schedule and the landing sensor start, decided and concluded
by the same code (``glue/freshness.decide``, ``lifecycle/refresh.conclude``),
recorded in the project's Dagster instance (DAGSTER_HOME, default
``.dagster_home/``) as a run of the job ``refresh`` of the code location
``make ui`` serves, so the UI lists it with the refresh job's history and
shows every materialisation and check result of the build.

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

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

from fact22_assets.core.progress import Progress, plural, shorten
from fact22_assets.settings import build_root, dagster_home, logs_dir, problems

EXIT_SETTINGS = 2


def instance_config(home: Path) -> str:
    """The project instance's dagster.yaml: telemetry off, and every run's events in one SQLite file
    (Dagster's default keeps a file per run besides an index, and a build writes about a thousand events),
    written through one engine per process (glue/event_log.py) instead of a new one per event."""
    return ("telemetry:\n  enabled: false\n"
            "event_log_storage:\n  module: fact22_assets.glue.event_log\n"
            "  class: KeptEngineSqliteEventLogStorage\n"
            f"  config:\n    base_dir: {json.dumps(str(home / 'history' / 'consolidated'))}\n")


def _earlier_instance_config(home: Path) -> str:
    """What ``instance_config`` wrote before the event log kept its engine: Dagster's own class, same file."""
    return instance_config(home).replace(
        "module: fact22_assets.glue.event_log\n  class: KeptEngineSqliteEventLogStorage",
        "module: dagster.core.storage.event_log\n  class: ConsolidatedSqliteEventLogStorage")


def project_instance() -> dg.DagsterInstance:
    """The project's persistent Dagster instance (created on first use, with ``instance_config``; an instance
    made before keeps its own configuration and history, except that the configuration this project wrote
    earlier, byte for byte, becomes today's: the same database, read and written by a faster class)."""
    import dagster as dg

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") == _earlier_instance_config(home):
        written = config.with_name(f".dagster.yaml.{os.getpid()}")
        written.write_text(instance_config(home), encoding="utf-8")
        written.replace(config)  # whole: a process starting now reads the old file or the new, never half
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


@contextmanager
def sqlite_kept_open(instance: dg.DagsterInstance) -> Iterator[Callable[[], list[Path]]]:
    """Hold one idle connection to each SQLite file of the instance's storage while a run writes to it.

    Dagster's SQLite storages open a connection per event and close it after the commit; in WAL mode the
    last connection to close a database checkpoints it and deletes its WAL, so every one of a build's ~800
    events paid a checkpoint and its fsyncs (a seventh of a cold build's CPU, sampled).  With a connection
    kept open no close is the last: commits append to the WAL, checkpointed as SQLite does by itself (every
    1,000 pages) and once when this lets go.  The kept connections never write and hold no transaction.
    Yields ``keep``: call it again once the run exists, to keep the files made since (an instance configured
    with a file per run makes the run's then)."""
    import sqlite3

    root = getattr(instance, "root_directory", None)
    kept: dict[Path, sqlite3.Connection] = {}

    def keep() -> list[Path]:
        for path in sorted(Path(root, "history").rglob("*.db")) if root else []:
            if path not in kept:
                connection = sqlite3.connect(path, timeout=30)
                # a read joins the WAL (its shared-memory lock is what keeps the others' closes from checkpointing)
                connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
                kept[path] = connection
        return sorted(kept)

    try:
        keep()
        yield keep
    finally:
        for connection in kept.values():
            connection.close()


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
    from fact22_assets.glue.sources import downstream_of

    return downstream_of(job.asset_layer.asset_graph, sources)


def origins(job_name: str):
    """Where the run comes from, as the UI knows the code location (workspace.yaml): with them the run is
    listed under its job in the code location, and can be re-executed from the UI."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.origin import JobPythonOrigin
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    from fact22_assets.settings import REPO_ROOT

    [location] = location_origins_from_yaml_paths([str(REPO_ROOT / "workspace.yaml")])
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)
    code = JobPythonOrigin(job_name, ReconstructableRepository.for_module(
        "fact22_assets.definitions", "defs", working_directory=str(REPO_ROOT)).get_python_origin())
    return remote, code


def execute(job: dg.JobDefinition, instance: dg.DagsterInstance, run_config: dict, tags: dict[str, str] | None,
            run_id: str, keys: list[dg.AssetKey] | None) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process`` in all but one thing: the run carries the code location's origin
    (``origins``), as a run the daemon launches does.  Dagster's own in-process execution, step for step."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import ExecuteRunWithPlanIterable, create_execution_plan, job_execution_iterator
    from dagster._core.execution.context_creation_job import (
        PlanOrchestrationContextManager,
        orchestration_context_event_generator,
    )
    from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult

    chosen = job.get_subset(asset_selection=set(keys)) if keys is not None else job
    runnable = InMemoryJob(chosen)
    plan = create_execution_plan(runnable, run_config=run_config,
                                 instance_ref=instance.get_ref() if instance.is_persistent else None)
    remote, code = origins(job.name)
    with sqlite_kept_open(instance) as keep:
        run = instance.create_run_for_job(job_def=job, execution_plan=plan, run_id=run_id, run_config=run_config,
                                          tags={**job.run_tags, **(tags or {})},
                                          asset_selection=frozenset(keys) if keys is not None else None,
                                          remote_job_origin=remote, job_code_origin=code)
        keep()
        events = list(ExecuteRunWithPlanIterable(
            execution_plan=plan, iterator=job_execution_iterator,
            execution_context_manager=PlanOrchestrationContextManager(
                context_event_generator=orchestration_context_event_generator, job=runnable, execution_plan=plan,
                dagster_run=run, instance=instance, run_config=run_config, executor_defs=None, output_capture=None,
                raise_on_error=False)))
    return ExecuteInProcessResult(job_def=chosen, event_list=events, dagster_run=instance.get_run_by_id(run_id),
                                  output_capture=None)


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
    result = execute(job.with_logger_defs(_loggers(log_file, handler)), instance or project_instance(),
                     {"loggers": {"build": {}}},  # a logger is used only when the run config names it
                     tags, run_id, keys)
    result.progress, result.log_file = progress, log_file
    return result


def main() -> int:
    wrong = problems()
    if wrong:
        for line in wrong:
            print(f"settings: {line}", file=sys.stderr)
        return EXIT_SETTINGS

    from fact22_assets.glue.freshness import COMMAND, decide
    from fact22_assets.settings import warehouse_path

    started = time.perf_counter()
    # The same decision as the schedule's and the landing sensor's: the landing folder tidied, then
    # nothing to do, or a refresh of what depends on the sources that changed.
    decision = decide(COMMAND, force="--force" in sys.argv[1:])
    for note in decision.notes:
        print(note, file=sys.stderr)
    if not decision.run:
        print(f"warehouse up to date, nothing published: {warehouse_path()} ({decision.why}; "
              f"checked in {time.perf_counter() - started:.2f} s; --force rebuilds)")
        return 0

    from fact22_assets.core.helper_process import stop as stop_helper
    from fact22_assets.core.validation import validate_in_background
    from fact22_assets.lifecycle.refresh import conclude, refresh_tags

    # The helper process, forked before Dagster starts a thread: GX imports on the other core while the
    # definitions load, then validates and draws figures beside the build (core/helper_process.py).
    validate_in_background()
    instance = project_instance()
    scope = ("every asset" if decision.sources is None
             else f"only what depends on {', '.join(decision.sources)} ({decision.why})")
    print(f"building the warehouse: {scope} (Dagster instance {dagster_home()}; full log in {logs_dir()}/)",
          flush=True)
    try:
        result = build(instance, tags=refresh_tags(decision, COMMAND), sources=decision.sources)
    finally:
        stop_helper()
    elapsed = time.perf_counter() - started
    progress: Progress = result.progress
    for line in progress.unfinished():
        print(line)
    from fact22_assets.glue.run_report import failure_reasons

    reasons = failure_reasons(result.all_events)
    for line in reasons:
        print(f"FAILED {line}", file=sys.stderr)  # whole: a refusal names file, row and column
    for line in progress.warnings():
        print(f"warning: {shorten(line, 200)}", file=sys.stderr)
    ok = result.success and not reasons
    # What every refresh leaves behind, whoever started it: the publication's status in the UI, the
    # landed files refused or kept for a retry.
    for line in conclude(instance, result.run_id):
        print(line, file=sys.stderr if not ok else sys.stdout)
    if not ok:
        print(f"the build is kept for inspection in {build_root() / result.run_id} until the next refresh",
              file=sys.stderr)
    done, total, passed, warned, failed = progress.totals()
    print(f"{done} of {total} assets materialised; checks: {passed} passed, {plural(warned, 'warning')}, "
          f"{failed} failed. "
          f"Run {result.run_id}: log {result.log_file}; `make ui` shows it.")
    status = "built and published" if ok else "NOT published (the published warehouse is unchanged)"
    print(f"warehouse {status}: {warehouse_path()} in {elapsed:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
