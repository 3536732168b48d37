"""Materialise every asset and run every check, then publish.

``python -m fact22_assets.build`` is what ``make warehouse`` runs: the same
refresh job the schedule and the landing sensor start.  It stops with a
non-zero exit, naming the failed steps and checks, when anything fails; the
published warehouse then stays as it was and any landing files are refused
(unless the machine, not the data, stopped it: then they stay for a retry).

When the inputs (by sha256) and the code equal what was last published, it
says so and exits before loading Dagster: nothing to do costs nothing.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


def build(instance: dg.DagsterInstance | None = None, tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    import dagster as dg

    from fact22_assets.definitions import defs

    job = defs().resolve_job_def("refresh")
    return job.execute_in_process(instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                  tags=tags)


def failed_checks(result: dg.ExecuteInProcessResult, severity: str = "ERROR") -> list[str]:
    """Checks of the given severity that did not pass, with what they said."""
    failed = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity.value == severity:
                failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name} "
                              f"{evaluation.description or ''}")
    return failed


def main() -> int:
    from fact22_assets.glue.freshness import nothing_to_do
    from fact22_assets.settings import warehouse_path

    started = time.perf_counter()
    same, why = nothing_to_do()
    if same and "--force" not in sys.argv[1:]:
        print(f"warehouse up to date, nothing published: {warehouse_path()} ({why}; "
              f"checked in {time.perf_counter() - started:.2f} s; --force rebuilds)")
        return 0

    from fact22_assets.core.landing import landing_files, load_full_catalogue, reject
    from fact22_assets.glue.run_report import LANDING_TAG, failure_reasons, infrastructure_failure
    from fact22_assets.settings import accepted_dir, data_dir, landing_dir

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
    result = build(tags={LANDING_TAG: ",".join(p.name for p in waiting)} if waiting else None)
    elapsed = time.perf_counter() - started
    reasons = failure_reasons(result.all_events)
    for line in reasons:
        print(f"FAILED {line}", file=sys.stderr)
    for line in failed_checks(result, "WARN"):
        print(f"warning: {line}", file=sys.stderr)
    ok = result.success and not reasons
    if not ok and infrastructure_failure(reasons):
        print(f"the machine, not the data, stopped the refresh: {len(waiting)} landed file(s) stay in "
              f"{landing_dir()} for the next attempt", file=sys.stderr)
    elif not ok and waiting:
        for path in reject(waiting, reasons, landing_dir() / "rejected"):
            print(f"refused landing file {path.name}: see {path.name}.reason.txt in {path.parent}", file=sys.stderr)
    status = "built and published" if ok else "NOT published (the published warehouse is unchanged)"
    print(f"warehouse {status}: {warehouse_path()} in {elapsed:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
