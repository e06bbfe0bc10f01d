"""Fault: two promotions at once. Exactly one champion, the history agrees with the alias, and
the second promotion is judged against the first (the registry lock serializes them).

The registry is made slow (each alias write takes 0.3 s, as a busy tracking server would) so the
two promotions overlap every time, not by luck.
"""

import json
import threading
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import build_init_resource_context
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from churn_assets.ml.promotion import GateConfig
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_registry import CHAMPION, HISTORY_TAG, ModelRegistry
from churn_assets.resources.registry_lock import LOCK_SUFFIX, RegistryBusyError, registry_lock

pytestmark = [pytest.mark.faults, pytest.mark.slow]
NAME = "churn-classifier"
GATE = GateConfig(min_metrics={"roc_auc": 0.5}, max_auc_drop=0.5, n_resamples=1000)


def _data(seed: int, rows: int = 400) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["tenure", "charges", "calls"])
    y = pd.Series((X["tenure"] + rng.normal(scale=1.0, size=rows) > 0).astype(int))
    return X, y


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One sqlite store for the module (creating one costs seconds); each test its own model."""
    folder = tmp_path_factory.mktemp("registry")
    tracking = MlflowResource(
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_location=str(folder / "artifacts"),
    )
    context = build_init_resource_context()
    tracking.setup_for_execution(context)
    yield tracking
    tracking.teardown_after_execution(context)


def _register(tracking: MlflowResource, seed: int, registry: ModelRegistry | None = None) -> str:
    X, y = _data(seed)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y)
    with tracking.start_run(f"candidate-{seed}", {}) as run:
        info = run.log_model(
            mlflow.sklearn.log_model, pipeline, name="model", pip_requirements=["scikit-learn"]
        )
    registry = registry or tracking.registry()
    return registry.register(info.model_uri, run.run_id, {"threshold": 0.5})


class _SlowAliasClient(MlflowClient):
    def set_registered_model_alias(self, *args, **kwargs):
        time.sleep(0.3)
        return super().set_registered_model_alias(*args, **kwargs)


def test_two_promotions_at_once_leave_one_champion_and_a_consistent_registry(store):
    versions = [_register(store, seed) for seed in (1, 2)]
    assert versions == ["1", "2"]
    X_holdout, y_holdout = _data(99)
    outcomes, errors, start = {}, [], threading.Barrier(2)

    def promote(version: str) -> None:
        registry = ModelRegistry(_SlowAliasClient(store.tracking_uri, store.tracking_uri), NAME)
        start.wait()
        try:
            outcomes[version] = registry.promote(version, X_holdout, y_holdout, 0.5, GATE)
        except Exception as exc:  # reported below; a thread cannot raise into the test
            errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert set(outcomes) == set(versions)

    # Serialized: one went first (no champion before it), the other was judged against it.
    first, second = sorted(outcomes.values(), key=lambda o: o.previous_champion is not None)
    assert first.previous_champion is None and first.promoted
    assert second.previous_champion == first.version
    assert first.evidence["champion_comparison"] is None
    assert second.evidence["champion_comparison"]["n_resamples"] == GATE.n_resamples  # paired

    client = MlflowClient(store.tracking_uri, store.tracking_uri)
    champion = str(client.get_model_version_by_alias(NAME, CHAMPION).version)
    expected = second.version if second.promoted else first.version
    assert champion == expected == second.champion_version
    history = json.loads(client.get_registered_model(NAME).tags[HISTORY_TAG])
    assert history[-1] == champion and len(history) == len(set(history))
    assert history == [o.version for o in (first, second) if o.promoted]
    # The lock is released.
    names = {m.name for m in client.search_registered_models()}
    assert f"{NAME}{LOCK_SUFFIX}" not in names


def test_a_held_lock_makes_the_next_one_wait_then_fail_with_the_holder(store):
    client = store.client()
    with registry_lock(client, "busy-model") as lock:
        started = time.monotonic()
        with pytest.raises(RegistryBusyError, match="held by pid"):
            with registry_lock(client, "busy-model", timeout=0.5):
                pass
        assert time.monotonic() - started >= 0.5
        assert lock in {m.name for m in client.search_registered_models()}
    with registry_lock(client, "busy-model", timeout=0.5):  # free again once released
        pass


def test_a_lock_left_by_a_killed_process_is_taken_over_when_stale(store):
    client = store.client()
    client.create_registered_model(f"stale-model{LOCK_SUFFIX}", description="held by a dead pod")
    time.sleep(1.1)
    with registry_lock(client, "stale-model", timeout=5, stale_after=1.0):
        pass
    assert f"stale-model{LOCK_SUFFIX}" not in {m.name for m in client.search_registered_models()}


def test_a_deployment_rollback_during_a_promotion_keeps_the_promotion(store):
    """v2 failed its deployment and is being rolled back to v1 while v3's promotion is in
    flight (judged against v2). Serialized by the lock, the restore sees the champion moved to
    v3 and keeps it; without the lock it moved the alias to v1 under the running promotion,
    which then recorded v2 as the champion it replaced."""
    name = "restore-race"
    registry = ModelRegistry(store.client(), name)
    v1, v2, v3 = (_register(store, seed, registry) for seed in (11, 12, 13))
    X_holdout, y_holdout = _data(99)
    for version in (v1, v2):
        registry.promote(version, X_holdout, y_holdout, 0.5, GATE, force=True)
    slow = ModelRegistry(_SlowAliasClient(store.tracking_uri, store.tracking_uri), name)
    results, errors = {}, []

    def promote() -> None:
        try:
            results["promotion"] = slow.promote(v3, X_holdout, y_holdout, 0.5, GATE, force=True)
        except Exception as exc:  # reported below
            errors.append(exc)

    def restore() -> None:
        try:
            results["restore"] = slow.restore_champion(v1, v2, "smoke test failed")
        except Exception as exc:  # reported below
            errors.append(exc)

    first = threading.Thread(target=promote)
    first.start()
    time.sleep(0.5)  # the promotion holds the lock: challenger alias set, models loading
    second = threading.Thread(target=restore)
    second.start()
    for thread in (first, second):
        thread.join(timeout=300)
    assert not errors, errors
    promotion = results["promotion"]
    assert promotion.previous_champion == v2 and promotion.champion_version == v3
    assert results["restore"] == (
        f"champion alias left at v{v3}: it moved from v{v2} while the deployment ran "
        "(that move is kept)"
    )
    client = MlflowClient(store.tracking_uri, store.tracking_uri)
    assert str(client.get_model_version_by_alias(name, CHAMPION).version) == v3
    assert json.loads(client.get_registered_model(name).tags[HISTORY_TAG]) == [v1, v2, v3]
    tags = registry.version_tags(v2)
    assert tags["deployment_failed"] == "smoke test failed"
    assert "rolled_back_from" not in registry.version_tags(v1)
    assert f"{name}{LOCK_SUFFIX}" not in {m.name for m in client.search_registered_models()}


def test_a_restore_with_no_race_moves_the_alias_back_and_tags_both(store):
    name = "restore-plain"
    registry = ModelRegistry(store.client(), name)
    v1, v2 = (_register(store, seed, registry) for seed in (21, 22))
    X_holdout, y_holdout = _data(99)
    for version in (v1, v2):
        registry.promote(version, X_holdout, y_holdout, 0.5, GATE, force=True)
    said = registry.restore_champion(v1, v2, "pods never ready")
    assert said == f"champion alias restored to v{v1}"
    assert registry.alias_version(CHAMPION) == v1 and registry.history() == [v1]
    assert registry.version_tags(v2)["deployment_failed"] == "pods never ready"
    assert registry.version_tags(v1)["rolled_back_from"] == v2
    # Nothing served before the failed rollout: back to the previous champion that loads.
    registry.promote(v2, X_holdout, y_holdout, 0.5, GATE, force=True)
    said = registry.restore_champion(None, v2, "smoke test failed")
    assert said == f"champion alias rolled back from v{v2} to v{v1}"
    assert registry.alias_version(CHAMPION) == v1
