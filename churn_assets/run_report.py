"""What `churn-assets run` tells a person: why a run failed, in words, and stale runs swept.

`failure_lines` reads a finished run's events: the failed step, the error's own message (the
innermost cause, without stack frames) and each failed check with its column, observed value and
threshold. `sweep_stale_runs` marks runs of this local instance as failed when the process that
ran them is gone (a `kill -9` leaves them STARTED forever otherwise).
"""

from __future__ import annotations

import os

STALE_STATUSES = ("STARTED", "STARTING", "QUEUED", "NOT_STARTED")
INTERRUPTED = (
    "the run was stopped while this step ran (Ctrl-C, SIGTERM or a terminate from the UI); "
    "the steps after it did not run, run the job again to finish"
)


def root_error(error) -> tuple[str, str]:
    """(class name, message) of the innermost cause of a SerializableErrorInfo."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = (error.message or "").strip()
    name = error.cls_name or ""
    prefix = next((p for p in (f"{name}: ", f"{name}:") if name and p in message), None)
    if prefix:  # Dagster writes "module.Class: message"; keep the message only
        message = message.split(prefix, 1)[1].strip()
    return name, message


def _check_line(evaluation) -> str:
    md = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
    column = md.get("worst_column")
    where = f" column '{column}'" if column not in (None, "None") else ""
    return (
        f"  failed check {evaluation.asset_key.to_user_string()}:{evaluation.check_name}{where}: "
        f"observed {md.get('observed', '?')}, threshold {md.get('threshold', '?')}"
    )


def failure_lines(result) -> list[str]:
    """Plain lines saying why a run failed (empty when it succeeded)."""
    if result.success:
        return []
    lines = [f"Why the run failed ({result.dagster_run.job_name}):"]
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            name, message = root_error(event.event_specific_data.error)
            if name == "DagsterExecutionInterruptedError":  # its message is its class name
                message = INTERRUPTED
            if name != "DagsterAssetCheckFailedError":  # the check lines below say which
                message = " ".join(message.split("\n"))
                lines.append(f"  step '{event.step_key}' failed: {name}: {message}")
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    lines += [_check_line(e) for e in failed_checks]
    if failed_checks:
        lines.append("  blocking checks failed, so the assets after them were not materialized")
    if len(lines) == 1:
        for event in result.all_events:
            if event.event_type_value == "RUN_FAILURE":
                data = event.event_specific_data
                error = getattr(data, "error", None)
                detail = ": ".join(root_error(error)) if error else event.message
                lines.append(f"  run failed: {detail}")
    return lines


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale_runs(instance) -> list[str]:
    """Mark as FAILURE every unfinished run whose recorded process is no longer alive.

    Returns the run ids swept. Runs without any recorded process id (not started by this
    machine's in-process executor) are left alone.
    """
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[s] for s in STALE_STATUSES]
    swept = []
    for run in instance.get_runs(filters=RunsFilter(statuses=statuses)):
        pids = {
            entry.dagster_event.pid
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event is not None and entry.dagster_event.pid
        }
        if pids and not any(_alive(pid) for pid in pids):
            instance.report_run_failed(
                run, f"process {sorted(pids)} ended without finishing the run (killed?); "
                "marked failed by the sweep at the start of `churn-assets run`",
            )  # fmt: skip
            swept.append(run.run_id)
    return swept
