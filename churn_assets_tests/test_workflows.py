"""The GitHub Actions workflows, read as data: jobs, the needs chain, environments, guards.

ci.yml (lint -> test) runs on pull requests and is called by deploy.yml, whose chain continues
build -> staging -> production; production waits for the `production` environment's approval
and runs only for main and v* tags. Nothing here runs the workflows (no runner in this repo's CI):
this checks structure and the commands that must stay in step with the rest of the repository.
"""

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    data["on"] = data.pop(True, data.get("on"))
    return data


@pytest.fixture(scope="module")
def ci() -> dict:
    return load("ci.yml")


@pytest.fixture(scope="module")
def deploy() -> dict:
    return load("deploy.yml")


def needs(job: dict) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def run_text(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job.get("steps", []) if "uses" in step]


def test_ci_lints_then_tests_with_services(ci):
    jobs = ci["jobs"]
    assert set(jobs) == {"lint", "test"}
    assert needs(jobs["lint"]) == [] and needs(jobs["test"]) == ["lint"]
    assert "workflow_call" in ci["on"] and "pull_request" in ci["on"]
    lint = run_text(jobs["lint"])
    assert "ruff check ." in lint and "ruff format --check ." in lint

    test = jobs["test"]
    assert test["services"]["postgres"]["image"] == "postgres:15"
    assert test["env"]["CHURN_REQUIRE_SERVICES"] == "1"
    assert "@postgres:5432/" in test["env"]["CHURN_PG_URL"]  # the service container's host name
    script = run_text(test)
    for package in ("prometheus", "prometheus-pushgateway", "chromium"):
        assert f" {package}" in script
    assert "make test" in script


def test_deploy_chain_is_lint_test_build_staging_production(ci, deploy):
    jobs = deploy["jobs"]
    assert list(jobs) == ["ci", "build", "staging", "production"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"  # lint -> test
    assert needs(jobs["build"]) == ["ci"]
    assert needs(jobs["staging"]) == ["build"]
    assert needs(jobs["production"]) == ["staging"]
    # Walk the whole chain back from production, into ci.yml at its last job (test).
    chain, graph, job = [], jobs, "production"
    while job:
        if "uses" in graph[job]:  # the called workflow: continue from its final job
            graph, job = ci["jobs"], "test"
            continue
        chain.append(job)
        job = (needs(graph[job]) or [None])[0]
    assert chain[::-1] == ["lint", "test", "build", "staging", "production"]


def test_environments_and_production_guard(deploy):
    jobs = deploy["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    guard = jobs["production"]["if"]
    assert "github.ref == 'refs/heads/main'" in guard
    assert "startsWith(github.ref, 'refs/tags/" in guard
    triggers = deploy["on"]
    assert triggers["push"]["branches"] == ["main"] and triggers["push"]["tags"]
    assert "pull_request" not in triggers  # a pull request never deploys


def test_build_pushes_to_ghcr(deploy):
    build = deploy["jobs"]["build"]
    assert build["permissions"]["packages"] == "write"
    assert "docker/build-push-action" in uses(build)
    login = next(s for s in build["steps"] if s.get("uses", "").startswith("docker/login-action"))
    assert login["with"]["registry"] == "ghcr.io"
    push = next(s for s in build["steps"] if "build-push-action" in s.get("uses", ""))
    assert push["with"]["push"] is True and push["with"]["file"] == "Dockerfile"
    assert (REPO / push["with"]["file"]).is_file()


@pytest.mark.parametrize("env", ["staging", "production"])
def test_deploy_jobs_apply_manifests_and_helm_upgrade(deploy, env):
    job = deploy["jobs"][env]
    assert "azure/setup-helm" in uses(job)
    script = run_text(job)
    assert "kubectl apply -f deploy/k8s/" in script
    assert "helm upgrade --install dagster dagster/dagster -f helm-values.yaml" in script
    assert "--namespace churn" in script
    assert "rollout status deployment/churn-model-server" in script
    # Names used in the scripts exist in the manifests and values they deploy.
    manifests = [
        doc
        for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    names = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    assert ("Deployment", "churn-model-server") in names
    assert ("ConfigMap", "churn-dagster-env") in names
    server = next(d for d in manifests if d["kind"] == "Deployment")
    assert server["spec"]["template"]["spec"]["containers"][0]["name"] == "model-server"
    assert "model-server=" in script
    values = yaml.safe_load((REPO / "helm-values.yaml").read_text())
    assert values["dagster-user-deployments"]["deployments"][0]["name"] == "churn-assets"
    assert deploy["env"]["HELM_CHART_VERSION"] == values["dagsterWebserver"]["image"]["tag"]
