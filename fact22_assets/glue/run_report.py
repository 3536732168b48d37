"""What a finished run says about itself: the errors of failed steps and the
failed blocking checks, as plain text, and whether the machine rather than
the data stopped it."""
import dagster as dg

from fact22_assets.core.audit import INCOMPLETE
from fact22_assets.core.errors import INFRASTRUCTURE

# The landing files a refresh is for (the decision's), and the sha256 of each as the run copied and checked it.
LANDING_TAG = "fact22/landing_files"
CHECKED_TAG = "fact22/checked_files"
# Errors raised by the machine, not by reading the data: a file system or a DuckDB file that cannot be used.
_MACHINE_ERRORS = {"PermissionError", "OSError", "IOException", "PermissionException", "IsADirectoryError",
                   "InfrastructureError", "BlockingIOError"}


def _innermost(error):
    while error.cause is not None:
        error = error.cause
    return error


def _describe(error) -> str:
    # Our own InfrastructureError says what to do; the OS error it wraps does not.
    chain = error
    while chain is not None:
        if chain.cls_name == "InfrastructureError":
            return chain.message.strip().split("InfrastructureError: ", 1)[-1]
        chain = chain.cause
    inner = _innermost(error)
    message = inner.message.strip()
    if inner.cls_name in _MACHINE_ERRORS and INFRASTRUCTURE not in message:
        message = f"{INFRASTRUCTURE}: {message}"
    return message


def failure_reasons(events) -> list[str]:
    """One line per failed step (its own error, not Dagster's wrapper), per
    resource that could not start (the refresh lock, a held file) and per
    failed ERROR-severity check."""
    reasons = []
    for event in events:
        dagster_event = getattr(event, "dagster_event", event)
        if dagster_event is None:
            continue
        kind = dagster_event.event_type_value
        if kind == "STEP_FAILURE":
            message = _describe(dagster_event.event_specific_data.error)
            if "blocking asset check failed" not in message:
                reasons.append(f"step {dagster_event.step_key}: {message}")
        elif kind in ("RESOURCE_INIT_FAILURE", "ENGINE_EVENT") and getattr(
                dagster_event.event_specific_data, "error", None) is not None:
            reasons.append(f"run: {_describe(dagster_event.event_specific_data.error)}")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = dagster_event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                reasons.append(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                               f"{evaluation.description or ''}")
    return list(dict.fromkeys(reasons))


def infrastructure_failure(reasons: list[str]) -> bool:
    """True when the machine stopped the run: its landed files are then not at fault."""
    return any(INFRASTRUCTURE in r for r in reasons)


def checked_tag(copied: dict[str, str]) -> str:
    """The run tag naming what the run copied and checked: ``name=<first 16 hex digits of its sha256>;…``."""
    return ";".join(f"{name}={sha[:16]}" for name, sha in sorted(copied.items()))


def checked_files(tag: str | None) -> dict[str, str] | None:
    """``checked_tag`` read back (None: the run copied nothing, or started before copying)."""
    if not tag:
        return None
    return dict(item.split("=", 1) for item in tag.split(";") if "=" in item)


def refused_selection(reasons: list[str]) -> bool:
    """True when publication was refused because the run did not build all the refresh needs (a few assets
    materialised in the UI): its landed files are not at fault either."""
    return any(INCOMPLETE in r for r in reasons)


def run_failure_reasons(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.all_logs(run_id)
    return failure_reasons([r.dagster_event for r in records if r.dagster_event is not None])
