"""Segments and retention economics through the real lineage: training, evaluation, promotion,
scoring and drift on a small synthetic table with a spec that names both.

One module-scoped training run (2,000 rows, n_iter=1, cv_folds=3) and one scored batch; the
tests read what the UI shows (materialization metadata), the stored records and the model card.
"""

import json

import mlflow
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    build_output_context,
    load_assets_from_modules,
    materialize,
)
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

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
from churn_assets.defs.monitoring import batches, outcome_sensors, outcomes, realized
from churn_assets.ml.evaluation.profit import Economics, batch_profit
from churn_assets.ml.scoring import SCORE
from churn_assets.ml.spec import SpecError
from churn_assets.ml.synthetic import write_synthetic
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets.resources.reports import LocalReports

ASSETS = load_assets_from_modules(
    [ingestion, validation, features, training, evaluation, registry, monitoring]
    + [outcomes, realized]
)
FAST = {
    "ops": {
        f"trained_models__{f}": {"config": {"n_iter": 1, "cv_folds": 3, "refit_trees": 100}}
        for f in ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")
    }
}
SPEC = """
name: synthetic_decisions
source: {kind: synthetic, synthetic: {n_rows: 2000, seed: 42}}
id_column: customer_id
target_column: churn
positive_label: "Yes"
negative_labels: ["No"]
numeric_columns: [senior_citizen, tenure, monthly_charges, total_charges, support_calls]
categorical_columns: [gender, partner, dependents, contract, internet_service, tech_support,
                      payment_method, paperless_billing]
segments: [contract, senior_citizen, {column: tenure, bins: [12, 24, 48]}]
economics: {customer_value: 600, offer_cost: 40, offer_success_rate: 0.25, currency: EUR}
"""
BATCH = "batch_0201.csv"


def metadata_of(result, key: str) -> dict:
    events = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("decisions")
    spec = root / "spec.yaml"
    spec.write_text(SPEC)
    landing = root / "landing"
    write_synthetic(landing / BATCH, 800, seed=201, fault_rate=0.0)
    tracking = MlflowResource(
        tracking_uri=f"sqlite:///{root}/mlflow.db", artifact_location=str(root / "mlartifacts")
    )
    defs = Definitions(
        assets=ASSETS,
        jobs=[training_job, monitoring_job, outcome_sensors.realized_job],
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(root / "assets")),
            "dataset": DatasetResource(spec=str(spec)),
            "mlflow_tracking": tracking,
            "landing": LocalLanding(folder=str(landing)),
            "outcomes_landing": LocalLanding(folder=str(root / "outcomes")),
            "reports": LocalReports(folder=str(root / "reports")),
            "metrics": MetricsResource(deployment="local"),
            "git": GitResource(),
        },
    )
    instance = DagsterInstance.ephemeral()
    trained = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance, run_config=FAST
    )
    assert trained.success
    instance.add_dynamic_partitions(batches.name, [BATCH])
    scored = defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=BATCH
    )
    assert scored.success
    return {
        "root": root,
        "trained": trained,
        "scored": scored,
        "tracking": tracking,
        "defs": defs,
        "instance": instance,
    }


def _record(world, name: str) -> dict:
    return json.loads((world["root"] / "assets" / f"{name}.json").read_text())


def test_every_threshold_is_chosen_for_profit_out_of_fold(world):
    evaluation_record = _record(world, "model_evaluation")
    for family, candidate in evaluation_record["candidates"].items():
        assert "maximises expected profit on out-of-fold" in candidate["threshold_rationale"], (
            family
        )


def test_evaluation_shows_segments_and_the_profit_curve(world):
    meta = metadata_of(world["trained"], "model_evaluation")
    for key in ("segment_metrics", "profit_curve"):
        assert meta[key].startswith("![") and "data:image/png;base64," in meta[key]
    assert "| contract | Month-to-month |" in meta["segment_metrics_table"]
    assert "(chosen)" in meta["profit_curve_table"]
    record = _record(world, "model_evaluation")
    assert meta["expected_profit"] == pytest.approx(record["profit"]["expected_profit"])


