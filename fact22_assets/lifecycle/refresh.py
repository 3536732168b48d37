"""The annual refresh: a job over every asset, a schedule, a sensor on the
landing folder, and a sensor that refuses the files of a refresh that failed
on their data (a refresh the machine stopped leaves them to be retried)."""
import hashlib
import time
import warnings
from datetime import UTC, datetime

import dagster as dg

from fact22_assets.core.files import write_atomically
from fact22_assets.core.landing import landing_files, load_full_catalogue, reject
from fact22_assets.glue.freshness import nothing_to_do, refresh_plan
from fact22_assets.glue.run_report import LANDING_TAG, infrastructure_failure, run_failure_reasons
from fact22_assets.glue.sources import source_key
from fact22_assets.settings import accepted_dir, data_dir, landing_dir

# Written by the failure sensor when the machine stopped a refresh: its content joins the landing
# folder's fingerprint, so the next tick asks for a new run of the same files.
RETRY_MARKER = ".retry"
# Why a run rebuilds what it rebuilds (every asset, or what depends on the sources that changed).
PLAN_TAG = "fact22/refresh_plan"
_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # `include_sources` is "beta" in Dagster 1.13
    # The sources are observed first: each materialisation then records the data versions it read.
    # The national placebo study (group "calibration", its own partitioned job) is no part of a refresh:
    # a refresh reads its files as the source sources/calibration.
    EVERYTHING = dg.AssetSelection.all(include_sources=True) - dg.AssetSelection.groups("calibration")
refresh = dg.define_asset_job(
    "refresh",
    selection=EVERYTHING,
    description="Rebuild every asset from the catalogue plus the landing folder into this run's build file, "
                "validate, and publish only if every blocking check passes.",
)


@dg.schedule(job=refresh, cron_schedule=["0 6 15 7 *", "0 6 15 11 *"], execution_timezone="Europe/London",
             description="Mid-July (after ONS's mid-year estimates) and mid-November (after DfE's CIN release); "
                         "skips when the sources and the code equal the published ones.")
def annual_refresh(context: dg.ScheduleEvaluationContext):
    # DfE publishes the children-in-need statistics each autumn and ONS its mid-year estimates each summer.
    same, why = nothing_to_do()
    return dg.SkipReason(f"nothing to refresh: {why}") if same else planned_request(context)


def planned_request(context, **kwargs) -> dg.RunRequest:
    """A refresh of what depends on the sources that changed since the last publication, or of everything."""
    plan = refresh_plan()
    keys = None
    if plan.sources is not None and context.repository_def is not None:
        selection = dg.AssetSelection.assets(*(source_key(s) for s in plan.sources)).downstream()
        keys = sorted(selection.resolve(context.repository_def.asset_graph), key=lambda k: k.to_user_string())
    return dg.RunRequest(asset_selection=keys, tags={**kwargs.pop("tags", {}), PLAN_TAG: plan.why}, **kwargs)


def folder_fingerprint(folder) -> str:
    fingerprint = hashlib.sha256()
    for path in landing_files(folder):
        stat = path.stat()
        fingerprint.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    marker = folder / RETRY_MARKER
    if marker.exists():
        fingerprint.update(marker.read_bytes())
    return fingerprint.hexdigest()


@dg.sensor(job=refresh, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a refresh when new files appear in the landing folder (FACT22_LANDING_DIR).")
def landing_sensor(context: dg.SensorEvaluationContext):
    folder = landing_dir()
    files = landing_files(folder)
    if not files:
        return dg.SkipReason(f"landing folder {folder} is empty")
    if context.instance.get_runs(dg.RunsFilter(job_name=refresh.name, statuses=_ACTIVE), limit=1):
        return dg.SkipReason("a refresh is running; the landing folder is looked at again when it ends")
    same, why = nothing_to_do()
    if same:
        return dg.SkipReason(f"the landed files are already published: {why}")
    try:
        _, candidates, waiting = load_full_catalogue(data_dir(), accepted_dir(), folder, with_waiting=True)
    except Exception:  # noqa: BLE001 - whatever a landed file does to the reader, the run refuses it with the reason
        candidates, waiting = files, []
    else:
        candidates = [s.path for s in candidates]
    if not candidates:
        now = time.time()
        return dg.SkipReason("; ".join(w.describe(now) for w in waiting) or "no new file in the landing folder")
    for part in waiting:
        context.log.info(part.describe(time.time()))
    # The run key makes one refresh per state of the folder, however often the sensor ticks.
    return planned_request(context, run_key=folder_fingerprint(folder),
                           tags={LANDING_TAG: ",".join(p.name for p in candidates)})


@dg.run_failure_sensor(monitored_jobs=[refresh], default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Moves the landing files of a refresh that failed on their data to "
                                   "landing/rejected/ with the reason beside each; after an infrastructure "
                                   "failure they stay for the next tick.")
def refuse_landed_files(context: dg.RunFailureSensorContext):
    names = [n for n in context.dagster_run.tags.get(LANDING_TAG, "").split(",") if n]
    waiting = [p for p in landing_files(landing_dir()) if p.name in names]
    if not waiting:
        return
    reasons = run_failure_reasons(context.instance, context.dagster_run.run_id) or [context.failure_event.message]
    if infrastructure_failure(reasons):
        write_atomically(landing_dir() / RETRY_MARKER,
                         f"{context.dagster_run.run_id} {datetime.now(UTC).isoformat()}\n".encode())
        context.log.warning(f"refresh stopped by the machine, not the data; {len(waiting)} file(s) stay in "
                            f"landing/ for the next tick: {reasons[0]}")
        return
    for path in reject(waiting, reasons, landing_dir() / "rejected"):
        context.log.info(f"refused {path.name}: reason in {path.name}.reason.txt")
