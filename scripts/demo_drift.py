"""Drift monitoring, end to end, on the local instance (`make demo-drift`).

1. Trains a champion (training_job, small data) unless the registry already has one.
2. Drops a clean and a strongly drifted synthetic batch into <CHURN_HOME>/landing.
3. Evaluates the landing sensor and executes the monitoring runs it requests, in process, against
   the local Dagster instance, so they show in `make dev`.
4. Evaluates the drift retraining sensor and says whether, and why, it would retrain; with
   `--retrain` the requested training run is executed too.

The sensors' cursors are kept in <CHURN_HOME>/demo_drift_state.json between demo runs, so a
second demo only sees its own new files, and the retraining cooldown (CHURN_RETRAIN_COOLDOWN_HOURS,
default 24 h) applies as it would under the daemon.
"""

# ruff: noqa: T201 - a script that talks to the person running it

import argparse
import json
import sys
import time
from pathlib import Path

from churn_assets.local import ensure_local_home


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="run the requested training run")
    parser.add_argument("--train-rows", type=int, default=5_000, help="rows to train on")
    parser.add_argument("--batch-rows", type=int, default=3_000, help="rows per batch file")
    parser.add_argument("--n-iter", type=int, default=2, help="search trials per model family")
    return parser.parse_args()


# Dagster's step-by-step DEBUG lines stay in the run's event log (the UI); the terminal gets
# warnings and errors only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def training_config(args: argparse.Namespace) -> dict:
    from churn_assets.ml.models import FAMILIES

    return {
        **QUIET,
        "resources": {"dataset": {"config": {"n_rows": args.train_rows}}},
        "ops": {
            f"trained_models__{family}": {"config": {"n_iter": args.n_iter, "cv_folds": 3}}
            for family in FAMILIES
        },
    }


def step_errors(result) -> list[str]:
    return [
        f"{event.step_key}: {str(event.event_specific_data.error).splitlines()[0]}"
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
    ]


def run_training(defs, instance, args, tags=None) -> bool:
    started = time.time()
    result = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        run_config=training_config(args),
        tags=tags or {},
        raise_on_error=False,
    )
    promoted = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "promoted_model"
    ]
    outcome = ""
    if promoted:
        md = promoted[0]
        outcome = f"; v{md['version'].value} {md['decision'].value}: {md['reason'].value}"
    print(
        f"  training run {result.run_id[:8]}: {'succeeded' if result.success else 'FAILED'} "
        f"in {time.time() - started:.0f}s{outcome}"
    )
    for error in step_errors(result):
        print(f"    {error}")
    return result.success


