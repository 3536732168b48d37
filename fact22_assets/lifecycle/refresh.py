"""The annual refresh: one job over every asset, and its three front doors.

`make warehouse` (``fact22_assets.build``), the schedule and the landing
sensor all decide through ``glue/freshness.decide`` (tidy the landing
folder, then nothing to do, or a refresh of what depends on the sources that
changed) and all conclude through ``conclude``: a failed refresh records
``serves_latest_build`` failed on ``meta/publication`` with its reasons and
the build still served, then leaves the landed files for a retry (the
machine stopped it: the retry marker makes the landing folder count as new)
or refuses them (their data failed).  The run failure sensor concludes the
runs the daemon launched; `make warehouse` concludes its own.
"""
import warnings
from datetime import UTC, datetime

import dagster as dg

from fact22_assets.core.files import write_atomically
from fact22_assets.core.landing import landing_files, reject
from fact22_assets.core.landing_folder import REJECTED, survey
from fact22_assets.glue.freshness import SCHEDULE, SENSOR, RefreshDecision, decide
from fact22_assets.glue.publication_status import PUBLICATION, last_publication, report_stale_publication
from fact22_assets.glue.run_report import (
    CHECKED_TAG,
    LANDING_TAG,
    checked_files,
    infrastructure_failure,
    refused_selection,
    run_failure_reasons,
)
from fact22_assets.glue.sources import NOT_REFRESHED_GROUP, downstream_of
from fact22_assets.settings import landing_dir, warehouse_path

# Written when the machine stopped a refresh: its content joins the landing folder's fingerprint, so the
# next sensor tick asks for a new run of the same files.
RETRY_MARKER = ".retry"
# Why a run rebuilds what it rebuilds (every asset, or what depends on the sources that changed).
PLAN_TAG = "fact22/refresh_plan"
# Which front door started it: make warehouse, the schedule or the landing sensor.
TRIGGER_TAG = "fact22/trigger"
# Set once a finished refresh was concluded, so that `make warehouse` and the failure sensor never both do it.
CONCLUDED_TAG = "fact22/concluded"
_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # `include_sources` is "beta" in Dagster 1.13
    # The sources are observed first: each materialisation then records the data versions it read.
    # The national placebo study (group "calibration", its own partitioned job) is no part of a refresh:
    # a refresh reads its files as the source sources/calibration.
    EVERYTHING = dg.AssetSelection.all(include_sources=True) - dg.AssetSelection.groups(NOT_REFRESHED_GROUP)
refresh = dg.define_asset_job(
    "refresh",
    selection=EVERYTHING,
    description="Rebuild every asset from the catalogue plus the landing folder into this run's build file, "
                "validate, and publish only if every blocking check passes.",
)


def refresh_tags(decision: RefreshDecision, trigger: str) -> dict[str, str]:
    """The tags every refresh carries, whoever started it."""
    tags = {PLAN_TAG: decision.why, TRIGGER_TAG: trigger}
    if decision.landed:
        tags[LANDING_TAG] = ",".join(decision.landed)
    return tags


def refresh_selection(decision: RefreshDecision, graph) -> list[dg.AssetKey] | None:
    """The assets a refresh of this decision selects (None: every asset, or no graph to resolve against)."""
    return None if graph is None else downstream_of(graph, decision.sources)


def _graph(context):
    """The asset graph the context evaluates against (None when it has none, as a context built by hand)."""
    try:
        return context.repository_def.asset_graph if context.repository_def is not None else None
    except dg.DagsterInvariantViolationError:
        return None


@dg.schedule(job=refresh, cron_schedule=["0 6 15 7 *", "0 6 15 11 *"], execution_timezone="Europe/London",
             description="Mid-July (after ONS's mid-year estimates) and mid-November (after DfE's CIN release); "
                         "skips when the sources and the code equal the published ones.")
def annual_refresh(context: dg.ScheduleEvaluationContext):
    # DfE publishes the children-in-need statistics each autumn and ONS its mid-year estimates each summer.
    decision = decide(SCHEDULE)
    if not decision.run:
        return dg.SkipReason(f"nothing to refresh: {decision.skip_reason()}")
    return dg.RunRequest(asset_selection=refresh_selection(decision, _graph(context)),
                         tags=refresh_tags(decision, SCHEDULE))


