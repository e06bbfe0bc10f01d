"""Outcomes end to end on one Dagster instance: a scored batch, outcome files through the
outcomes sensor, `realized_performance` re-materialized as outcomes arrive, the decay check and
a retraining request through the same retraining sensor, then the retrain learning from them.

The population moves: 40% of the new customers pay with a method the training table never
saw ("Crypto wallet"), and those churn far more (a known change of the churn function). The
champion cannot know it; the outcomes say it; the retrained champion learns it, through the
same checks and promotion gate. Small and seeded: 2,000 training rows, a 1,200-row batch,
n_iter=2, cv_folds=3 (two training runs).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    SensorResult,
    SkipReason,
    build_resources,
    build_sensor_context,
    load_assets_from_modules,
)
from sklearn.metrics import roc_auc_score

from churn_assets.defs import evaluation, features, ingestion, registry, training, validation
from churn_assets.defs import monitoring as batch_monitoring
from churn_assets.defs.jobs import monitoring_job, training_job
from churn_assets.defs.monitoring import outcome_sensors, outcomes, realized
from churn_assets.defs.sensors import drift_retraining_sensor, landing_sensor
from churn_assets.ml.models import FAMILIES
from churn_assets.ml.synthetic.customers import calibrated_intercept, churn_logit, customer_block
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.landing import LocalLanding
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.outcome_files import OutcomeRows
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets.resources.reports import LocalReports
from churn_assets.resources.retraining import RetrainingPolicy
from churn_assets_tests.resources.test_metrics import group_of, running_fake_gateway, url_of, value

ASSETS = load_assets_from_modules(
    [ingestion, validation, features, training, evaluation, registry, batch_monitoring]
    + [outcomes, realized]
)
JOBS = [training_job, monitoring_job, outcome_sensors.outcomes_job, outcome_sensors.realized_job]
TRAINING = {
    "ops": {
        f"trained_models__{f}": {"config": {"n_iter": 2, "cv_folds": 3, "refit_trees": 100}}
        for f in FAMILIES
    }
}
BATCH = "crypto_0201.csv"
# Outcomes are observed after the batch is scored (which happens now, in the test): four and
# six weeks later. One outcome dated before scoring shows it is left out and counted.
NOW = pd.Timestamp.now(tz="UTC")
EARLY, LATE = (str((NOW + pd.Timedelta(weeks=w)).date()) for w in (4, 6))
BEFORE_SCORING = "2020-01-01"


def moved_population(n: int, start: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers after the change: 40% pay by 'Crypto wallet' and churn with +5 log-odds."""
    rng = np.random.default_rng(seed)
    frame = customer_block(rng, n, start, "none")
    crypto = rng.random(n) < 0.4
    frame.loc[crypto, "payment_method"] = "Crypto wallet"
    logit = churn_logit(frame) + calibrated_intercept(0.26, 42) + 5.0 * crypto
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@dataclass
class World:
    root: Path
    instance: DagsterInstance
    defs: Definitions
    landing_cursor: str | None = None
    outcomes_cursor: str | None = None
    results: dict | None = None  # run key -> the run's result

    @property
    def mlflow(self) -> MlflowResource:
        return MlflowResource(
            tracking_uri=f"sqlite:///{self.root}/mlflow.db",
            artifact_location=str(self.root / "mlartifacts"),
            connect_retries=0,
        )

    def run(self, job: str, **kwargs):
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, raise_on_error=False, **kwargs
        )
        assert result.success, [
            str(e.event_specific_data) for e in result.all_events if e.is_failure
        ]
        return result

    def tick_landing(self):
        result = landing_sensor(build_sensor_context(
            instance=self.instance, cursor=self.landing_cursor,
            resources={"landing": LocalLanding(folder=str(self.root / "landing"))},
        ))  # fmt: skip
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, request.partition_keys
            )
        self.landing_cursor = result.cursor
        return [
            self.run("monitoring_job", partition_key=r.partition_key) for r in result.run_requests
        ]

    def tick_outcomes(self):
        """One outcomes sensor tick, its requested runs executed; returns the requests."""
        result = outcome_sensors.outcomes_sensor(build_sensor_context(
            instance=self.instance, cursor=self.outcomes_cursor,
            resources={"outcomes_landing": LocalLanding(folder=str(self.root / "outcomes"))},
        ))  # fmt: skip
        if isinstance(result, SkipReason):
            return result
        self.outcomes_cursor = result.cursor
        for request in result.run_requests:
            self.results[request.run_key] = self.run(
                request.job_name, partition_key=request.partition_key, tags=request.tags
            )
        return result.run_requests


