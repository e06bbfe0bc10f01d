"""deployed_model end to end: a real MLflow registry, the Kubernetes API simulator or a local
server process, and a stand-in model server that serves the pinned version's real model.

Kubernetes: the Service is played by a FakeModelServer that answers as the newest ready pod's
pinned version would (the simulator runs no pod processes). Local: LocalModelServer starts
`python -m churn_assets_tests.fake_model_server` as the `make serve` process.
"""

import os
import sys
from pathlib import Path

import kubernetes
import pytest
import yaml
from dagster import AssetKey, load_assets_from_modules, materialize

from churn_assets.defs import (
    deployment,
    evaluation,
    features,
    ingestion,
    registry,
    training,
    validation,
)
from churn_assets.resources.kubernetes import KubernetesModelServer
from churn_assets.resources.local_server import LocalModelServer
from churn_assets.resources.model_registry import CHAMPION
from churn_assets.resources.parquet_io import LocalParquetIOManager
from churn_assets.rollout import VERSION_ENV
from churn_assets_tests.defs import test_registry
from churn_assets_tests.defs.test_registry import Home, champion_of, version_with
from churn_assets_tests.fake_model_server import FakeModelServer
from churn_assets_tests.k8s_sim import KubernetesSimulator
from churn_assets_tests.resources.test_kubernetes import pinned, server_deployment

# The registry tests' fixtures: the data assets, a registry at CHURN_HOME, fitted pipelines.
data_assets, home, pipelines = (
    test_registry.data_assets,
    test_registry.home,
    test_registry.pipelines,
)
ASSETS = load_assets_from_modules(
    [ingestion, validation, features, training, evaluation, registry, deployment]
)


def deploy(home: Home, target, champion: str):
    """Materialize deployed_model alone, with promoted_model's record stored as upstream."""
    io = LocalParquetIOManager(base_dir=str(home.path / "assets"))
    from dagster import build_output_context

    io.handle_output(
        build_output_context(asset_key=AssetKey("promoted_model")),
        {"champion_version": champion, "version": champion},
    )
    return materialize(
        ASSETS,
        selection=[AssetKey("deployed_model")],
        resources={**home.resources(), "model_server": target},
        raise_on_error=False,
    )


def failure_message(result) -> str:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return event.event_specific_data.error.message


@pytest.fixture
def cluster(tmp_path, home):
    """The simulator with the server Deployment, a Service stand-in; (sim, target, service)."""
    with KubernetesSimulator() as sim:
        sim.apps.ready_delay_seconds = 0.1
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", namespace="churn")
        api = kubernetes.client.AppsV1Api(
            kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        )
        api.create_namespaced_deployment("churn", server_deployment(progress_deadline=2))

        def routed_version() -> str | None:
            """What the Service would route to: the newest ready pod's pinned version."""
            pods = sim.list_pods("churn", {})["items"]
            ready = [p for p in pods if p["status"]["conditions"][-1]["status"] == "True"]
            ready.sort(key=lambda p: p["metadata"]["creationTimestamp"])
            return pinned(ready[-1]) if ready else None

        service = FakeModelServer(home.uri, routed_version).start()
        target = KubernetesModelServer(
            kubeconfig_file=str(kubeconfig),
            service_url=service.url,
            poll_seconds=0.1,
            rollout_timeout_seconds=20,
            ready_wait_seconds=2,
        )
        yield sim, target, service
        service.stop()


def test_a_good_rollout_serves_the_champion(home, pipelines, cluster):
    sim, target, _ = cluster
    v1 = champion_of(home, version_with(home, pipelines, "good"))
    first = deploy(home, target, v1)
    assert first.success
    v2 = champion_of(home, version_with(home, pipelines, "good"))
    result = deploy(home, target, v2)
    assert result.success
    assert target.served_version() == v2 == home.registry().alias_version(CHAMPION)
    metadata = result.asset_materializations_for_node("deployed_model")[0].metadata
    assert metadata["version"].value == v2 and metadata["previous_version"].value == v1
    assert "successfully rolled out" in metadata["steps"].value[0]


