"""Monitoring end to end: batch files -> landing sensor -> monitoring runs -> drift retraining.

One small training run (3,000 synthetic rows, n_iter=2, cv_folds=3) makes the champion and the
drift reference for the whole module; each scenario then gets its own instance and landing
folder, with runs requested by the landing sensor and executed in process as the daemon would.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    build_resources,
    build_sensor_context,
    load_assets_from_modules,
)

from churn_assets.defs import (
    evaluation,
    features,
    ingestion,
    monitoring,
    registry,
    training,
    validation,
)
from churn_assets.defs.jobs import monitoring_job, training_job
from churn_assets.defs.monitoring import load_champion
from churn_assets.defs.sensors import drift_retraining_sensor, landing_sensor
from churn_assets.ml.models import FAMILIES
from churn_assets.ml.synthetic import write_synthetic
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import RegistryError
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets.resources.reports import LocalReports
from churn_assets.resources.retraining import RetrainingPolicy

ASSETS = load_assets_from_modules(
    [ingestion, validation, features, training, evaluation, registry, monitoring]
)
TRAIN_ROWS = 3_000
BATCH_ROWS = 1_500
TRAINING_CONFIG = {
    "ops": {
        f"trained_models__{f}": {"config": {"n_iter": 2, "cv_folds": 3, "refit_trees": 100}}
        for f in FAMILIES
    }
}


def mlflow_at(folder: Path) -> MlflowResource:
    return MlflowResource(
        tracking_uri=f"sqlite:///{folder}/mlflow.db",
        artifact_location=str(folder / "mlartifacts"),
        connect_retries=0,
    )


@dataclass
class Trained:
    """The module's trained world: stored assets, MLflow, reports; landing per scenario."""

    root: Path
    champion: str

    def defs(self, landing: Path, mlflow: MlflowResource | None = None) -> Definitions:
        return Definitions(
            assets=ASSETS,
            asset_checks=[registry.champion_loads_and_scores, registry.champion_meets_thresholds],
            jobs=[training_job, monitoring_job],
            resources={
                "io_manager": LocalParquetIOManager(base_dir=str(self.root / "assets")),
                "dataset": DatasetResource(n_rows=TRAIN_ROWS),
                "mlflow_tracking": mlflow or mlflow_at(self.root),
                "landing": LocalLanding(folder=str(landing)),
                "reports": LocalReports(folder=str(self.root / "reports")),
                "metrics": MetricsResource(deployment="local"),
                "git": GitResource(),
            },
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    root = tmp_path_factory.mktemp("monitoring")
    world = Trained(root=root, champion="")
    result = (
        world.defs(root / "unused")
        .resolve_job_def("training_job")
        .execute_in_process(instance=DagsterInstance.ephemeral(), run_config=TRAINING_CONFIG)
    )
    assert result.success
    # Set up as in a run: the resource points MLflow's model loading at this store.
    with build_resources({"mlflow_tracking": mlflow_at(root)}) as ready:
        world.champion, _, _ = load_champion(ready.mlflow_tracking)
    return world


@dataclass
class Scenario:
    instance: DagsterInstance
    landing: Path
    cursor: str | None
    results: dict  # partition key -> ExecuteInProcessResult


def tick_and_run(trained: Trained, scenario: Scenario, mlflow=None, execute=True) -> list[str]:
    """One landing sensor tick, then (with `execute`) every requested run in process; returns
    the run keys."""
    result = landing_sensor(
        build_sensor_context(
            instance=scenario.instance,
            cursor=scenario.cursor,
            resources={"landing": LocalLanding(folder=str(scenario.landing))},
        )
    )
    if isinstance(result, SkipReason):
        return []
    for request in result.dynamic_partitions_requests:
        scenario.instance.add_dynamic_partitions(
            request.partitions_def_name, request.partition_keys
        )
    job = trained.defs(scenario.landing, mlflow).resolve_job_def("monitoring_job")
    for request in result.run_requests if execute else []:
        scenario.results[request.partition_key] = job.execute_in_process(
            instance=scenario.instance,
            partition_key=request.partition_key,
            tags=request.tags,
            raise_on_error=False,
        )
    scenario.cursor = result.cursor
    return [r.run_key for r in result.run_requests]


def new_scenario(tmp_path_factory, name: str) -> Scenario:
    landing = tmp_path_factory.mktemp(name) / "landing"
    landing.mkdir()
    return Scenario(DagsterInstance.ephemeral(), landing, None, {})


@pytest.fixture(scope="module")
def clean_and_drifted(trained, tmp_path_factory) -> Scenario:
    """A clean and a strongly drifted batch arrive together and are scored in one tick."""
    scenario = new_scenario(tmp_path_factory, "clean_and_drifted")
    write_synthetic(scenario.landing / "clean_0101.csv", BATCH_ROWS, seed=101, fault_rate=0.01)
    write_synthetic(
        scenario.landing / "drifted_0102.csv", BATCH_ROWS, seed=102, fault_rate=0.01, drift="strong"
    )
    assert len(tick_and_run(trained, scenario)) == 2
    return scenario


@pytest.fixture(scope="module")
def invalid(trained, tmp_path_factory) -> Scenario:
    """A batch where 60% of rows carry an unparseable total_charges."""
    scenario = new_scenario(tmp_path_factory, "invalid")
    path = scenario.landing / "invalid_0103.csv"
    write_synthetic(path, BATCH_ROWS, seed=103)
    frame = pd.read_csv(path, dtype=str)
    frame.loc[frame.sample(frac=0.6, random_state=0).index, "total_charges"] = "#VALUE!"
    frame.to_csv(path, index=False)
    tick_and_run(trained, scenario)
    return scenario


def materialized(result) -> dict[str, dict]:
    return {
        e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def checks(result) -> dict[str, object]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def failure_message(result) -> str:
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    return str(failure.event_specific_data.error)


# -- a clean batch ------------------------------------------------------------------------------


def test_clean_batch_is_scored_by_the_champion_with_reasons(trained, clean_and_drifted):
    result = clean_and_drifted.results["clean_0101.csv"]
    assert result.success
    assert result.dagster_run.tags["churn/batch"] == "clean_0101.csv"
    meta = materialized(result)
    assert set(meta) == {"customer_batch", "batch_quarantine", "batch_predictions", "drift_report"}
    batch, scored = meta["customer_batch"], meta["batch_predictions"]
    assert batch["rows_in"] == BATCH_ROWS and batch["rows_kept"] > 0.95 * BATCH_ROWS

    predictions = pd.read_parquet(scored["uri"])
    kept = pd.read_parquet(batch["uri"])
    assert len(predictions) == batch["rows_kept"] == len(kept)
    assert predictions["customer_id"].tolist() == kept["customer_id"].tolist()
    assert predictions["churn_probability"].between(0, 1).all()
    threshold = scored["threshold"]
    assert 0 < threshold < 1
    expected = (predictions["churn_probability"] >= threshold).astype(int)
    assert (predictions["churn_predicted"] == expected).all()
    assert (predictions["model_version"] == trained.champion).all()
    assert scored["champion_version"] == trained.champion
    assert scored["predicted_churners"] == int(expected.sum()) > 0

    churners = predictions[predictions["churn_predicted"] == 1]
    assert (churners["top_reasons"] != "").mean() > 0.95
    assert (predictions.loc[predictions["churn_predicted"] == 0, "top_reasons"] == "").all()
    inputs = set(kept.columns)
    named = {
        part.split("=", 1)[0]
        for text in churners["top_reasons"]
        for part in text.split("; ")
        if part
    }
    assert named and named <= inputs, named - inputs
    assert {"tenure", "contract"} & named

    found = checks(result)
    for name in ("prediction_volume", "score_range", "null_share"):
        assert found[name].passed, name
    assert all(found[name].passed for name in monitoring.BATCH_CHECKS)


def test_clean_batch_shows_no_dataset_drift_and_writes_the_html_report(clean_and_drifted):
    result = clean_and_drifted.results["clean_0101.csv"]
    report = materialized(result)["drift_report"]
    assert report["dataset_drift"] is False
    assert report["drift_share"] < 0.5
    assert checks(result)["dataset_drift"].passed
    html = Path(report["report_html"])
    assert html.exists() and html.name == "clean_0101.csv.html"
    text = html.read_text()
    for column in ("tenure", "contract", "monthly_charges", "churn_probability"):
        assert column in text


def test_the_drift_lineage_runs_without_the_quarantine_output(trained, clean_and_drifted):
    """`--select "*drift_report"` leaves batch_quarantine out: customer_batch is subsettable."""
    scenario = clean_and_drifted
    job = trained.defs(scenario.landing).resolve_job_def("monitoring_job")
    selection = [AssetKey(k) for k in ("customer_batch", "batch_predictions", "drift_report")]

    result = job.execute_in_process(
        instance=scenario.instance, partition_key="clean_0101.csv", asset_selection=selection
    )

    assert result.success
    assert set(materialized(result)) == {"customer_batch", "batch_predictions", "drift_report"}
    assert set(checks(result)) >= set(monitoring.BATCH_CHECKS)


# -- a drifted batch ----------------------------------------------------------------------------


def test_drifted_batch_fails_the_drift_checks_with_their_severities(clean_and_drifted):
    result = clean_and_drifted.results["drifted_0102.csv"]
    assert result.success  # the drift checks are not blocking: the report is the point
    report = materialized(result)["drift_report"]
    assert report["dataset_drift"] is True
    assert report["drift_share"] >= 0.5
    assert {"tenure", "monthly_charges", "contract"} <= set(report["drifted_features"])
    found = checks(result)
    assert not found["dataset_drift"].passed
    assert found["dataset_drift"].severity == AssetCheckSeverity.ERROR
    assert not found["feature_drift"].passed
    assert found["feature_drift"].severity == AssetCheckSeverity.WARN
    assert found["dataset_drift"].metadata["threshold"].value == 0.5
    assert Path(report["report_html"]).exists()


def drift_sensor_tick(instance, cursor=None, cooldown_hours=24.0):
    return drift_retraining_sensor(
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"retraining": RetrainingPolicy(cooldown_hours=cooldown_hours)},
        )
    )


