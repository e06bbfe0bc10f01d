"""The Kubernetes Jobs our runs and steps become, and the manifests under deploy/k8s/.

The step Jobs are built the way `k8s_job_executor` builds them (dagster_k8s/executor.py
`_get_container_context` and `launch_step`): the run launcher's settings from dagster.yaml, then
the step's `dagster-k8s/config` op tag on top, then `construct_dagster_k8s_job`. Every Job and
manifest is validated offline against the Kubernetes OpenAPI schemas shipped by kubernetes-validate
(strict: unknown fields are errors).
"""

import importlib
import re
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml
from dagster import DagsterRun
from dagster._config import process_config, resolve_to_config_type
from dagster_k8s import K8sRunLauncher
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    construct_dagster_k8s_job,
    get_k8s_job_name,
    get_user_defined_k8s_config,
)

from churn_assets.defs.training import POD_RESOURCES, trained_models
from churn_assets_tests.integration.services import require_module

kubernetes_validate = require_module(
    "kubernetes_validate",
    "kubernetes-validate is not installed (pip install kubernetes-validate; dev extra)",
)

REPO = Path(__file__).resolve().parents[1]
DAGSTER_YAML = REPO / "dagster.yaml"
HELM_VALUES = REPO / "helm-values.yaml"
MANIFESTS = REPO / "deploy" / "k8s"
# The cluster version we target; kubernetes-validate ships its schemas (1.25 to 1.37 here).
K8S_VERSION = "1.33.0"
IMAGE = "ghcr.io/churn-assets/churn-assets:0.1.0"
ENV_FOR_INSTANCE = {
    "DAGSTER_JOB_IMAGE": IMAGE,
    "DAGSTER_PG_HOST": "churn-postgres.churn.svc.cluster.local",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_COMPUTE_LOGS_BUCKET": "churn-assets-prod",
    "DAGSTER_COMPUTE_LOGS_PREFIX": "dagster/compute-logs",
}
OFFLINE_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "offline", "user": {"token": "unused"}}],
    "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
    "current-context": "offline",
}


@pytest.fixture
def launcher(tmp_path, monkeypatch) -> K8sRunLauncher:
    """The K8sRunLauncher of dagster.yaml, built for real but pointed at an unreachable kubeconfig
    (construction only parses it; nothing here calls the API)."""
    for name, value in ENV_FOR_INSTANCE.items():
        monkeypatch.setenv(name, value)
    section = yaml.safe_load(DAGSTER_YAML.read_text())["run_launcher"]
    klass = getattr(importlib.import_module(section["module"]), section["class"])
    assert klass is K8sRunLauncher
    result = process_config(resolve_to_config_type(klass.config_type()), section["config"])
    assert result.success, result.errors
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(OFFLINE_KUBECONFIG))
    config = {**result.value, "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    return K8sRunLauncher(**config)


def training_run() -> DagsterRun:
    return DagsterRun(
        job_name="training_job", run_id=str(uuid.uuid4()), tags={"churn/operation": "training"}
    )


def step_job(launcher: K8sRunLauncher, run: DagsterRun, step_key: str, step_tags: dict):
    """What k8s_job_executor.launch_step would submit for one step (no executor config)."""
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    context = context.merge(
        K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step_tags))
    )
    job_name = f"dagster-step-{get_k8s_job_name(run.run_id, step_key)}"
    return construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(IMAGE, launcher),
        args=["dagster", "api", "execute_step"],
        job_name=job_name,
        pod_name=job_name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/op": step_key, "dagster/run-id": run.run_id},
        env_vars=[
            {"name": "DAGSTER_RUN_JOB_NAME", "value": run.job_name},
            {"name": "DAGSTER_RUN_STEP_KEY", "value": step_key},
        ],
    )


def run_worker_job(launcher: K8sRunLauncher, run: DagsterRun):
    """What K8sRunLauncher._launch_k8s_job_with_args would submit for the run worker."""
    context = launcher.get_container_context_for_run(run)
    job_name = f"dagster-run-{run.run_id}"
    return construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(IMAGE, launcher),
        args=["dagster", "api", "execute_run"],
        job_name=job_name,
        pod_name=job_name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id},
        env_vars=[{"name": "DAGSTER_RUN_JOB_NAME", "value": run.job_name}],
    )


def family_steps() -> dict[str, tuple[str, dict]]:
    """family -> (step key, step tags) of each trained_models asset."""
    steps = {}
    for asset in trained_models:
        family = asset.key.path[-1]
        steps[family] = (asset.op.name, dict(asset.op.tags))
    return steps


def as_manifest(obj) -> dict:
    return kubernetes.client.ApiClient().sanitize_for_serialization(obj)


def k8s_errors(manifest: dict) -> list[str]:
    try:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}: {error}"]
    return []


def container_of(job) -> Any:
    (container,) = job.spec.template.spec.containers
    return container


def test_every_family_has_a_pod_size_tag():
    steps = family_steps()
    assert set(steps) == set(POD_RESOURCES)
    for family, (step_key, tags) in steps.items():
        assert step_key == f"trained_models__{family}"
        assert "dagster-k8s/config" in tags, family


