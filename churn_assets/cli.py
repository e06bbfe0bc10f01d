"""`churn-assets`: run the pipeline on the local instance and print what happened."""

import argparse
import contextlib
import difflib
import os
import sys
import time

from churn_assets.cli_process import leave_quickly, settle_imports
from churn_assets.local import ensure_local_home, use_local_mlflow
from churn_assets.resources.local_home import local_data_dir
from churn_assets.resources.mlflow_store import prepare_local_store


def _summary(result) -> list[str]:
    lines = []
    events = result.get_asset_materialization_events()
    for event in events:
        rows = event.materialization.metadata.get("dagster/row_count")
        if rows is not None:
            lines.append(f"  {event.asset_key.to_user_string():<28} {rows.value:>10} rows")
    checks = result.get_asset_check_evaluations()
    lines.append(f"  checks passed: {sum(e.passed for e in checks)}/{len(checks)}")
    maps = {}  # family -> how its scores became probabilities (the trained asset's metadata)
    for event in events:
        md = {k: v.value for k, v in event.materialization.metadata.items()}
        key = event.asset_key.to_user_string()
        if key.startswith("trained_models/") and "calibration" in md:
            maps[key.removeprefix("trained_models/")] = _calibration_line(md)
        if key == "validated_dataset":
            lines.append(
                f"  rows in {md['rows_in']}, kept {md['rows_kept']}, "
                f"quarantined {md['rows_quarantined']}, quality score {md['quality_score']}"
            )
        if key == "model_evaluation":
            lines.append(
                f"  best candidate: {md['best']} (holdout ROC AUC {md['best_roc_auc']:.4f})"
            )
            if md["best"] in maps:
                lines.append(f"    {maps[md['best']]}")
        if key == "promoted_model":
            champion = md["champion_version"]
            now = "no champion yet" if champion == "none" else f"champion is v{champion}"
            lines.append(
                f"  promoted model: v{md['version']} ({md['family']}) {md['decision']}; "
                f"{now}\n    {md['reason']}"
            )
    return lines


def _calibration_line(md: dict) -> str:
    """How a trained family's scores become probabilities, from its metadata."""
    method = md["calibration"]
    if method == "off":
        return "probabilities: raw scores (calibration: none in the training config)"
    before, after = (
        md.get("calibration_oof_log_loss_before"),
        md.get("calibration_oof_log_loss_after"),
    )
    loss = f" (out-of-fold log loss {before} -> {after})" if before is not None else ""
    if method == "none":
        return f"probabilities: raw scores, no map beat them{loss}"
    return f"probabilities: {method} calibration map{loss}"