def test_drift_requests_retraining_once_per_cooldown(clean_and_drifted):
    instance = clean_and_drifted.instance

    def evaluate(cursor, cooldown_hours=24.0):
        return drift_sensor_tick(instance, cursor, cooldown_hours)

    first = evaluate(None)
    assert isinstance(first, SensorResult)
    [request] = first.run_requests
    assert request.job_name in (None, "training_job")
    assert request.tags["churn/trigger"] == "drift"
    assert "drifted_0102.csv" in request.tags["churn/reason"]
    assert "clean_0101.csv" not in request.tags["churn/reason"]
    assert evaluate(first.cursor).skip_message == "no new drift reports"

    # Another drifted report (as a second batch's run would record it) within the cooldown.
    def another_drifted_report(batch):
        instance.report_runless_asset_event(
            AssetMaterialization(
                "drift_report",
                partition=batch,
                metadata={"dataset_drift": True, "drift_share": 0.8, "batch": batch},
            )
        )

    another_drifted_report("drifted_0104.csv")
    within = evaluate(first.cursor)
    assert not within.run_requests
    assert "cooldown 24.0 h" in within.skip_reason.skip_message

    another_drifted_report("drifted_0105.csv")
    after = evaluate(within.cursor, cooldown_hours=0.0)
    [again] = after.run_requests
    assert "drifted_0105.csv" in again.tags["churn/reason"]
    assert again.run_key != request.run_key