def make_world(root: Path, pushgateway_url: str | None = None) -> World:
    landing, outcomes_dir = LocalLanding(folder=str(root / "landing")), root / "outcomes"
    outcomes_landing = LocalLanding(folder=str(outcomes_dir))
    rows = OutcomeRows(landing=landing, outcomes_landing=outcomes_landing, window_days=None)
    world = World(root, DagsterInstance.ephemeral(), Definitions(), results={})
    world.defs = Definitions(
        assets=ASSETS,
        asset_checks=[registry.champion_loads_and_scores, registry.champion_meets_thresholds],
        jobs=JOBS,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(root / "assets")),
            "dataset": DatasetResource(n_rows=2_000, outcome_rows=rows),
            "mlflow_tracking": world.mlflow,
            "landing": landing,
            "outcomes_landing": outcomes_landing,
            "reports": LocalReports(folder=str(root / "reports")),
            "metrics": MetricsResource(pushgateway_url=pushgateway_url, deployment="test"),
            "git": GitResource(),
        },
    )
    (root / "landing").mkdir()
    outcomes_dir.mkdir()
    return world


def outcome_file(path: Path, frame: pd.DataFrame, y: np.ndarray, when: str, extra=()) -> None:
    rows = pd.DataFrame({"id": frame["customer_id"], "churned": y, "observed_at": when})
    pd.concat([rows, pd.DataFrame(list(extra), columns=rows.columns)]).to_csv(path, index=False)


def check_results(world: World, request) -> dict:
    result = world.results[request.run_key]
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def realized_records(world: World):
    return world.instance.fetch_materializations(AssetKey("realized_performance"), limit=10).records