def _job_or_hint(defs, job_name: str):
    names = sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__"))
    if job_name in names:
        return defs.resolve_job_def(job_name), None
    close = difflib.get_close_matches(job_name.replace("-", "_"), names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return None, f"no job named '{job_name}'{hint} (jobs: {', '.join(names)})"


def run(
    job_name: str,
    spec: str | None,
    verbose: bool = False,
    own_process: bool = False,
    step_processes: bool = False,
) -> int:
    """Materialize a job on the local instance; the last lines printed say why it failed.

    `own_process`: this process exists for this command (the console script), so it may start
    the MLflow store's child early and freeze the collector's view of its imports (`cli_process`).
    Callers inside another program (tests, notebooks) leave it False.
    `step_processes`: each step in a process of its own, one at a time (see `_execute_steps`)."""
    home = ensure_local_home()
    with _store_prepared(own_process):
        return _run(home, job_name, spec, verbose, own_process, step_processes)


@contextlib.contextmanager
def _store_prepared(own_process: bool):
    """A new local MLflow store is created (migrated) in a child process while this one imports
    Dagster and the code location and runs the data steps (see `mlflow_store`); waited for."""
    log = local_data_dir() / "logs" / "mlflow-store.log"
    uri = os.environ["MLFLOW_TRACKING_URI"]
    child = prepare_local_store(uri, log) if own_process else None
    try:
        yield
    finally:
        if child is not None:
            child.wait()


def _run(
    home, job_name: str, spec: str | None, verbose: bool, own_process: bool, step_processes: bool
) -> int:
    from dagster import DagsterInstance

    from churn_assets.definitions import defs
    from churn_assets.ml.spec import SpecError, load_spec
    from churn_assets.run_report import failure_lines, sweep_stale_runs

    with DagsterInstance.get() as instance:  # first, so even a mistyped command sweeps
        for run_id in sweep_stale_runs(instance):
            print(f"  marked stale run {run_id} as failed (its process is gone)")
    job, problem = _job_or_hint(defs, job_name)
    if problem is None and spec:
        try:
            load_spec(spec)
        except SpecError as exc:
            problem = str(exc)
    if problem is not None:
        print(f"{job_name}: not started\n  {problem}")
        return 2
    run_config = {"resources": {"dataset": {"config": {"spec": spec}}}} if spec else {}
    if own_process:
        settle_imports()  # after the imports above: see cli_process
    log_path = local_data_dir() / "logs" / f"{job_name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.get() as instance:
        with open(log_path, "w") as log, _quiet(log, verbose, step_processes):
            with _execute_steps(job, run_config, instance, step_processes) as result:
                lines = [
                    f"\n{job_name}: {'SUCCESS' if result.success else 'FAILURE'} "
                    f"(run {result.run_id})",
                    *_summary(result),
                    f"  Dagster home: {home}  (`make dev` shows this run in the UI)",
                ]
                if not verbose:
                    lines.append(f"  Dagster event log: {log_path}  (-v prints it here)")
                lines += failure_lines(result)
                success = result.success
    print("\n".join(lines))
    return 0 if success else 1


def job_named(name: str):
    """The job `name` of the code location (the reconstructor of `_execute_steps`)."""
    from churn_assets.definitions import defs

    return defs.resolve_job_def(name)


def _execute_steps(job, run_config: dict, instance, step_processes: bool = False):
    """Run `job` step after step, as `dagster job execute` does (`execute_job`). Not
    `job.execute_in_process`: that keeps every step's output in memory until the run ends (for
    `output_for_node`), so a 1M-row run held the raw, validated and feature tables and every
    trained model at once. Here outputs live only in the IO manager.

    In this process by default (no process start per step: the first result in seconds). With
    `step_processes`, Dagster's multiprocess executor runs each step in a child of its own, one at
    a time, as each step's pod does in Kubernetes: what a step allocated goes back to the system
    when it ends, where one process keeps gigabytes of freed memory between steps at 5M rows."""
    from dagster import build_reconstructable_job, execute_job

    if job.executor_def.name == "multi_or_in_process_executor":
        execution = {"in_process": {}}
        if step_processes:
            # Children forked from a server that has imported the code location already.
            preload = {"preload_modules": ["churn_assets.definitions"]}
            execution = {
                "multiprocess": {"max_concurrent": 1, "start_method": {"forkserver": preload}}
            }
        run_config = {**run_config, "execution": {"config": execution}}
    recon = build_reconstructable_job(
        "churn_assets.cli", "job_named", reconstructable_args=(job.name,)
    )
    return execute_job(recon, instance, run_config=run_config, raise_on_error=False)


@contextlib.contextmanager
def _quiet(log, verbose: bool, children: bool = False):
    """Send Dagster's console log (stderr) to `log` unless verbose. With `children` (steps in
    processes of their own, which write to the stderr they inherit), file descriptor 2 too."""
    if verbose:
        yield
        return
    with contextlib.redirect_stderr(log):
        if not children:
            yield
            return
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _execute(job_name: str, op_name: str, run_config: dict) -> int:
    ensure_local_home()
    from dagster import DagsterInstance

    from churn_assets.definitions import defs

    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            print(f"{job_name} failed: {event.event_specific_data.error.message.strip()}")
    if result.success:
        print(f"{job_name}: SUCCESS {result.output_for_node(op_name)}")
    return 0 if result.success else 1


def models() -> int:
    ensure_local_home()
    from churn_assets.resources.deployment import build_resources

    table = build_resources()["mlflow_tracking"].registry().versions_table()
    print(table.to_string(index=False) if len(table) else "no registered versions yet")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="churn-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="materialize a job on the local instance")
    run_parser.add_argument("--job", default="training_job")
    run_parser.add_argument("--spec", help="dataset spec name or YAML path")
    run_parser.add_argument(
        "-v", "--verbose", action="store_true", help="print Dagster's event log here"
    )
    run_parser.add_argument(
        "--step-processes",
        action="store_true",
        help="run each step in a process of its own, one at a time (as each step's pod does in "
        "Kubernetes), so its memory goes back when it ends: for tables of millions of rows",
    )
    sub.add_parser("models", help="list registered versions, aliases and decisions")
    promote = sub.add_parser("promote", help="make a version champion through the gate")
    promote.add_argument("version")
    promote.add_argument("--force", action="store_true", help="skip the gate (recorded)")
    sub.add_parser("rollback", help="champion back to the previous champion that loads")
    serve_parser = sub.add_parser("serve", help="serve the MLflow champion over HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8080)
    serve_parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    # No argv: the console script (or `python -m`), whose process ends with the command. A caller
    # passing argv (tests, other programs) keeps its process as it was (see `cli_process`).
    own_process = argv is None
    try:
        return _command(args, own_process)
    finally:
        if own_process:
            leave_quickly()


def _command(args, own_process: bool) -> int:
    if args.command == "serve":
        from churn_assets.serving.server import serve

        use_local_mlflow()  # the local champion unless MLFLOW_TRACKING_URI says otherwise
        return serve(args.host, args.port, args.workers)
    if args.command == "run":
        return run(args.job, args.spec, args.verbose, own_process, args.step_processes)
    if args.command == "models":
        return models()
    if args.command == "promote":
        config = {"version": str(args.version), "force": args.force}
        run_config = {"ops": {"promote_version": {"config": config}}}
        return _execute("promote_model", "promote_version", run_config)
    return _execute("rollback_model", "rollback_champion", {})


if __name__ == "__main__":
    sys.exit(main())