def test_new_pods_never_ready_roll_back_and_restore_the_alias(home, pipelines, cluster):
    sim, target, _ = cluster
    v1 = champion_of(home, version_with(home, pipelines, "good"))
    assert deploy(home, target, v1).success
    v2 = champion_of(home, version_with(home, pipelines, "good"))
    sim.apps.pod_ready = lambda pod: pinned(pod) != v2
    result = deploy(home, target, v2)
    assert not result.success
    message = failure_message(result)
    assert f"v{v2} was not deployed: rollout failed:" in message
    assert "exceeded its progress deadline" in message
    assert f"champion alias restored to v{v1}" in message
    assert target.served_version() == v1
    assert home.registry().alias_version(CHAMPION) == v1
    assert home.registry().version_tags(v2)["deployment_failed"].startswith("rollout failed")
    pods = sim.list_pods("churn", {})["items"]
    assert sorted(pinned(p) for p in pods) == [v1, v1]


def test_a_failing_smoke_test_rolls_back_and_restores_the_alias(home, pipelines, cluster):
    sim, target, service = cluster
    v1 = champion_of(home, version_with(home, pipelines, "good"))
    assert deploy(home, target, v1).success
    v2 = champion_of(home, version_with(home, pipelines, "good"))
    service.broken.add(v2)  # pods get ready, but the served probabilities are 1.5
    result = deploy(home, target, v2)
    assert not result.success
    message = failure_message(result)
    assert "probabilities outside [0, 1]" in message and f"restored to v{v1}" in message
    assert target.served_version() == v1 == home.registry().alias_version(CHAMPION)


def test_a_server_that_serves_another_version_fails_the_smoke_test(home, pipelines, cluster):
    sim, target, service = cluster
    v1 = champion_of(home, version_with(home, pipelines, "good"))
    assert deploy(home, target, v1).success
    v2 = champion_of(home, version_with(home, pipelines, "good"))
    service.version_source = lambda: v1  # e.g. a server that ignores the pin
    result = deploy(home, target, v2)
    assert not result.success
    assert f"GET /model reports version {v1}, expected {v2}" in failure_message(result)
    assert home.registry().alias_version(CHAMPION) == v1


@pytest.mark.slow
def test_local_target_starts_refreshes_and_rolls_back_the_server_process(home, pipelines, tmp_path):
    port = _free_port()

    def local_server(**env) -> LocalModelServer:
        # A new resource each time: materialize() rebuilds a resource from its init values.
        return LocalModelServer(
            port=port,
            state_dir=str(tmp_path / "serving"),
            command=[sys.executable, "-m", "churn_assets_tests.fake_model_server"],
            env={"MLFLOW_TRACKING_URI": home.uri, "PYTHONPATH": os.pathsep.join(sys.path), **env},
            rollout_timeout_seconds=120,
            ready_wait_seconds=2,
            request_timeout_seconds=60,  # a busy test machine
        )

    target = local_server()
    try:
        v1 = champion_of(home, version_with(home, pipelines, "good"))
        assert deploy(home, target, v1).success
        first_pid = target._state()["pid"]
        v2 = champion_of(home, version_with(home, pipelines, "good"))
        result = deploy(home, local_server(CHURN_FAKE_BROKEN=v2), v2)
        assert not result.success
        assert "restarted pid" in failure_message(result)
        state = target._state()
        assert state["version"] == v1 and state["pid"] != first_pid
        assert home.registry().alias_version(CHAMPION) == v1
        # The champion again, with a server that works: refreshed to it.
        champion_of(home, v2)
        assert deploy(home, target, v2).success
        assert target.served_version() == v2
    finally:
        target.stop()
    assert target.served_version() is None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_manifest_pins_nothing_so_the_first_rollout_pins(tmp_path):
    (doc,) = [
        d
        for d in yaml.safe_load_all(
            (Path(__file__).resolve().parents[2] / "deploy/k8s/model-server.yaml").read_text()
        )
        if d["kind"] == "Deployment"
    ]
    env = doc["spec"]["template"]["spec"]["containers"][0].get("env") or []
    assert VERSION_ENV not in {e["name"] for e in env}


@pytest.mark.slow
def test_local_target_with_the_real_model_server(home, pipelines, tmp_path):
    """The default command (`python -m churn_assets.cli serve`), as `make serve` runs it."""
    target = LocalModelServer(
        port=_free_port(),
        state_dir=str(tmp_path / "serving"),
        # One worker: on a loaded test machine uvicorn restarts workers that load slowly.
        workers=1,
        env={"MLFLOW_TRACKING_URI": home.uri, "PYTHONPATH": os.pathsep.join(sys.path)},
        rollout_timeout_seconds=240,
        request_timeout_seconds=60,
    )
    try:
        v1 = champion_of(home, version_with(home, pipelines, "good"))
        result = deploy(home, target, v1)
        assert result.success, failure_message(result)
        assert target.served_version() == v1
    finally:
        target.stop()
