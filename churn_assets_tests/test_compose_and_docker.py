"""docker-compose.yml, its Dagster instance, the Dockerfile and .dockerignore, checked offline.

Compose validation, strongest available first (no container engine is needed for any of them):

1. `docker compose -f docker-compose.yml config --quiet` (Compose v2 plugin), when installed;
2. `docker-compose -f docker-compose.yml config --quiet` (Compose 1.29, Debian's `docker-compose`
   package), which validates against the compose-spec schema it ships (compose_spec.json);
3. that compose_spec.json through `jsonschema`, when only the schema file is found;
4. otherwise the structural checks alone, which always run as well.

Which one ran is recorded as the `compose_validator` property of the test (JUnit XML), and a
warning in the summary says so when no compose CLI was found. Where these tests were written the
v2 plugin was absent and (2) ran: Debian's docker-compose 1.29.2 accepted the file
(`apt-get install docker-compose` provides it; .ci/run does not install it, so CI falls back to
(3) or (4) unless it does). The interpolation defaults are used: no `.env` file is read.
"""

import importlib
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from churn_assets_tests.integration.services import services_required

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
COMPOSE_INSTANCE = REPO / "deploy" / "compose" / "dagster.yaml"
COMPOSE_WORKSPACE = REPO / "deploy" / "compose" / "workspace.yaml"
SCHEMA_CANDIDATES = [
    Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json"),
    *Path("/usr/lib/python3/dist-packages").glob("compose/config/compose_spec*.json"),
]
GRPC_COMMAND = ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-m"]
GRPC_COMMAND += ["churn_assets.definitions"]
SERVE_COMMAND = ["churn-assets", "serve", "--host", "0.0.0.0", "--port", "8080"]