def test_xgboost_step_pod_gets_two_cpus_and_4gi(launcher):
    step_key, tags = family_steps()["xgboost"]
    job = step_job(launcher, training_run(), step_key, tags)

    resources = container_of(job).resources
    assert resources.requests == {"cpu": "2", "memory": "4Gi"}
    assert resources.limits == {"cpu": "2", "memory": "4Gi"}
    pod = job.spec.template.spec
    assert pod.service_account_name == "churn-dagster"
    assert container_of(job).image == IMAGE
    assert job.metadata.labels["app.kubernetes.io/component"] == "step_worker"


@pytest.mark.parametrize("family", sorted(POD_RESOURCES))
def test_each_family_step_job_is_sized_and_valid(launcher, family):
    step_key, tags = family_steps()[family]
    job = step_job(launcher, training_run(), step_key, tags)

    cpu_request, memory_request, cpu_limit, memory_limit = POD_RESOURCES[family]
    resources = container_of(job).resources
    # The tag replaces every key of the run launcher's run-worker size; nothing leaks through.
    assert resources.requests == {"cpu": cpu_request, "memory": memory_request}
    assert resources.limits == {"cpu": cpu_limit, "memory": memory_limit}
    # The launcher's environment reaches the step pod.
    env_from = container_of(job).env_from
    assert {source.config_map_ref.name for source in env_from if source.config_map_ref} == {
        "churn-dagster-env"
    }
    assert {source.secret_ref.name for source in env_from if source.secret_ref} == {
        "churn-runtime-secrets"
    }
    assert k8s_errors(as_manifest(job)) == []


def test_run_worker_job_uses_the_launcher_size_and_is_valid(launcher):
    job = run_worker_job(launcher, training_run())
    resources = container_of(job).resources
    assert resources.requests == {"cpu": "250m", "memory": "512Mi"}
    assert resources.limits == {"cpu": "1", "memory": "1Gi"}
    assert job.spec.ttl_seconds_after_finished == 86400
    annotations = job.spec.template.metadata.annotations
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert k8s_errors(as_manifest(job)) == []


def test_validator_rejects_a_broken_job(launcher):
    step_key, tags = family_steps()["xgboost"]
    manifest = as_manifest(step_job(launcher, training_run(), step_key, tags))
    manifest["spec"]["template"]["spec"]["containers"][0]["resourcez"] = {}
    assert k8s_errors(manifest) != []
    del manifest["spec"]["template"]["spec"]["containers"][0]["resourcez"]
    manifest["spec"]["backoffLimit"] = "zero"
    assert k8s_errors(manifest) != []


def manifest_documents() -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents.append((path.name, document))
    return documents


def test_manifests_exist_for_the_deployment():
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in manifest_documents()}
    for expected in [
        ("Namespace", "churn"),
        ("ServiceAccount", "churn-dagster"),
        ("Role", "churn-dagster-run-launcher"),
        ("RoleBinding", "churn-dagster-run-launcher"),
        ("ConfigMap", "churn-dagster-instance"),
        ("ConfigMap", "churn-dagster-env"),
        ("Deployment", "churn-model-server"),
        ("Service", "churn-model-server"),
    ]:
        assert expected in kinds


@pytest.mark.parametrize(
    ("filename", "document"),
    manifest_documents(),
    ids=lambda value: value if isinstance(value, str) else value["kind"],
)
def test_every_manifest_is_valid_kubernetes(filename, document):
    assert k8s_errors(document) == []


def test_manifests_agree_with_dagster_yaml_and_helm():
    instance = yaml.safe_load(DAGSTER_YAML.read_text())
    launcher = instance["run_launcher"]["config"]
    documents = {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in manifest_documents()}

    namespace = launcher["job_namespace"]
    for (kind, name), doc in documents.items():
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, (kind, name)
    assert ("ServiceAccount", launcher["service_account_name"]) in documents
    binding = documents[("RoleBinding", "churn-dagster-run-launcher")]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": launcher["service_account_name"], "namespace": namespace}
    ]
    rules = documents[("Role", "churn-dagster-run-launcher")]["rules"]
    granted = {resource for rule in rules for resource in rule["resources"]}
    assert {"jobs", "pods", "pods/log", "events"} <= granted

    # The instance ConfigMap carries dagster.yaml verbatim (regenerate it after editing that file).
    configmap = documents[("ConfigMap", launcher["instance_config_map"])]
    assert yaml.safe_load(configmap["data"]["dagster.yaml"]) == instance

    # Every {env: VAR} dagster.yaml reads is provided: the password by the Secret, the rest here.
    env = documents[("ConfigMap", launcher["env_config_maps"][0])]["data"]
    read = set(re.findall(r"env: (\w+)", DAGSTER_YAML.read_text()))
    assert read - set(env) == {"DAGSTER_PG_PASSWORD"}
    assert env["DAGSTER_JOB_IMAGE"] == IMAGE

    server = documents[("Deployment", "churn-model-server")]["spec"]["template"]["spec"]
    (container,) = server["containers"]
    assert container["command"][:2] == ["churn-assets", "serve"]
    assert container["ports"][0]["containerPort"] == 8080
    (deployment,) = yaml.safe_load(HELM_VALUES.read_text())["dagster-user-deployments"][
        "deployments"
    ]
    assert container["image"] == f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert IMAGE == container["image"]
