"""Materialise every asset and run every check, then publish.

``python -m fact22_assets.build`` is what ``make warehouse`` runs: the same
refresh job the schedule and the landing sensor start.  It stops with a
non-zero exit, naming the failed steps and checks, when anything fails; the
published warehouse then stays as it was and any landing files are refused.
"""
from __future__ import annotations

import sys
import time

import dagster as dg


def build(instance: dg.DagsterInstance | None = None, tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
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
    from fact22_assets.core.landing import landing_files, reject
    from fact22_assets.glue.run_report import LANDING_TAG, failure_reasons
    from fact22_assets.settings import landing_dir, warehouse_path

    started = time.perf_counter()
    waiting = landing_files(landing_dir())
    result = build(tags={LANDING_TAG: ",".join(p.name for p in waiting)} if waiting else None)
    elapsed = time.perf_counter() - started
    reasons = failure_reasons(result.all_events)
    for line in reasons:
        print(f"FAILED {line}", file=sys.stderr)
    for line in failed_checks(result, "WARN"):
        print(f"warning: {line}", file=sys.stderr)
    ok = result.success and not reasons
    if not ok and waiting:
        for path in reject(waiting, reasons, landing_dir() / "rejected"):
            print(f"refused landing file {path.name}: see {path.name}.reason.txt", file=sys.stderr)
    status = "built and published" if ok else "NOT published (the published warehouse is unchanged)"
    print(f"warehouse {status}: {warehouse_path()} in {elapsed:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
