"""The training lineage through Dagster against a real local MLflow store (sqlite + a folder).

One module-scoped store is materialized twice with the same data, config and seed: the first
run promotes the first model, the second is compared with that champion. The tests read that
store; only the last of them adds a (refused) version to it. Failures use their own stores.
"""

import json
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, load_assets_from_modules, materialize
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from churn_assets.defs import evaluation, features, ingestion, registry, training, validation
from churn_assets.ml.features import SPLIT, FeatureSpec, build_preprocessor, split_xy
from churn_assets.ml.models import FAMILIES, SCORING
from churn_assets.ml.validation import TARGET
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_evidence import EVIDENCE_TAG, load_evidence_model
from churn_assets.resources.model_registry import CHALLENGER, CHAMPION, ModelRegistry
from churn_assets.resources.parquet_io import LocalParquetIOManager

ASSETS = load_assets_from_modules([ingestion, validation, features, training, evaluation, registry])
CHECKS = [registry.champion_loads_and_scores, registry.champion_meets_thresholds]
DATA_ASSETS = load_assets_from_modules([ingestion, validation, features])
SMALL_SEARCH = {"config": {"n_iter": 2, "cv_folds": 3, "refit_trees": 100}}
FAST = {"ops": {f"trained_models__{family}": SMALL_SEARCH for family in FAMILIES}}
N_ROWS = 2_000
MODEL_NAME = "churn-classifier"
TRAINED = [f"trained_models/{family}" for family in FAMILIES]


@dataclass
class Store:
    """A local deployment's files: MLflow at <home>/mlflow.db + mlartifacts, assets in assets/."""

    home: Path
    # One Dagster instance per store: later steps read the data_version recorded upstream.
    instance: DagsterInstance = field(default_factory=DagsterInstance.ephemeral)

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.home}/mlflow.db"

    def tracking(self, **overrides) -> MlflowResource:
        settings = {"tracking_uri": self.uri, "artifact_location": str(self.home / "mlartifacts")}
        return MlflowResource(**{**settings, **overrides})

    def client(self) -> MlflowClient:
        mlflow.set_tracking_uri(self.uri)  # model URIs (models:/...) resolve through the global
        mlflow.set_registry_uri(self.uri)
        return MlflowClient(self.uri, self.uri)

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.client(), MODEL_NAME)

    def runs(self, **filters: str) -> list:
        client = self.client()
        experiment = client.get_experiment_by_name("churn")
        where = " and ".join(f"tags.{k} = '{v}'" for k, v in filters.items())
        return client.search_runs([experiment.experiment_id], filter_string=where)

    def features(self) -> pd.DataFrame:
        return pd.read_parquet(self.home / "assets" / "features.parquet")

    def spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(
            json.loads((self.home / "assets" / "feature_spec.json").read_text())
        )

    def split(self, side: str) -> tuple[pd.DataFrame, pd.Series]:
        return split_xy(self.features(), self.spec(), side)


def run(store: Store, run_config=FAST, selection=None, dataset=None, tracking=None):
    return materialize(
        [*ASSETS, *CHECKS],
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(store.home / "assets")),
            "dataset": dataset or DatasetResource(spec="synthetic", n_rows=N_ROWS),
            "mlflow_tracking": tracking or store.tracking(),
            "metrics": MetricsResource(),  # no Pushgateway: nothing is sent
            "git": GitResource(),
        },
        instance=store.instance,
        run_config=run_config,
        selection=selection,
        raise_on_error=False,
    )


def train_one(store: Store, family: str, tracking=None):
    """Materialize only `family`'s trained asset from the stored features."""
    return run(
        store,
        run_config={"ops": {f"trained_models__{family}": SMALL_SEARCH}},
        selection=[AssetKey(["trained_models", family])],
        tracking=tracking,
    )


def metadata(result, key: str) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def step_failures(result) -> dict[str, list[tuple[str, str]]]:
    """Step key -> the error chain as (class name, message), outermost first."""
    failures = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            chain, error = [], event.event_specific_data.error
            while error is not None:
                chain.append((error.cls_name, error.message))
                error = error.cause
            failures[event.step_key] = chain
    return failures


def error_chains(result) -> list[tuple[str, str]]:
    """(class name, message) of every error in the run's events, causes included."""
    found = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            found.append((error.cls_name, error.message))
            error = error.cause
    return found


def checks_of(result, asset: str) -> dict:
    return {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey(asset)
    }


@pytest.fixture(scope="module", autouse=True)
def _restore_mlflow_uris():
    """The resource sets MLflow's process-wide URIs; put them back after this module."""
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)


