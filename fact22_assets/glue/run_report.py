"""What a finished run says about itself: the errors of failed steps and the
failed blocking checks, as plain text."""
import dagster as dg

LANDING_TAG = "fact22/landing_files"


def _innermost(error) -> str:
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def failure_reasons(events) -> list[str]:
    """One line per failed step (its own error, not Dagster's wrapper) and per
    failed ERROR-severity check."""
    reasons = []
    for event in events:
        dagster_event = getattr(event, "dagster_event", event)
        if dagster_event is None:
            continue
        if dagster_event.event_type_value == "STEP_FAILURE":
            message = _innermost(dagster_event.event_specific_data.error)
            if "blocking asset check failed" not in message:
                reasons.append(f"step {dagster_event.step_key}: {message}")
        elif dagster_event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = dagster_event.event_specific_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                reasons.append(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name}: "
                               f"{evaluation.description or ''}")
    return reasons


def run_failure_reasons(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.all_logs(run_id)
    return failure_reasons([r.dagster_event for r in records if r.dagster_event is not None])