def meta(record) -> dict:
    return {k: v.value for k, v in record.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def gateway():
    """A Pushgateway stand-in that records what the assets push (the alert rule's input)."""
    with running_fake_gateway() as server:
        yield server


@pytest.fixture(scope="module")
def world(tmp_path_factory, gateway) -> World:
    """A champion trained on the old population, then the moved batch scored by it, then its
    outcomes in two drops: 60 early ones (with bad rows), then the rest."""
    world = make_world(tmp_path_factory.mktemp("outcomes"), url_of(gateway))
    world.run("training_job", run_config=TRAINING)
    batch, y = moved_population(1_200, start=900_001, seed=7)
    batch.to_csv(world.root / "landing" / BATCH, index=False)  # unlabeled, as scored
    [scored] = world.tick_landing()
    world.batch, world.y = batch, y
    first = batch.index[:60]
    flipped = batch.at[0, "customer_id"]  # its early label is wrong; corrected later
    outcome_file(
        world.root / "outcomes" / "outcomes_0301.csv", batch.loc[first], 1 - y[first], EARLY,
        extra=[("C99999999", 1, EARLY), (batch.at[1, "customer_id"], "maybe", EARLY),
               (batch.at[60, "customer_id"], y[60], BEFORE_SCORING)],
    )  # fmt: skip
    (world.root / "outcomes" / "broken.csv").write_text("customer,label\nC1,1\n")
    world.early_requests = world.tick_outcomes()  # outcomes_job
    world.early_realized = world.tick_outcomes()  # realized_job for the batch
    world.early = meta(realized_records(world)[0])
    outcome_file(world.root / "outcomes" / "outcomes_0315.csv", batch, y, LATE)
    world.late_requests = world.tick_outcomes()
    world.late_realized = world.tick_outcomes()
    world.flipped = flipped
    return world


def test_early_outcomes_are_checked_merged_and_too_few_to_judge(world):
    [merge] = world.early_requests
    assert merge.job_name == "outcomes_job"
    [request] = world.early_realized
    assert (request.job_name, request.partition_key) == ("realized_job", BATCH)
    early = world.early
    # 60 ids (the 'maybe' row of one of them is quarantined; its valid row counts).
    assert early["rows_with_outcome"] == 60 and early["rows_scored"] == 1_200
    assert early["outcome_share"] == 0.05
    assert early["status"] == "not enough outcomes" and early["decayed"] is False
    merged = world.instance.fetch_materializations(AssetKey("churn_outcomes"), limit=2).records
    first = meta(merged[-1])
    assert first["reasons"] == {"unknown_id": 1, "bad_label": 1}
    assert first["rows_in"] == first["outcomes_kept"] + first["rows_quarantined"] == 63
    # The outcome observed before the batch was scored is kept by the merge but not judged.
    assert early["outcomes_before_scoring"] == 1
    checks = check_results(world, merge)
    assert not checks["outcome_files_readable"].passed  # broken.csv, named with why
    assert "broken.csv" in str(checks["outcome_files_readable"].metadata["observed"].value)
    assert "lacks column(s) ['id', 'churned', 'observed_at']" in str(
        checks["outcome_files_readable"].metadata["observed"].value
    )
    assert checks["outcome_row_accounting"].passed
    assert check_results(world, request)["realized_auc_decay"].passed  # too few to judge


def test_late_outcomes_rematerialize_the_same_partition_and_the_decay_warns(world, gateway):
    records = realized_records(world)
    assert [r.partition_key for r in records] == [BATCH, BATCH]
    late = meta(records[0])
    assert late["rows_with_outcome"] == 1_200 and late["outcome_share"] == 1.0
    assert late["outcomes_before_scoring"] == 0  # its later outcome replaced the early one
    assert late["status"] == "decayed" and late["decayed"] is True
    assert late["holdout_auc"] - late["realized_roc_auc"] > 0.05
    assert "reliability_curve" in late and "metrics_table" in late
    # The corrected label (observed later) won over the early wrong one.
    stored = pd.read_parquet(world.root / "assets" / "churn_outcomes.parquet").set_index("id")
    assert stored.loc[world.flipped, "churned"] == world.y[0]
    [request] = world.late_realized
    check = check_results(world, request)["realized_auc_decay"]
    assert not check.passed and check.severity.value == "WARN"
    # What the ChurnRealizedAucDecayed rule reads (promtool-tested in test_monitoring_config):
    # the batch's last push says decayed, with the realized AUC and the gap.
    assert late["metrics_pushed"] is True
    pushes = [
        body
        for _, path, body in gateway.requests
        if group_of(path).get("batch") == BATCH and b"churn_realized_decayed{" in body
    ]
    assert len(pushes) == 2  # one per materialization of the partition
    assert value(pushes[-1], "churn_realized_decayed", batch=BATCH) == 1
    assert value(pushes[-1], "churn_realized_auc_gap", batch=BATCH) == pytest.approx(
        late["holdout_auc"] - late["realized_roc_auc"]
    )
    assert value(pushes[0], "churn_realized_decayed", batch=BATCH) == 0  # the early one
    assert check.metadata["observed"].value == late["realized_roc_auc"]
    assert "- margin 0.05" in check.metadata["threshold"].value


def test_decay_requests_retraining_through_the_same_sensor_with_its_cooldown(world):
    policy = {"retraining": RetrainingPolicy(cooldown_hours=24.0)}
    first = drift_retraining_sensor(
        build_sensor_context(instance=world.instance, cursor=None, resources=policy)
    )
    assert isinstance(first, SensorResult)
    [request] = first.run_requests
    assert request.tags["churn/trigger"] == "realized_performance"
    assert f"realized AUC decay in batch {BATCH}" in request.tags["churn/reason"]
    world.retrain_request = request
    again = drift_retraining_sensor(
        build_sensor_context(instance=world.instance, cursor=first.cursor, resources=policy)
    )
    assert isinstance(again, SkipReason) and again.skip_message == "no new drift reports"


def test_the_retrain_learns_the_moved_population_and_wins_through_the_gate(world):
    old_version = champion_version(world)
    result = world.run("training_job", run_config=TRAINING, tags=world.retrain_request.tags)
    events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    raw = {k: v.value for k, v in events["raw_dataset"].materialization.metadata.items()}
    assert (raw["source_rows"], raw["outcome_rows"], raw["replaced_source_rows"]) == (2000, 1200, 0)
    assert raw["rows"] == 3_200 and raw["rows_from_batches"] == {f"batch {BATCH}": 1200}
    table = pd.read_parquet(world.root / "assets" / "features.parquet")
    counts = table["_provenance"].value_counts().to_dict()
    assert counts[f"batch {BATCH}"] == 1200 and counts["source"] == len(table) - 1200
    assert set(counts) == {"source", f"batch {BATCH}"}
    promoted = {k: v.value for k, v in events["promoted_model"].materialization.metadata.items()}
    assert promoted["decision"] == "promoted", promoted["reason"]
    assert promoted["previous_champion"] == old_version  # judged against the old champion
    new_version = champion_version(world)
    assert new_version != old_version
    # On new customers of the moved population, the new champion beats the old one.
    fresh, y = moved_population(2_000, start=950_001, seed=11)
    with build_resources({"mlflow_tracking": world.mlflow}) as ready:
        reg = ready.mlflow_tracking.registry()
        old, new = reg.load(old_version), reg.load(new_version)
    inputs = list(new.feature_names_in_)
    auc_old = roc_auc_score(y, old.predict_proba(fresh[inputs])[:, 1])
    auc_new = roc_auc_score(y, new.predict_proba(fresh[inputs])[:, 1])
    assert auc_new > auc_old + 0.03, (auc_old, auc_new)


def champion_version(world: World) -> str:
    with build_resources({"mlflow_tracking": world.mlflow}) as ready:
        return ready.mlflow_tracking.registry().alias_version("champion")
