"""The served version comes from the registry through `ModelRegistry`: the champion alias (or a
pinned version) resolved first, the threshold and holdout metrics from the version's tags; a
moved alias is followed by the poll. Real local MLflow store (sqlite)."""

import asyncio

import mlflow
import pytest
from mlflow import MlflowClient

from churn_assets.resources.mlflow_models import log_pipeline
from churn_assets.resources.model_registry import ModelRegistry
from churn_assets.serving.config import ServerConfig
from churn_assets.serving.model import RegistryLoader
from churn_assets.serving.state import ServingState
from churn_assets_tests.serving.models import fitted, validated

NAME = "churn-classifier"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two registered versions (v1 champion, threshold 0.3; v2 threshold 0.6)."""
    path = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("serving", artifact_location=str(path / "art"))
    valid, inputs = validated(3_000, 7)
    registry = ModelRegistry(MlflowClient(uri, uri), NAME)
    versions = []
    for family, threshold in (("logistic_regression", 0.3), ("xgboost", 0.6)):
        with mlflow.start_run(experiment_id=experiment) as run:
            info = log_pipeline(fitted(family), valid[inputs])
        tags = {"family": family, "threshold": threshold, "holdout_roc_auc": 0.8}
        versions.append(registry.register(info.model_uri, run.info.run_id, tags))
    registry.client.set_registered_model_alias(NAME, "champion", versions[0])
    yield uri, registry, versions
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_the_champion_is_resolved_and_described(store):
    uri, registry, versions = store
    loaded = RegistryLoader(ServerConfig(tracking_uri=uri))()
    assert loaded.version == versions[0] and loaded.threshold == 0.3
    assert loaded.metrics == {"roc_auc": 0.8}
    assert loaded.run_id == registry.client.get_model_version(NAME, versions[0]).run_id
    assert loaded.scoring_path == "compiled"


def test_a_pinned_version_wins_over_the_alias(store):
    uri, _, versions = store
    loaded = RegistryLoader(ServerConfig(tracking_uri=uri, pinned_version=versions[1]))()
    assert loaded.version == versions[1] and loaded.threshold == 0.6


def test_the_poll_follows_a_moved_alias(store):
    uri, registry, versions = store
    state = ServingState(
        ServerConfig(tracking_uri=uri), RegistryLoader(ServerConfig(tracking_uri=uri))
    )

    async def scenario():
        assert await state.poll_once()  # nothing loaded yet: loads the champion
        first = state.current.version
        assert not await state.poll_once()  # unchanged alias: no reload
        registry.client.set_registered_model_alias(NAME, "champion", versions[1])
        try:
            assert await state.poll_once()
        finally:
            registry.client.set_registered_model_alias(NAME, "champion", versions[0])
        return first, state.current.version

    assert asyncio.run(scenario()) == (versions[0], versions[1])


def test_no_tracking_uri_is_a_clear_error():
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_URI is not set"):
        RegistryLoader(ServerConfig(tracking_uri=None))
