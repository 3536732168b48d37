"""Materialise every asset and run every check into the configured warehouse.

``python -m fact22_assets.build`` is what ``make warehouse`` runs.  It stops
with a non-zero exit, naming the failed steps and checks, when anything fails.
"""
from __future__ import annotations

import sys
import time

import dagster as dg


def build(instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    from .definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    job = definitions.resolve_implicit_global_asset_job_def()
    del graph
    return job.execute_in_process(instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False)


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
    from .settings import warehouse_path

    started = time.perf_counter()
    result = build()
    checks = failed_checks(result)
    elapsed = time.perf_counter() - started
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.event_specific_data.error
                while error.cause is not None:  # the asset's own error is the innermost cause
                    error = error.cause
                print(f"FAILED step {event.step_key}: {error.message.strip()}", file=sys.stderr)
    for line in checks:
        print(f"FAILED check {line}", file=sys.stderr)
    for line in failed_checks(result, "WARN"):
        print(f"warning: {line}", file=sys.stderr)
    status = "built" if result.success and not checks else "NOT built cleanly"
    print(f"warehouse {status}: {warehouse_path()} in {elapsed:.1f} s")
    return 0 if result.success and not checks else 1


if __name__ == "__main__":
    sys.exit(main())