def test_training_job_is_the_retraining_target():
    assert drift_retraining_sensor.job_name == "training_job"


# -- a batch that fails validation ----------------------------------------------------------------


def test_invalid_batch_is_stopped_before_scoring_and_drift(invalid):
    result = invalid.results["invalid_0103.csv"]
    assert not result.success
    failed = {name for name, c in checks(result).items() if not c.passed}
    assert failed & {"schema_compliance", "quality_score"}
    assert set(materialized(result)) <= {"customer_batch", "batch_quarantine"}
    assert not invalid.instance.fetch_materializations(AssetKey("drift_report"), limit=1).records
    skipped = drift_sensor_tick(invalid.instance)
    assert isinstance(skipped, SkipReason)


# -- files that do not parse ----------------------------------------------------------------------


def test_unparseable_files_fail_their_runs_and_the_sensor_moves_on(trained, tmp_path_factory):
    scenario = new_scenario(tmp_path_factory, "unparseable")
    (scenario.landing / "latin1_0106.csv").write_bytes(
        b"customer_id,contract\nC1,Month-to-month\nC2,M\xe9nsuel\n"
    )
    (scenario.landing / "empty_0107.csv").write_bytes(b"")
    assert len(tick_and_run(trained, scenario)) == 2

    for name, reason in (("latin1_0106.csv", "not valid utf-8"), ("empty_0107.csv", "is empty")):
        result = scenario.results[name]
        assert not result.success
        message = failure_message(result)
        assert str(scenario.landing / name) in message and reason in message
        assert not materialized(result)

    write_synthetic(scenario.landing / "later_0108.csv", 200, seed=108)
    run_keys = tick_and_run(trained, scenario, execute=False)
    assert [k.split(":")[0] for k in run_keys] == ["later_0108.csv"]


# -- no champion ---------------------------------------------------------------------------------


def test_scoring_without_a_champion_fails_clearly(trained, tmp_path_factory):
    empty = tmp_path_factory.mktemp("no_champion")
    with pytest.raises(RegistryError, match="no 'champion' version .* run training_job first"):
        load_champion(mlflow_at(empty))

    scenario = new_scenario(tmp_path_factory, "no_champion_batch")
    write_synthetic(scenario.landing / "orphan_0109.csv", 200, seed=109)
    tick_and_run(trained, scenario, mlflow=mlflow_at(empty))
    result = scenario.results["orphan_0109.csv"]
    assert not result.success
    message = failure_message(result)
    assert "RegistryError" in message
    assert "no 'champion' version of 'churn-classifier' yet; run training_job first" in message
    assert set(materialized(result)) == {"customer_batch", "batch_quarantine"}
    assert os.path.exists(empty / "mlflow.db")
