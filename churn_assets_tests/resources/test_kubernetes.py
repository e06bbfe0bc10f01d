"""KubernetesModelServer against the API simulator's apps/v1: rollout, deadline, undo.

The Deployment is the real one from deploy/k8s/model-server.yaml, created through the official
client. Pods run no process in the simulator (see deploy/k8s/SIMULATOR.md): whether the pods of
a version become ready is the simulator's `pod_ready` hook, standing in for the image and its
readiness probe.
"""

from pathlib import Path

import kubernetes
import pytest
import yaml

from churn_assets import rollout
from churn_assets.resources.kubernetes import KubernetesModelServer
from churn_assets.resources.model_server import RolloutError
from churn_assets_tests.k8s_sim import KubernetesSimulator

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "model-server.yaml"


def server_deployment(progress_deadline: int = 2) -> dict:
    (deployment,) = [
        doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc["kind"] == "Deployment"
    ]
    deployment["spec"]["progressDeadlineSeconds"] = progress_deadline
    return deployment


def pinned(pod: dict) -> str | None:
    """The version a pod (API JSON) is pinned to."""
    env = pod["spec"]["containers"][0].get("env") or []
    return next((e["value"] for e in env if e["name"] == rollout.VERSION_ENV), None)


@pytest.fixture
def cluster(tmp_path):
    """A simulator with the model server Deployment created in namespace churn; (sim, target)."""
    with KubernetesSimulator() as sim:
        sim.apps.ready_delay_seconds = 0.1
        kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig", namespace="churn")
        api = kubernetes.client.AppsV1Api(
            kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        )
        api.create_namespaced_deployment("churn", server_deployment())
        target = KubernetesModelServer(
            kubeconfig_file=str(kubeconfig), poll_seconds=0.1, rollout_timeout_seconds=20
        )
        target.wait()
        yield sim, target, api


def replica_sets(api) -> list[dict]:
    found = api.list_namespaced_replica_set(
        "churn", label_selector="app.kubernetes.io/name=churn-model-server"
    )
    return kubernetes.client.ApiClient().sanitize_for_serialization(found)["items"]


def test_a_rollout_replaces_every_pod_and_never_drops_below_two_ready(cluster):
    sim, target, api = cluster
    assert target.served_version() is None  # the manifest pins nothing
    seen_ready = []
    original = sim.apps._update_status

    def spy(dep, new, owned, replicas):
        original(dep, new, owned, replicas)
        seen_ready.append(dep.status.get("availableReplicas", 0))

    sim.apps._update_status = spy
    message = target.roll_to("3")
    assert "successfully rolled out" in message
    assert target.served_version() == "3"
    pods = sim.list_pods("churn", {"labelSelector": "app.kubernetes.io/name=churn-model-server"})
    assert [pinned(p) for p in pods["items"]] == ["3", "3"]
    assert all(
        p["metadata"]["annotations"][rollout.VERSION_ANNOTATION] == "3" for p in pods["items"]
    )
    assert min(seen_ready) >= 2  # maxUnavailable 0, checked on every controller step
    deployment = api.read_namespaced_deployment("churn-model-server", "churn")
    assert deployment.metadata.annotations[rollout.REVISION_ANNOTATION] == "2"
    # A JSON patch went out, not a strategic merge patch the simulator would refuse.
    (patch,) = sim.requests_matching("PATCH", "/deployments/churn-model-server$")
    assert patch.status == 200 and patch.body[0]["op"] == "test"
    # Rolling to the version already pinned changes nothing.
    assert "already pins v3" in target.roll_to("3")
    assert len(sim.requests_matching("PATCH", "/deployments/")) == 1


def test_pods_that_never_get_ready_exceed_the_deadline_and_undo_restores_the_old_pods(cluster):
    sim, target, api = cluster
    target.roll_to("3")
    sim.apps.pod_ready = lambda pod: pinned(pod) != "4"
    with pytest.raises(RolloutError, match="exceeded its progress deadline"):
        target.roll_to("4")
    # The old pods kept serving throughout (maxUnavailable 0): two ready v3 pods, one v4 surge pod.
    pods = sim.list_pods("churn", {})["items"]
    ready = [pinned(p) for p in pods if p["status"]["conditions"][-1]["status"] == "True"]
    assert sorted(ready) == ["3", "3"]
    message = target.roll_back("3")
    assert "rolled back from revision 3 to revision 2 (v3)" in message
    assert target.served_version() == "3"
    pods = sim.list_pods("churn", {})["items"]
    assert sorted(pinned(p) for p in pods) == ["3", "3"]
    # As on a real cluster, the undone-to ReplicaSet becomes the newest revision.
    revisions = {rs["metadata"]["name"]: rollout.revision(rs) for rs in replica_sets(api)}
    assert sorted(revisions.values()) == [1, 3, 4]


def test_a_rollout_slower_than_the_timeout_fails_with_the_last_status(cluster):
    sim, target, _ = cluster
    sim.apps.ready_delay_seconds = 30  # ready long after our timeout, before the deadline
    slow = target.model_copy(update={"rollout_timeout_seconds": 0.5})
    with pytest.raises(RolloutError, match=r"not done after 0.5s: .*new replicas updated"):
        slow.roll_to("5")


def test_undo_without_an_earlier_revision_says_so(cluster):
    _, target, _ = cluster
    with pytest.raises(RolloutError, match="has no revision before 1"):
        target.roll_back(None)


def test_a_missing_deployment_names_the_manifest_and_rbac(cluster):
    _, target, _ = cluster
    other = target.model_copy(update={"deployment_name": "nope"})
    with pytest.raises(RolloutError, match="404 .*deploy/k8s/model-server.yaml"):
        other.served_version()


def test_the_simulator_refuses_what_it_does_not_simulate(cluster):
    sim, _, api = cluster
    with pytest.raises(kubernetes.client.exceptions.ApiException) as error:
        api.patch_namespaced_deployment("churn-model-server", "churn", {"spec": {"replicas": 3}})
    assert error.value.status == 415  # strategic merge patch
    with pytest.raises(kubernetes.client.exceptions.ApiException) as error:
        bad = [{"op": "test", "path": "/spec/replicas", "value": 7}]
        api.patch_namespaced_deployment("churn-model-server", "churn", bad)
    assert error.value.status == 422
    broken = server_deployment()
    broken["metadata"]["name"] = "mismatch"
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}
    with pytest.raises(kubernetes.client.exceptions.ApiException) as error:
        api.create_namespaced_deployment("churn", broken)
    assert error.value.status == 422 and "selector" in error.value.body
