"""``python -m fact22_assets.calibrate`` (``make calibrate``): the national placebo study, then a refresh.

1. Runs the ``calibration`` job once per outcome the configured studies
   analyse (one partition each, its multiprocess executor; each partition
   uses FACT22_DID_WORKERS forked workers), recorded in the project's Dagster
   instance like every refresh.  It reads the published warehouse and writes
   only the calibration folder (FACT22_CALIBRATION_DIR).
2. Refreshes the warehouse (``python -m fact22_assets.build``): the
   calibration files are the source ``calibration``, so the refresh rebuilds
   what depends on them (the calibration marts, did_results' calibrated
   columns, the report) and publishes as any refresh does.

``--no-refresh`` stops after step 1; ``--outcomes a,b`` runs those partitions only.
The scheduled annual refresh is followed by the same two steps.
"""
from __future__ import annotations

import sys
import time


def calibration_job():
    """The calibration job, as a module-level function so that Dagster can reconstruct it in each step process."""
    from fact22_assets.definitions import defs

    return defs().resolve_job_def("calibration")


def outcomes_to_calibrate() -> list[str]:
    """The outcomes the configured studies analyse, in their order."""
    from fact22_assets.glue.studies import studies

    found: list[str] = []
    for entry in studies():
        found += [o for o in entry.study.outcomes if o not in found]
    return found


def run_calibration(outcomes: list[str], out=sys.stdout) -> bool:
    import dagster as dg

    from fact22_assets.build import project_instance

    instance = project_instance()
    job = dg.reconstructable(calibration_job)
    ok = True
    for outcome in outcomes:
        started = time.perf_counter()
        with dg.execute_job(job, instance=instance, tags={"dagster/partition": outcome}) as result:
            success = result.success
            run_id = result.run_id
        ok &= success
        print(f"  {'ok' if success else 'FAILED'}  calibration {outcome}  run {run_id}  "
              f"{time.perf_counter() - started:.1f} s", file=out, flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    from fact22_assets.settings import calibration_dir, problems, warehouse_path

    argv = sys.argv[1:] if argv is None else argv
    wrong = problems()
    if wrong:
        for line in wrong:
            print(f"settings: {line}", file=sys.stderr)
        return 2
    if not warehouse_path().is_file():
        print(f"no published warehouse at {warehouse_path()}: run `make warehouse` first", file=sys.stderr)
        return 1
    chosen = next((a.split("=", 1)[1] for a in argv if a.startswith("--outcomes=")), None)
    outcomes = chosen.split(",") if chosen else outcomes_to_calibrate()
    started = time.perf_counter()
    print(f"national placebo study: {', '.join(outcomes)} on {warehouse_path()} -> {calibration_dir()}", flush=True)
    if not run_calibration(outcomes):
        print("calibration FAILED: the calibration folder keeps the outcomes that finished; nothing was refreshed",
              file=sys.stderr)
        return 1
    print(f"calibration written in {time.perf_counter() - started:.1f} s", flush=True)
    if "--no-refresh" in argv:
        return 0
    from fact22_assets import build

    return build.main()


if __name__ == "__main__":
    sys.exit(main())