def test_segment_numbers_match_the_stored_holdout(world):
    record = _record(world, "model_evaluation")
    table = pd.DataFrame(record["segments"])
    holdout = pd.read_parquet(world["root"] / "assets" / "features.parquet")
    holdout = holdout[holdout["split"] == "test"]
    contract = table[table["segment"] == "contract"].set_index("value")
    counts = holdout.groupby("contract")["churned"].agg(["size", "mean"])
    assert contract["rows"].to_dict() == counts["size"].to_dict()
    assert contract["churn_rate"].to_dict() == pytest.approx(counts["mean"].to_dict())
    tenure = table[table["segment"] == "tenure"]
    assert tenure["value"].tolist() == ["12 to <24", "24 to <48", "<12", ">=48"]
    assert tenure["rows"].sum() == len(holdout)
    # the best model's AUC on one segment, recomputed from the registered model
    best = record["candidates"][record["best"]]
    uri = world["tracking"].tracking_uri
    mlflow.set_tracking_uri(uri)  # models:/ URIs resolve through MLflow's global store
    mlflow.set_registry_uri(uri)
    model = mlflow.sklearn.load_model(best["model_uri"])
    rows = holdout[holdout["contract"] == "Month-to-month"]
    proba = model.predict_proba(rows[list(model.feature_names_in_)])[:, 1]
    assert contract.loc["Month-to-month", "roc_auc"] == pytest.approx(
        roc_auc_score(rows["churned"], proba)
    )


def test_the_model_card_has_segments_and_profit(world):
    promoted = _record(world, "promoted_model")
    client = MlflowClient(world["tracking"].tracking_uri, world["tracking"].tracking_uri)
    card = client.get_model_version("churn-classifier", promoted["version"]).description
    assert "## Quality by segment (holdout)" in card
    assert "## Expected profit (holdout)" in card and "EUR" in card


def test_batch_expected_profit_and_segment_drift(world):
    meta = metadata_of(world["scored"], "batch_predictions")
    stored = pd.read_parquet(world["root"] / "assets" / "batch_predictions" / f"{BATCH}.parquet")
    economics = Economics(customer_value=600, offer_cost=40, offer_success_rate=0.25)
    threshold = meta["threshold"]
    expected = batch_profit(stored[SCORE].to_numpy(), threshold, economics)
    assert meta["expected_profit"] == pytest.approx(expected["expected_profit"])
    assert meta["retention_offers"] == expected["offers"] == int((stored[SCORE] >= threshold).sum())
    drift = metadata_of(world["scored"], "drift_report")
    assert "| contract" in drift["segment_drift"] and "Two year" in drift["segment_drift"]


@pytest.mark.parametrize(
    ("segments", "step", "message"),
    [
        ("[contrakt]", "feature_spec", "segment 'contrakt' is not an input column"),
        ("[monthly_charges]", "features", "segment 'monthly_charges' is numeric with"),
    ],
)
def test_a_segment_that_does_not_fit_the_data_fails_its_step(tmp_path, segments, step, message):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        SPEC.replace("segments: [contract, senior_citizen,", f"segments: {segments}\n#")
    )
    result = materialize(
        load_assets_from_modules([ingestion, validation, features]),
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(tmp_path / "assets")),
            "dataset": DatasetResource(spec=str(spec), n_rows=300),
            "metrics": MetricsResource(),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == step
    error = str(failure.event_specific_data.error)
    assert message in error and SpecError.__name__ in error


def test_realized_performance_shows_the_same_segments(world):
    """Outcomes for the scored batch (its own labels), then realized_performance alone."""
    root = world["root"]
    batch = pd.read_parquet(root / "assets" / "customer_batch" / f"{BATCH}.parquet")
    outcomes = pd.DataFrame(
        {
            "id": batch["customer_id"].astype(str),
            "churned": batch["churned"].astype(int),
            "observed_at": pd.Timestamp.now(tz="UTC") + pd.Timedelta(weeks=4),  # after scoring
        }
    )
    io = LocalParquetIOManager(base_dir=str(root / "assets"))
    io.handle_output(build_output_context(asset_key=AssetKey("churn_outcomes")), outcomes)
    result = (
        world["defs"]
        .resolve_job_def("realized_job")
        .execute_in_process(instance=world["instance"], partition_key=BATCH)
    )
    assert result.success
    meta = metadata_of(result, "realized_performance")
    assert "| contract | Month-to-month |" in meta["segment_metrics_table"]
    record = json.loads((root / "assets" / "realized_performance" / f"{BATCH}.json").read_text())
    contract = pd.DataFrame(record["segments"]).query("segment == 'contract'")
    assert contract["rows"].sum() == len(batch)
    month = batch["contract"] == "Month-to-month"
    row = contract.set_index("value").loc["Month-to-month"]
    assert row["churn_rate"] == pytest.approx(batch.loc[month, "churned"].mean())