@pytest.fixture(scope="module")
def lineage(tmp_path_factory):
    """The training lineage materialized twice into one store (same data, config and seed)."""
    store = Store(tmp_path_factory.mktemp("lineage"))
    first = run(store)
    assert first.success, step_failures(first)
    champion_after_first = store.registry().alias_version(CHAMPION)
    second = run(store)
    assert second.success, step_failures(second)
    return SimpleNamespace(
        store=store, first=first, second=second, champion_after_first=champion_after_first
    )


@pytest.fixture(scope="module")
def data_assets(tmp_path_factory) -> Store:
    """Just raw_dataset -> features (fast), for the tests that break one training step."""
    store = Store(tmp_path_factory.mktemp("data"))
    result = materialize(
        DATA_ASSETS,
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(store.home / "assets")),
            "dataset": DatasetResource(spec="synthetic", n_rows=N_ROWS),
            "metrics": MetricsResource(),
            "git": GitResource(),
        },
        instance=store.instance,
    )
    assert result.success
    return store


@pytest.fixture
def data_store(tmp_path, data_assets) -> Store:
    """A fresh MLflow store with a copy of the data assets (and the instance that recorded them)."""
    store = Store(tmp_path / "store", instance=data_assets.instance)
    shutil.copytree(data_assets.home / "assets", store.home / "assets")
    return store


def test_first_materialization_trains_every_family_and_promotes_the_best(lineage, tmp_path):
    first, store = lineage.first, lineage.store
    materialized = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert {*TRAINED, "model_evaluation", "promoted_model"} <= materialized
    checks = checks_of(first, "promoted_model")
    assert set(checks) == {"champion_loads_and_scores", "champion_meets_thresholds"}
    assert all(c.passed for c in checks.values()), {k: c.metadata for k, c in checks.items()}

    promoted = metadata(first, "promoted_model")
    assert promoted["decision"] == "promoted" and promoted["version"] == "1"
    assert promoted["previous_champion"] == "none" and promoted["champion_version"] == "1"
    assert promoted["reason"].startswith("Promoted as the first model")
    assert promoted["family"] == metadata(first, "model_evaluation")["best"]
    assert lineage.champion_after_first == "1"

    tags = store.registry().version_tags("1")
    assert tags["promotion_decision"] == "promoted" and tags["family"] == promoted["family"]
    assert float(tags["holdout_roc_auc"]) == pytest.approx(
        promoted["holdout_metrics"]["roc_auc"], abs=1e-6
    )
    history = store.client().get_registered_model(MODEL_NAME).tags["champion_history"]
    assert json.loads(history)[0] == "1"
    candidate_run = store.client().get_model_version(MODEL_NAME, "1").run_id
    card = Path(store.client().download_artifacts(candidate_run, "model_card.md", str(tmp_path)))
    text = card.read_text()
    assert text.startswith("# Model card: churn-classifier")
    assert f"Family: {promoted['family']}" in text and "Promoted as the first model" in text


def test_every_mlflow_run_ends_finished(lineage):
    runs = lineage.store.runs()
    # Per materialization: one run per family, one for model_evaluation, one for the final fit.
    assert len(runs) == 2 * (len(FAMILIES) + 2)
    assert {r.info.status for r in runs} == {"FINISHED"}, [
        (r.info.run_name, r.info.status) for r in runs
    ]
    assert mlflow.active_run() is None


def test_each_family_run_is_tracked_with_lineage_and_a_skops_model(lineage, tmp_path):
    store, first = lineage.store, lineage.first
    X_test, _ = store.split("test")
    for family in FAMILIES:
        meta = metadata(first, f"trained_models/{family}")
        [tracked] = store.runs(
            dagster_run_id=first.run_id, dagster_asset_key=f"trained_models/{family}"
        )
        assert tracked.info.run_id == meta["mlflow_run_id"] and tracked.info.run_name == family
        tags, params, metrics = tracked.data.tags, tracked.data.params, tracked.data.metrics
        assert tags["code_version"] == training.CODE_VERSION
        assert len(tags["data_version"]) == 16 and tags["git_sha"]
        assert params["family"] == family and params["n_iter"] == "2" and params["cv_folds"] == "3"
        assert {k.removeprefix("model__") for k in meta["best_params"]} <= set(params)
        for metric in SCORING:
            assert {f"cv_{metric}_mean", f"cv_{metric}_std", f"test_{metric}"} <= set(metrics)
        assert metrics["cv_roc_auc_mean"] == pytest.approx(meta["cv_roc_auc"])
        assert metrics["test_roc_auc"] == pytest.approx(meta["holdout_roc_auc"])

        trials = store.client().download_artifacts(
            tracked.info.run_id, "search/trials.json", str(tmp_path / family)
        )
        assert len(json.loads(Path(trials).read_text())["data"]) == 2  # n_iter trials
        rungs = json.loads(
            Path(
                store.client().download_artifacts(
                    tracked.info.run_id, "search/rungs.json", str(tmp_path / family / "r")
                )
            ).read_text()
        )
        assert rungs["columns"][:4] == ["rung", "n_resources", "candidates", "fit_seconds"]
        assert [r[2] for r in rungs["data"]] == [2]  # two candidates, one rung
        assert float(tags["search_seconds"]) > 0 and float(tags["refit_seconds"]) > 0

        info = mlflow.models.get_model_info(meta["model_uri"])
        assert info.flavors["sklearn"]["serialization_format"] == "skops"
        proba = np.asarray(mlflow.pyfunc.load_model(meta["model_uri"]).predict(X_test.head(25)))
        assert proba.shape == (25, 2), family
        assert ((proba >= 0) & (proba <= 1)).all() and np.allclose(proba.sum(axis=1), 1.0)
        assert proba[:, 1].std() > 0, f"{family} gives every row the same probability"