def main() -> int:
    args = parse_args()
    ensure_local_home()

    from dagster import (
        AssetKey,
        DagsterInstance,
        SensorResult,
        build_resources,
        build_sensor_context,
    )

    from churn_assets.definitions import defs
    from churn_assets.defs.monitoring import load_champion as load_in_run
    from churn_assets.defs.sensors import drift_retraining_sensor, landing_sensor
    from churn_assets.ml.synthetic import write_synthetic
    from churn_assets.resources.deployment import local_data_dir
    from churn_assets.resources.model_registry import RegistryError

    def load_champion(mlflow_tracking):
        # Set up as in a run, so MLflow's model loading reads this deployment's store.
        with build_resources({"mlflow_tracking": mlflow_tracking}) as ready:
            return load_in_run(ready.mlflow_tracking)

    instance = DagsterInstance.get()
    resources = defs.resources
    home = local_data_dir()
    state_file = home / "demo_drift_state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    print(f"Dagster instance: {instance.root_directory}")

    if resources["dataset"].load_spec().source.kind != "synthetic":
        print(
            "This demo writes synthetic batches, so it needs the synthetic dataset spec; "
            "unset CHURN_DATASET_SPEC and run it again."
        )
        return 2

    try:
        version, threshold, _ = load_champion(resources["mlflow_tracking"])
        print(f"Champion: v{version} (threshold {threshold:.3f})")
    except RegistryError:
        print(f"No champion yet: training on {args.train_rows} synthetic rows ...")
        if not run_training(defs, instance, args):
            return 1
        try:
            version, threshold, _ = load_champion(resources["mlflow_tracking"])
        except RegistryError as exc:
            print(f"  {exc}: the model did not pass the promotion gate; try more --train-rows")
            return 1
        print(f"Champion: v{version} (threshold {threshold:.3f})")

    landing = resources["landing"]
    folder = Path(landing.folder)
    stamp = time.strftime("%Y%m%d_%H%M%S")
    seed = int(time.time()) % 100_000
    batches = {
        f"demo_clean_{stamp}.csv": "none",
        f"demo_drifted_{stamp}.csv": "strong",
    }
    for offset, (name, drift) in enumerate(batches.items()):
        write_synthetic(
            folder / name, args.batch_rows, seed=seed + offset, fault_rate=0.01, drift=drift
        )
    print(f"Wrote {len(batches)} batches of {args.batch_rows} rows to {folder}")

    # Where the drift sensor starts: after the last drift report made before this demo.
    if "drift_cursor" not in state:
        latest = instance.fetch_materializations(
            AssetKey("drift_report"), limit=1, ascending=False
        ).records
        start = latest[0].storage_id if latest else 0
        state["drift_cursor"] = json.dumps({"event_id": start, "last_trigger": 0})

    tick = landing_sensor(
        build_sensor_context(
            instance=instance, cursor=state.get("landing_cursor"), resources={"landing": landing}
        )
    )
    if not isinstance(tick, SensorResult):
        print(f"Landing sensor skipped: {tick.skip_message}")
        return 1
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    state["landing_cursor"] = tick.cursor
    print(f"Landing sensor requested {len(tick.run_requests)} monitoring run(s)")

    monitoring = defs.resolve_job_def("monitoring_job")
    for request in tick.run_requests:
        name = request.partition_key
        result = monitoring.execute_in_process(
            instance=instance,
            partition_key=name,
            tags=request.tags,
            run_config=QUIET,
            raise_on_error=False,
        )
        meta = {
            e.asset_key.to_user_string(): {
                k: v.value for k, v in e.materialization.metadata.items()
            }
            for e in result.get_asset_materialization_events()
        }
        print(f"\nBatch {name} (run {result.run_id[:8]}: {'ok' if result.success else 'FAILED'})")
        for error in step_errors(result):
            print(f"  {error}")
        failed_checks = [
            f"{c.check_name} ({c.severity.value.lower()})"
            for c in result.get_asset_check_evaluations()
            if not c.passed
        ]
        if "batch_predictions" in meta:
            scored = meta["batch_predictions"]
            print(f"  rows scored:        {scored['rows']}")
            print(f"  mean score:         {scored['mean_score']:.3f}")
            print(f"  predicted churners: {scored['predicted_churners']}")
        if "drift_report" in meta:
            report = meta["drift_report"]
            drifted = report["drifted_features"]
            print(f"  dataset drift:      {'yes' if report['dataset_drift'] else 'no'}")
            print(f"  drift share:        {report['drift_share']:.2f}")
            print(f"  drifted features:   {', '.join(drifted) if drifted else 'none'}")
            print(f"  HTML report:        {report['report_html']}")
        if failed_checks:
            print(f"  failed checks:      {', '.join(failed_checks)}")

    decision = drift_retraining_sensor(
        build_sensor_context(
            instance=instance,
            cursor=state["drift_cursor"],
            resources={"retraining": resources["retraining"]},
        )
    )
    print()
    if isinstance(decision, SensorResult) and decision.run_requests:
        request = decision.run_requests[0]
        print(f"retraining requested: {request.tags['churn/reason']}")
        if args.retrain:
            run_training(defs, instance, args, tags=request.tags)
        else:
            print("  (run with --retrain to execute it, or turn drift_retraining_sensor on)")
    else:
        reason = decision.skip_message if hasattr(decision, "skip_message") else None
        reason = reason or (decision.skip_reason.skip_message if decision.skip_reason else "")
        print(f"retraining not requested: {reason}")
    if isinstance(decision, SensorResult) and decision.cursor:
        state["drift_cursor"] = decision.cursor
    state_file.write_text(json.dumps(state, indent=2))
    print("\nSee the runs in the Dagster UI: make dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