def _offline_env() -> dict[str, str]:
    """The environment for the compose CLIs: no .env override beyond the file's own defaults."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env["DOCKER_HOST"] = "unix:///nonexistent.sock"  # proves no engine is contacted
    return env


def _cli_validates(argv: list[str]) -> subprocess.CompletedProcess | None:
    """Run a compose CLI's `config --quiet`; None when that CLI is not usable here."""
    try:
        version = subprocess.run(
            [*argv, "version"], capture_output=True, text=True, timeout=30, env=_offline_env()
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if version.returncode != 0:
        return None
    return subprocess.run(
        [*argv, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=_offline_env(),
    )


def validate_compose() -> str:
    """Validate docker-compose.yml with the strongest tool available; returns which one ran."""
    for name, argv in (("docker compose", ["docker", "compose"]), ("docker-compose", None)):
        if argv is None:
            exe = shutil.which("docker-compose")
            if exe is None:
                continue
            argv = [exe]
        elif shutil.which("docker") is None:
            continue
        result = _cli_validates(argv)
        if result is not None:
            assert result.returncode == 0, f"{name} config rejected the file:\n{result.stderr}"
            return name
    for schema_path in SCHEMA_CANDIDATES:
        if schema_path.is_file():
            import json

            import jsonschema

            schema = json.loads(schema_path.read_text())
            jsonschema.validate(yaml.safe_load(COMPOSE.read_text()), schema)
            return f"jsonschema {schema_path}"
    return "structural checks only"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    # A regex, not tomllib: the project supports Python 3.10, which has no tomllib.
    text = (REPO / "pyproject.toml").read_text()
    return dict(re.findall(r'^\s*"([A-Za-z0-9_.-]+)==([^"]+)",', text, flags=re.MULTILINE))


def test_compose_file_validates(compose, record_property):
    validator = validate_compose()
    record_property("compose_validator", validator)  # in the JUnit XML report
    if not validator.startswith("docker"):
        # CI must validate with a real compose CLI; elsewhere the fallback is only a warning.
        if services_required():
            pytest.fail(f"no compose CLI: docker-compose.yml checked by {validator} only")
        warnings.warn(f"docker-compose.yml checked by {validator}, not a compose CLI", stacklevel=1)
    assert set(compose["services"]) >= {
        "postgres",
        "minio",
        "minio-init",
        "mlflow",
        "dagster-code",
        "dagster-webserver",
        "dagster-daemon",
        "prometheus",
        "pushgateway",
        "grafana",
        "churn-model-server",
    }


def test_depends_on_names_existing_services_with_valid_conditions(compose):
    services = compose["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        deps = service.get("depends_on", {})
        deps = (
            {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        )
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has none"
        if name != "minio-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"


def _mounts(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            yield name, source


def test_mounted_host_paths_exist_and_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, source in _mounts(compose):
        if source.startswith((".", "/")):
            assert (REPO / source).exists(), f"{name} mounts {source}, missing from the repo"
        else:
            assert source in declared, f"{name} uses undeclared volume {source}"


def test_no_secret_literals_and_every_variable_is_in_env_example(compose):
    text = COMPOSE.read_text()
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # `$${X}` is the container's
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"
    secret = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:-[^}]*)?\}", str(value)), (
                    f"{name}.{key} is a literal, not ${{VAR:-default}}"
                )


def test_stack_wiring_matches_prometheus_grafana_and_k8s(compose):
    services = compose["services"]
    prometheus = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    for job in prometheus["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host = target.split(":")[0]
            assert host == "localhost" or host in services, f"Prometheus scrapes unknown {host}"
    datasources = (REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "http://prometheus:9090" in datasources and "prometheus" in services

    k8s = next(yaml.safe_load_all((REPO / "deploy/k8s/model-server.yaml").read_text()))
    k8s_command = k8s["spec"]["template"]["spec"]["containers"][0]["command"]
    assert services["churn-model-server"]["command"] == k8s_command == SERVE_COMMAND
    assert services["dagster-code"]["command"] == GRPC_COMMAND
    image = services["dagster-code"]["image"]
    for name in ("mlflow", "dagster-webserver", "dagster-daemon", "churn-model-server"):
        assert services[name]["image"] == image  # one image, one Dagster release

    workspace = yaml.safe_load(COMPOSE_WORKSPACE.read_text())["load_from"][0]["grpc_server"]
    assert workspace["host"] == "dagster-code" and workspace["port"] == 3030
    for name in ("dagster-code", "dagster-webserver", "dagster-daemon"):
        targets = [v.split(":")[1] for v in services[name]["volumes"]]
        assert "/opt/dagster/dagster_home/dagster.yaml" in targets  # the image's DAGSTER_HOME
        assert "DAGSTER_PG_PASSWORD" in services[name]["environment"]


def test_compose_instance_is_valid_dagster_config(tmp_path, monkeypatch):
    """deploy/compose/dagster.yaml through Dagster's own instance schema and class configs."""
    from dagster._config import process_config, resolve_to_config_type
    from dagster._core.instance.ref import InstanceRef

    for name, value in {
        "DAGSTER_PG_HOST": "postgres",
        "DAGSTER_PG_USER": "churn",
        "DAGSTER_PG_PASSWORD": "not-a-real-password",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_PG_PORT": "5432",
    }.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "compose_home"
    home.mkdir()
    shutil.copyfile(COMPOSE_INSTANCE, home / "dagster.yaml")
    ref = InstanceRef.from_dir(str(home))
    assert ref.run_launcher_data.class_name == "DefaultRunLauncher"
    assert ref.run_coordinator_data.class_name == "QueuedRunCoordinator"
    assert ref.storage_data.class_name == "DagsterPostgresStorage"
    for data in (ref.storage_data, ref.compute_logs_data, ref.run_coordinator_data):
        klass = getattr(importlib.import_module(data.module_name), data.class_name)
        result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
        assert result.success, result.errors
    assert ref.compute_logs_data.config_dict["base_dir"] == "/opt/dagster/compute_logs"


def _stages(text: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[list[tuple[str, str]]] = [[]]
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), args.strip()))
    return stages


def test_dockerfile_is_multistage_non_root_and_starts_the_grpc_server():
    import json

    text = DOCKERFILE.read_text()
    preamble, *stages = _stages(text)
    assert len(stages) >= 2, "builder and runtime stages"
    # The base is a build argument (default unchanged for users; a local Debian base here).
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in preamble
    assert [args for ins, args in (s[0] for s in stages)] == [
        "${BASE_IMAGE} AS builder",
        "${BASE_IMAGE} AS runtime",
    ]
    runtime = stages[-1]
    users = [args for ins, args in runtime if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == "10001:10001"
    assert "--uid 10001" in text and "churn" in text
    assert ("WORKDIR", "/opt/churn") in runtime
    env = " ".join(args for ins, args in runtime if ins == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    assert "CHURN_DEPLOYMENT=production" in env
    assert ("EXPOSE", "3030 8080") in runtime
    cmd = [json.loads(args) for ins, args in runtime if ins == "CMD"]
    assert cmd == [GRPC_COMMAND]
    # No ENTRYPOINT: the Helm chart (code server) and K8sRunLauncher (run pods) pass the whole
    # command as container `args`, which an ENTRYPOINT would prefix.
    assert not [args for ins, args in runtime if ins == "ENTRYPOINT"]
    assert any(ins == "COPY" and args.startswith("--from=builder") for ins, args in runtime)


def test_dockerfile_pins_are_pyprojects(pins):
    """The image installs what pyproject.toml pins (`pip install .`, no other requirement
    list); every `name==version` the Dockerfile names must agree, and so must the Dagster image
    tags of the Helm values."""
    text = DOCKERFILE.read_text()
    assert "COPY pyproject.toml" in text and "pip install ." in text
    assert not re.search(r"-r\s+\S*requirements", text)
    named = dict(re.findall(r"([a-z][a-z0-9_-]+)==(\d[\w.]*)", text))
    for name, version in named.items():
        if "*" in name or name.endswith("-"):
            continue
        assert pins.get(name) == version, f"Dockerfile says {name}=={version}, pyproject {pins}"
    assert named.get("dagster") == pins["dagster"] == "1.13.27"
    assert named.get("mlflow") == pins["mlflow"]
    integration = re.search(r"dagster-\*==(\S+?)[,)]", text).group(1)
    assert all(
        v == integration
        for k, v in pins.items()
        # The webserver and the dg CLI follow core's version numbers, the integrations their own.
        if k.startswith("dagster-") and k not in ("dagster-webserver", "dagster-dg-cli")
    )
    assert pins["dagster-webserver"] == pins["dagster"]
    helm = yaml.safe_load((REPO / "helm-values.yaml").read_text())
    for section in ("dagsterWebserver", "dagsterDaemon"):
        assert helm[section]["image"]["tag"] == pins["dagster"]


def test_dockerignore_keeps_the_context_small_but_complete():
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert lines[0] == "*", "allow-list: ignore everything, then re-include"
    included = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    for ins, args in (i for stage in _stages(DOCKERFILE.read_text()) for i in stage):
        if ins == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert source.rstrip("/") in included, f"COPY {source} is excluded by .dockerignore"
                assert (REPO / source).exists()
