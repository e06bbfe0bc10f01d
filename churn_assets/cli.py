"""`churn-assets`: run the pipeline on the local instance and print what happened."""

import argparse
import os
import sys

from churn_assets.local import ensure_local_home


def _summary(result) -> list[str]:
    lines = []
    events = result.get_asset_materialization_events()
    for event in events:
        rows = event.materialization.metadata.get("dagster/row_count")
        if rows is not None:
            lines.append(f"  {event.asset_key.to_user_string():<28} {rows.value:>10} rows")
    checks = result.get_asset_check_evaluations()
    lines.append(f"  checks passed: {sum(e.passed for e in checks)}/{len(checks)}")
    for e in checks:
        if not e.passed:
            observed = e.metadata.get("observed")
            threshold = e.metadata.get("threshold")
            lines.append(
                f"  FAILED {e.asset_key.to_user_string()}:{e.check_name} "
                f"observed={observed.value if observed else '?'} "
                f"threshold={threshold.value if threshold else '?'}"
            )
    for event in events:
        md = {k: v.value for k, v in event.materialization.metadata.items()}
        key = event.asset_key.to_user_string()
        if key == "validated_dataset":
            lines.append(
                f"  rows in {md['rows_in']}, kept {md['rows_kept']}, "
                f"quarantined {md['rows_quarantined']}, quality score {md['quality_score']}"
            )
        if key == "model_evaluation":
            lines.append(
                f"  best candidate: {md['best']} (holdout ROC AUC {md['best_roc_auc']:.4f})"
            )
        if key == "promoted_model":
            lines.append(
                f"  promoted model: v{md['version']} ({md['family']}) {md['decision']}; "
                f"champion is v{md['champion_version']}\n    {md['reason']}"
            )
    return lines


def run(job_name: str, spec: str | None) -> int:
    ensure_local_home()
    from dagster import DagsterInstance

    from churn_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    run_config = {"resources": {"dataset": {"config": {"spec": spec}}}} if spec else None
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
    print(f"\n{job_name}: {'SUCCESS' if result.success else 'FAILURE'} (run {result.run_id})")
    print("\n".join(_summary(result)))
    print(f"  Dagster home: {os.environ['DAGSTER_HOME']}  (`make dev` shows this run in the UI)")
    return 0 if result.success else 1


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
    from churn_assets.defs.registry import versions_table
    from churn_assets.resources.deployment import build_resources

    table = versions_table(build_resources()["mlflow_tracking"])
    print(table.to_string(index=False) if len(table) else "no registered versions yet")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="churn-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="materialize a job on the local instance")
    run_parser.add_argument("--job", default="training_job")
    run_parser.add_argument("--spec", help="dataset spec name or YAML path")
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
    if args.command == "serve":
        from churn_assets.serving.server import serve

        ensure_local_home()  # the local champion unless MLFLOW_TRACKING_URI says otherwise
        return serve(args.host, args.port, args.workers)
    if args.command == "run":
        return run(args.job, args.spec)
    if args.command == "models":
        return models()
    if args.command == "promote":
        config = {"version": str(args.version), "force": args.force}
        run_config = {"ops": {"promote_version": {"config": config}}}
        return _execute("promote_model", "promote_version", run_config)
    return _execute("rollback_model", "rollback_champion", {})


if __name__ == "__main__":
    sys.exit(main())