def test_same_data_config_and_seed_reproduce_the_metrics(lineage):
    first, second, store = lineage.first, lineage.second, lineage.store
    for key in TRAINED:
        a, b = metadata(first, key), metadata(second, key)
        assert a["mlflow_run_id"] != b["mlflow_run_id"]  # two real runs, not one reused
        for name in ("cv_roc_auc", "holdout_roc_auc", "threshold", "best_params"):
            assert a[name] == b[name], (key, name, a[name], b[name])
        [run_a] = store.runs(dagster_run_id=first.run_id, dagster_asset_key=key)
        [run_b] = store.runs(dagster_run_id=second.run_id, dagster_asset_key=key)
        assert run_a.data.tags["data_version"] == run_b.data.tags["data_version"]
        assert run_a.data.metrics == pytest.approx(run_b.data.metrics, abs=1e-12), key
    evaluation_a = metadata(first, "model_evaluation")
    evaluation_b = metadata(second, "model_evaluation")
    assert evaluation_a["best"] == evaluation_b["best"]
    assert evaluation_a["metrics"] == evaluation_b["metrics"]


def test_champion_matches_or_beats_plain_logistic_regression(lineage):
    store = lineage.store
    fspec = store.spec()
    X_train, y_train = store.split("train")
    X_test, y_test = store.split("test")
    baseline = Pipeline(
        [("preprocess", build_preprocessor(fspec)), ("model", LogisticRegression())]
    ).fit(X_train, y_train)
    baseline_auc = roc_auc_score(y_test, baseline.predict_proba(X_test)[:, 1])
    registry_ = store.registry()
    # The registered champion was refitted on the holdout too; its evidence model was not.
    champion = load_evidence_model(registry_, registry_.alias_version(CHAMPION))
    champion_auc = roc_auc_score(y_test, champion.predict_proba(X_test)[:, 1])
    assert champion_auc >= baseline_auc - 0.005, (champion_auc, baseline_auc)


def scaler_rows(model) -> int:
    """Rows the fitted numeric scaler of a (possibly wrapped) pipeline has seen."""
    # ColumnTransformer fits clones of its steps: the fitted scaler is in `transformers_`.
    [columns] = [
        v for v in model.get_params(deep=True).values() if isinstance(v, ColumnTransformer)
    ]
    return int(columns.named_transformers_["numeric"].named_steps["scale"].n_samples_seen_)


def test_the_registered_model_saw_every_labeled_row_and_the_card_says_so(lineage, tmp_path):
    store, first = lineage.store, lineage.first
    n_train, n_holdout = len(store.split("train")[0]), len(store.split("test")[0])
    registry_ = store.registry()
    tags = registry_.version_tags("1")
    assert int(tags["final_fit_rows"]) == n_train + n_holdout
    assert scaler_rows(registry_.load("1")) == n_train + n_holdout
    evidence = load_evidence_model(registry_, "1")
    assert scaler_rows(evidence) == n_train  # the gate's model never saw the holdout
    promoted = metadata(first, "promoted_model")
    best = metadata(first, "model_evaluation")["best"]
    assert tags[EVIDENCE_TAG] == metadata(first, f"trained_models/{best}")["model_uri"]
    assert promoted["final_fit_rows"] == n_train + n_holdout
    run_id = store.client().get_model_version(MODEL_NAME, "1").run_id
    assert store.client().get_run(run_id).info.run_name == f"{best}_final_fit"
    card = Path(store.client().download_artifacts(run_id, "model_card.md", str(tmp_path)))
    text = card.read_text()
    assert f"final fit: {n_train + n_holdout}" in text
    assert f"evaluated on {n_holdout} holdout rows by the model fitted on the {n_train}" in text


