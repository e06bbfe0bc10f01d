"""The model server's manifests claim what the issue asks; schema validity is in test_k8s_jobs."""

from pathlib import Path

import yaml

MANIFESTS = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
NAME = "churn-model-server"


def documents() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_the_server_deployment_is_probed_non_root_read_only_and_never_below_its_replicas():
    docs = documents()
    deployment = docs[("Deployment", NAME)]
    spec = deployment["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["progressDeadlineSeconds"] > 0
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    # A read-only root needs a writable /tmp.
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert any(v["name"] == mount["name"] and "emptyDir" in v for v in pod["volumes"])


def test_service_hpa_pdb_and_network_policy_select_the_server_pods():
    docs = documents()
    labels = docs[("Deployment", NAME)]["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict) -> bool:
        return all(labels.get(k) == v for k, v in selector.items()) and bool(selector)

    assert selects(docs[("Service", NAME)]["spec"]["selector"])
    assert selects(docs[("PodDisruptionBudget", NAME)]["spec"]["selector"]["matchLabels"])
    assert selects(docs[("NetworkPolicy", NAME)]["spec"]["podSelector"]["matchLabels"])
    hpa = docs[("HorizontalPodAutoscaler", NAME)]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME}
    replicas = docs[("Deployment", NAME)]["spec"]["replicas"]
    assert hpa["minReplicas"] <= replicas <= hpa["maxReplicas"]
    # The budget leaves room to drain a node: fewer must stay than the HPA's minimum.
    assert docs[("PodDisruptionBudget", NAME)]["spec"]["minAvailable"] < hpa["minReplicas"]


def test_the_step_pods_may_patch_the_server_deployment_and_list_replica_sets():
    rules = documents()[("Role", "churn-dagster-run-launcher")]["rules"]
    apps = [r for r in rules if r["apiGroups"] == ["apps"]]
    deployments = next(r for r in apps if r["resources"] == ["deployments"])
    assert {"get", "patch"} <= set(deployments["verbs"]) and deployments["resourceNames"] == [NAME]
    replica_sets = next(r for r in apps if r["resources"] == ["replicasets"])
    assert {"get", "list"} <= set(replica_sets["verbs"])