def folder_fingerprint(folder) -> str:
    """The landing folder's state (its files' names, sizes and times, and the retry marker)."""
    import hashlib

    fingerprint = hashlib.sha256()
    for path in landing_files(folder):
        status = path.stat()
        fingerprint.update(f"{path.name}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    marker = folder / RETRY_MARKER
    if marker.exists():
        fingerprint.update(marker.read_bytes())
    return fingerprint.hexdigest()


@dg.sensor(job=refresh, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a refresh when new files appear in the landing folder (FACT22_LANDING_DIR); "
                       "refuses links and anything not a readable release file, and sets aside release files "
                       "the warehouse does not use, saying so in its reason.")
def landing_sensor(context: dg.SensorEvaluationContext):
    folder = landing_dir()
    if survey(folder).empty:
        return dg.SkipReason(f"landing folder {folder} is empty")
    if context.instance.get_runs(dg.RunsFilter(job_name=refresh.name, statuses=_ACTIVE), limit=1):
        return dg.SkipReason("a refresh is running; the landing folder is looked at again when it ends")
    decision = decide(SENSOR)
    for note in decision.notes:
        context.log.info(note)
    if not decision.run:
        if decision.up_to_date:
            lead = "the landed files are already published" if decision.landed else "nothing to refresh"
            return dg.SkipReason(f"{lead}: {decision.skip_reason()}")
        return dg.SkipReason(decision.skip_reason())
    # The run key makes one refresh per state of the folder, however often the sensor ticks.
    return dg.RunRequest(run_key=folder_fingerprint(folder), asset_selection=refresh_selection(decision, _graph(context)),
                         tags=refresh_tags(decision, SENSOR))


def _targets_publication(run: dg.DagsterRun) -> bool:
    """Whether the run was to publish: a selection that holds the publish step, or the refresh job's whole
    selection (which Dagster records as no selection or, for a job that leaves a group out, an empty one)."""
    if run.asset_selection:
        return PUBLICATION in run.asset_selection
    return run.job_name == refresh.name


def conclude(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """What a finished refresh leaves behind, whoever started it; returns what it did, one line each.

    A success: the build it published is served (its publication step recorded that).  A failure of a
    run that was to publish: ``serves_latest_build`` failed, naming the build still served and the
    reasons; then its landed files stay (the machine stopped it: the retry marker; or its selection was
    short of what the refresh needs: not their fault) or are refused with the reasons that name them.
    Done once per run (a run tag records it)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(CONCLUDED_TAG):
        return []
    lines = []
    if run.status == dg.DagsterRunStatus.SUCCESS:
        served = last_publication(warehouse_path())
        if served is not None and _targets_publication(run):
            lines.append(f"serving build {served['run_id']} (vintage {served['vintage']}) since "
                         f"{served['published_at']:%Y-%m-%d %H:%M} UTC")
    elif _targets_publication(run):
        reasons = run_failure_reasons(instance, run_id) or ["the run failed before any step (see it in the UI)"]
        lines.append(f"meta/publication in the UI now says: "
                     f"{report_stale_publication(instance, warehouse_path(), run_id, reasons)}")
        names = [n for n in run.tags.get(LANDING_TAG, "").split(",") if n]
        folder = landing_dir()
        waiting = [p for p in landing_files(folder) if p.name in names]
        if infrastructure_failure(reasons):
            write_atomically(folder / RETRY_MARKER, f"{run_id} {datetime.now(UTC).isoformat()}\n".encode())
            lines.append(f"the machine, not the data, stopped the refresh: {len(waiting)} landed file(s) stay in "
                         f"{folder} for the next attempt")
        elif refused_selection(reasons):
            lines.append(f"the run did not rebuild all that the refresh needs: {len(waiting)} landed file(s) stay "
                         f"in {folder}; run the refresh job")
        elif waiting:
            for path in reject(waiting, reasons, folder / REJECTED, checked=checked_files(run.tags.get(CHECKED_TAG))):
                lines.append(f"refused landing file {path.name.split('-', 1)[-1]}: see {path.name}.reason.txt "
                             f"in {path.parent}")
    instance.add_run_tags(run_id, {CONCLUDED_TAG: datetime.now(UTC).isoformat()})
    return lines


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Concludes a failed refresh the daemon launched (by the schedule, the landing "
                                   "sensor or the UI): serves_latest_build on meta/publication records it failed, "
                                   "with the reasons and the build still served; its landed files move to "
                                   "landing/rejected/ with the reason beside each, or stay for the next tick after "
                                   "a failure of the machine.")
def conclude_failed_refresh(context: dg.RunFailureSensorContext):
    for line in conclude(context.instance, context.dagster_run.run_id):
        context.log.info(line)

