"""The annual refresh: a job over every asset, a schedule, a sensor on the
landing folder, and a sensor that refuses the files of a failed refresh."""
import hashlib

import dagster as dg

from fact22_assets.core.landing import landing_files, reject
from fact22_assets.glue.run_report import LANDING_TAG, run_failure_reasons
from fact22_assets.settings import landing_dir

refresh = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Rebuild every asset from the catalogue plus the landing folder into the build file, validate, "
                "and publish only if every blocking check passes.",
)

# DfE publishes the children-in-need statistics each autumn and ONS its
# mid-year estimates each summer: refresh after each.
annual_refresh = dg.ScheduleDefinition(
    name="annual_refresh",
    job=refresh,
    cron_schedule=["0 6 15 7 *", "0 6 15 11 *"],
    execution_timezone="Europe/London",
    description="Mid-July (after ONS's mid-year estimates) and mid-November (after DfE's CIN release).",
)


@dg.sensor(job=refresh, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a refresh when new files appear in the landing folder (FACT22_LANDING_DIR).")
def landing_sensor(context: dg.SensorEvaluationContext):
    files = landing_files(landing_dir())
    if not files:
        return dg.SkipReason(f"landing folder {landing_dir()} is empty")
    fingerprint = hashlib.sha256()
    for path in files:
        stat = path.stat()
        fingerprint.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    # The run key makes one refresh per state of the folder, however often the sensor ticks.
    return dg.RunRequest(run_key=fingerprint.hexdigest(), tags={LANDING_TAG: ",".join(p.name for p in files)})


@dg.run_failure_sensor(monitored_jobs=[refresh], default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Moves the landing files of a failed refresh to landing/rejected/ with the "
                                   "reason beside each.")
def refuse_landed_files(context: dg.RunFailureSensorContext):
    names = [n for n in context.dagster_run.tags.get(LANDING_TAG, "").split(",") if n]
    waiting = [p for p in landing_files(landing_dir()) if p.name in names]
    if not waiting:
        return
    reasons = run_failure_reasons(context.instance, context.dagster_run.run_id) or [context.failure_event.message]
    for path in reject(waiting, reasons, landing_dir() / "rejected"):
        context.log.info(f"refused {path.name}: reason in {path.name}.reason.txt")
