"""helm-values.yaml against the official Dagster chart's values schema, and against dagster.yaml.

Helm validates the merged values (chart defaults overlaid with ours), so the test does the same:
maps merge recursively, lists and scalars replace, an explicit null deletes the key. The schema's
Kubernetes sub-objects are remote `$ref`s; offline they are dropped and only the local shape is
checked (see ../shared/dagster-helm/SOURCE.md).
"""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from churn_assets_tests.integration.services import require_module, require_service

REPO = Path(__file__).resolve().parents[1]
HELM_VALUES = REPO / "helm-values.yaml"
DAGSTER_YAML = REPO / "dagster.yaml"
ENV_CONFIGMAP = REPO / "deploy" / "k8s" / "env-configmap.yaml"
CHART = Path(__file__).resolve().parents[1].parent / "shared" / "dagster-helm"

jsonschema = require_module("jsonschema", "jsonschema is not installed (dev extra)")


def deep_merge(base: Any, override: Any) -> Any:
    """Helm's coalescing of values: maps merge, lists and scalars replace, None deletes."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def drop_remote_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: drop_remote_refs(value)
            for key, value in node.items()
            if not (key == "$ref" and isinstance(value, str) and value.startswith("http"))
        }
    if isinstance(node, list):
        return [drop_remote_refs(item) for item in node]
    return node


@pytest.fixture(scope="module")
def chart() -> tuple[dict, dict]:
    if not (CHART / "values.schema.json").exists():
        require_service(
            False, f"Dagster chart schema not found at {CHART} (../shared is absent here)"
        )
    schema = drop_remote_refs(yaml.safe_load((CHART / "values.schema.json").read_text()))
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return schema, defaults


def schema_errors(schema: dict, values: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(values)
    ]


def ours() -> dict:
    return yaml.safe_load(HELM_VALUES.read_text())


def test_chart_defaults_validate(chart):
    schema, defaults = chart
    assert schema_errors(schema, defaults) == []


def test_helm_values_validate_against_the_chart_schema(chart):
    schema, defaults = chart
    merged = deep_merge(defaults, ours())
    assert schema_errors(schema, merged) == []
    # The merge really applied our choices (and did not, say, keep the demo Postgres).
    assert merged["postgresql"]["enabled"] is False
    assert merged["runLauncher"]["type"] == "K8sRunLauncher"
    assert [d["name"] for d in merged["dagster-user-deployments"]["deployments"]] == [
        "churn-assets"
    ]


@pytest.mark.parametrize(
    ("path", "bad_value", "where"),
    [
        (("runLauncher", "type"), "Nope", "runLauncher.type"),
        (("dagsterWebserver", "replicaCount"), "two", "dagsterWebserver.replicaCount"),
        (("telemetry", "enabled"), "no", "telemetry.enabled"),
        (
            ("runLauncher", "config", "k8sRunLauncher", "serviceAccountName"),
            "churn-dagster",
            "runLauncher.config.k8sRunLauncher",
        ),
    ],
)
def test_a_broken_copy_is_rejected(chart, path, bad_value, where):
    schema, defaults = chart
    broken = ours()
    node = broken
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = bad_value

    errors = schema_errors(schema, deep_merge(defaults, broken))
    assert any(error.startswith(where) for error in errors), errors


def test_deep_merge_follows_helm_rules():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": 3}
    merged = deep_merge(base, {"a": {"y": [9]}, "b": None, "d": 4})
    assert merged == {"a": {"x": 1, "y": [9]}, "c": 3, "d": 4}
    assert base["a"]["y"] == [1, 2]


def test_user_deployment_runs_our_code_location():
    (deployment,) = ours()["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "churn_assets.definitions"]
    assert deployment["port"] == 3030
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["CHURN_DEPLOYMENT"] == "production"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def test_helm_and_dagster_yaml_agree():
    """The chart renders its own instance; it must say what dagster.yaml says."""
    helm = ours()
    instance = yaml.safe_load(DAGSTER_YAML.read_text())

    launcher = instance["run_launcher"]["config"]
    k8s = helm["runLauncher"]["config"]["k8sRunLauncher"]
    assert k8s["jobNamespace"] == launcher["job_namespace"]
    assert k8s["imagePullPolicy"] == launcher["image_pull_policy"]
    assert k8s["loadInclusterConfig"] == launcher["load_incluster_config"]
    assert [m["name"] for m in k8s["envConfigMaps"]] == launcher["env_config_maps"]
    assert [s["name"] for s in k8s["envSecrets"]] == launcher["env_secrets"]
    assert k8s["envVars"] == launcher["env_vars"]
    assert k8s["labels"] == launcher["labels"]
    assert k8s["resources"] == launcher["resources"]
    assert k8s["failPodOnRunFailure"] == launcher["fail_pod_on_run_failure"]
    run_k8s = launcher["run_k8s_config"]
    assert k8s["runK8sConfig"]["jobSpecConfig"] == run_k8s["job_spec_config"]
    assert k8s["runK8sConfig"]["podTemplateSpecMetadata"] == run_k8s["pod_template_spec_metadata"]
    # The chart takes the service account, DAGSTER_HOME and Postgres secret from `global`.
    assert helm["global"]["serviceAccountName"] == launcher["service_account_name"]
    assert helm["serviceAccount"]["name"] == launcher["service_account_name"]
    assert helm["global"]["dagsterHome"] == launcher["dagster_home"]
    assert helm["global"]["postgresqlSecretName"] == launcher["postgres_password_secret"]

    queue = instance["run_coordinator"]["config"]
    daemon = helm["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == instance["run_coordinator"]["class"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == queue["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == queue["tag_concurrency_limits"]
    assert queued["dequeueIntervalSeconds"] == queue["dequeue_interval_seconds"]

    monitoring = instance["run_monitoring"]
    assert daemon["runMonitoring"] == {
        "enabled": monitoring["enabled"],
        "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "cancelTimeoutSeconds": monitoring["cancel_timeout_seconds"],
        "maxResumeRunAttempts": monitoring["max_resume_run_attempts"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
    }
    retries = instance["run_retries"]
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"],
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }

    assert helm["computeLogManager"]["type"] == instance["compute_logs"]["class"]
    s3 = helm["computeLogManager"]["config"]["s3ComputeLogManager"]
    logs = instance["compute_logs"]["config"]
    assert (s3["bucket"], s3["prefix"], s3["localDir"]) == (
        logs["bucket"],
        logs["prefix"],
        logs["local_dir"],
    )
    assert helm["telemetry"] == instance["telemetry"] == {"enabled": False}

    pg = instance["storage"]["postgres"]["postgres_db"]
    assert helm["postgresql"]["postgresqlScheme"] == pg["scheme"]
    assert helm["postgresql"]["postgresqlParams"] == pg["params"]


def test_helm_postgres_matches_the_env_dagster_yaml_reads():
    """dagster.yaml reads Postgres from env (ConfigMap churn-dagster-env); the chart from values."""
    helm_pg = ours()["postgresql"]
    env = yaml.safe_load(ENV_CONFIGMAP.read_text())["data"]
    assert helm_pg["enabled"] is False
    assert ours()["generatePostgresqlPasswordSecret"] is False
    assert helm_pg["postgresqlPassword"] == ""  # the password only ever comes from the Secret
    assert env["DAGSTER_PG_HOST"] == helm_pg["postgresqlHost"]
    assert env["DAGSTER_PG_USER"] == helm_pg["postgresqlUsername"]
    assert env["DAGSTER_PG_DB"] == helm_pg["postgresqlDatabase"]
    assert int(env["DAGSTER_PG_PORT"]) == helm_pg["service"]["port"]
    assert "DAGSTER_PG_PASSWORD" not in env