def test_second_materialization_is_compared_with_the_champion(lineage):
    promoted = metadata(lineage.second, "promoted_model")
    assert promoted["version"] == "2" and promoted["previous_champion"] == "1"
    comparison = promoted["evidence"]["champion_comparison"]
    assert comparison["n_resamples"] >= 1000
    assert comparison["ci_low"] <= comparison["diff"] <= comparison["ci_high"]
    assert comparison["required_ci_low"] == -0.01
    # The retrained model is the same model, so it is non-inferior and replaces the champion.
    assert comparison["diff"] == 0.0 and comparison["passed"]
    assert promoted["decision"] == "promoted"
    assert "not worse than the champion" in promoted["reason"]
    assert lineage.store.registry().version_tags("2")["previous_champion"] == "1"
    assert all(c.passed for c in checks_of(lineage.second, "promoted_model").values())


def test_a_challenger_below_the_thresholds_is_refused_and_the_champion_stays(lineage):
    """Runs last on the shared store: it adds a refused version."""
    store = lineage.store
    champion_before = store.registry().alias_version(CHAMPION)
    gate = {"min_metrics": {"roc_auc": 0.99, "f1": 0.45, "accuracy": 0.70}}
    result = run(
        store,
        run_config={"ops": {"promoted_model": {"config": gate}}},
        selection=[AssetKey("promoted_model")],
    )
    assert not step_failures(result)
    promoted = metadata(result, "promoted_model")
    observed = promoted["holdout_metrics"]["roc_auc"]
    assert promoted["decision"] == "refused"
    assert f"roc_auc {observed:.4f} is below the minimum 0.9900" in promoted["reason"]
    registry_ = store.registry()
    assert registry_.alias_version(CHALLENGER) == promoted["version"] != champion_before
    assert registry_.alias_version(CHAMPION) == champion_before == promoted["champion_version"]
    assert registry_.version_tags(promoted["version"])["promotion_decision"] == "refused"
    checks = checks_of(result, "promoted_model")
    assert checks["champion_loads_and_scores"].passed
    # The champion's own recorded AUC is below the raised bar too, and the check says so.
    assert not checks["champion_meets_thresholds"].passed
    assert "roc_auc" in checks["champion_meets_thresholds"].metadata["failing"].value


def test_a_failure_inside_a_tracked_block_marks_the_mlflow_run_failed(data_store, monkeypatch):
    def broken_log_pipeline(*args, **kwargs):
        raise OSError("disk full while logging the model")

    monkeypatch.setattr(training, "log_pipeline", broken_log_pipeline)
    result = train_one(data_store, "logistic_regression")
    assert not result.success
    failures = step_failures(result)
    assert set(failures) == {"trained_models__logistic_regression"}
    chain = failures["trained_models__logistic_regression"]
    assert any(cls == "OSError" and "disk full" in message for cls, message in chain), chain
    [tracked] = data_store.runs()
    assert tracked.info.status == "FAILED" and tracked.info.run_name == "logistic_regression"
    assert mlflow.active_run() is None


def test_a_single_class_training_split_fails_with_the_class_counts(data_store):
    path = data_store.home / "assets" / "features.parquet"
    table = pd.read_parquet(path)
    train = table[SPLIT] == "train"
    table.loc[train, TARGET] = 0
    table.to_parquet(path, index=False)
    result = train_one(data_store, "xgboost")
    assert not result.success
    [(name, message)] = [
        link for link in step_failures(result)["trained_models__xgboost"] if link[0] == "ValueError"
    ]
    assert f"y_train has only one class (class 0: {int(train.sum())} rows)" in message


def test_an_unreachable_mlflow_server_fails_the_step_naming_the_uri(data_store, monkeypatch):
    # The resource bounds MLflow's own HTTP retries in the environment; undo that afterwards.
    for name in ("MAX_RETRIES", "BACKOFF_FACTOR", "TIMEOUT"):
        name = f"MLFLOW_HTTP_REQUEST_{name}"
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe is released
    uri = f"http://127.0.0.1:{port}"
    tracking = MlflowResource(tracking_uri=uri, connect_retries=1, retry_seconds=0.1)
    started = time.monotonic()
    result = train_one(data_store, "logistic_regression", tracking=tracking)
    elapsed = time.monotonic() - started
    assert not result.success
    # The resource checks the server as the step's resources start, before any training: the
    # error is on the step's resource-init failure, not on a step that ran.
    [message] = {m for cls, m in error_chains(result) if cls == "MlflowUnavailableError"}
    assert f"MLflow at {uri} is unreachable" in message and "after 2 attempt(s)" in message
    assert not result.get_asset_materialization_events()  # nothing trained or logged
    # connect_retries=1 means a quick failure, not minutes of MLflow's own retries.
    assert elapsed < 90, f"an unreachable server took {elapsed:.0f}s to report"
