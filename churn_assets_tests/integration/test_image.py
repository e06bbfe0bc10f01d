"""The Dockerfile built with podman and run: the model server and the Dagster code server.

Needs podman and the local base image (`scripts/podman_setup.sh`, which .ci/run runs); skips
without them unless CHURN_REQUIRE_SERVICES=1. The image is built from the Dockerfile by
`scripts/build_image.sh`: the base swapped (BASE_IMAGE=localhost/debian:bookworm, no registry
here) and the dependencies installed offline from wheels this venv's pip makes (WHEELS); the
rest of the Dockerfile is what users build.
Both containers run as the image's user with a read-only root file system and a tmpfs /tmp, as
deploy/k8s/model-server.yaml runs them. The model server serves a champion registered here, in
an MLflow store mounted into the container at the same path (the registry records artifact
locations as absolute paths).
"""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from churn_assets_tests.defs import test_registry
from churn_assets_tests.defs.test_registry import champion_of, version_with
from churn_assets_tests.integration.services import free_port, require_service

# A first build on a machine takes minutes (wheels, then the image); later ones reuse both.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3000)]

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("CHURN_BASE_IMAGE", "localhost/debian:bookworm")
IMAGE = "localhost/churn-assets:test"
# The registry tests' fixtures: the data assets, a registry at CHURN_HOME, fitted pipelines.
data_assets, home, pipelines = (
    test_registry.data_assets,
    test_registry.home,
    test_registry.pipelines,
)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def image() -> str:
    """The project image, built from the Dockerfile on the local Debian base."""
    if os.environ.get("CHURN_IMAGE_TEST") != "1":  # .ci/run sets it; `make test` builds none
        pytest.skip("the image test is opt-in: CHURN_IMAGE_TEST=1 (and scripts/podman_setup.sh)")
    have_podman = shutil.which("podman") is not None
    require_service(have_podman, "podman is not installed (run scripts/podman_setup.sh)")
    found = podman("image", "exists", BASE_IMAGE, check=False).returncode == 0
    require_service(found, f"base image {BASE_IMAGE} is missing (run scripts/podman_setup.sh)")
    prebuilt = os.environ.get("CHURN_IMAGE_PREBUILT")
    if prebuilt:  # an image built from this Dockerfile already
        exists = podman("image", "exists", prebuilt, check=False).returncode == 0
        require_service(exists, f"CHURN_IMAGE_PREBUILT={prebuilt} is not a local image")
        return prebuilt
    # scripts/build_image.sh: this venv's versions as wheels, mounted into the build, so the
    # install step is offline (the Dockerfile's default, users' path, downloads them instead).
    env = {**os.environ, "BASE_IMAGE": BASE_IMAGE, "PYTHON": sys.executable}
    started = time.monotonic()
    built = subprocess.run(
        ["bash", str(REPO / "scripts" / "build_image.sh"), IMAGE],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    if built.returncode != 0:
        raise AssertionError(
            f"scripts/build_image.sh failed:\n{built.stdout[-2000:]}{built.stderr[-3000:]}"
        )
    print(f"image built in {time.monotonic() - started:.0f}s")  # noqa: T201 - shown with -s
    return IMAGE


def run_container(
    image: str,
    *args: str,
    ports: str = "",
    mounts: tuple = (),
    env: dict | None = None,
    tmpfs: tuple = (),
) -> str:
    """Start a detached, read-only, non-root container; its name."""
    name = f"churn-test-{uuid.uuid4().hex[:10]}"
    argv = ["run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "-e", "HOME=/tmp"]
    if ports:
        argv += ["-p", ports]
    for mount in mounts:
        argv += ["-v", mount]
    for path in tmpfs:  # owned by the container's user (podman 4.3 ignores --tmpfs mode=)
        argv += ["--mount", f"type=tmpfs,destination={path},U=true"]
    for key, value in (env or {}).items():
        argv += ["-e", f"{key}={value}"]
    podman(*argv, image, *args)
    return name


def logs_and_remove(name: str) -> str:
    logs = podman("logs", "--tail", "40", name, check=False)
    podman("rm", "-f", name, check=False)
    return logs.stdout + logs.stderr


def wait_until(check, timeout: float, what: str, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        state = podman("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip()
        if state == "false":
            break
        time.sleep(2)
    log = logs_and_remove(name)
    raise AssertionError(f"{what} within {timeout}s failed; container log:\n{log}")


def test_the_model_server_container_serves_the_registered_champion(image, home, pipelines):
    champion = champion_of(home, version_with(home, pipelines, "good"))
    X, _ = home.holdout()
    rows = X.head(5)
    expected = home.registry().load(champion).predict_proba(rows)[:, 1]
    # The container's user (10001) reads the store and writes SQLite's journal next to it.
    subprocess.run(["chmod", "-R", "a+rwX", str(home.path)], check=True)
    port = free_port()
    name = run_container(
        image,
        "churn-assets",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
        "--workers",
        "1",
        ports=f"127.0.0.1:{port}:8080",
        mounts=(f"{home.path}:{home.path}",),
        env={"MLFLOW_TRACKING_URI": home.uri},  # the image does not say where the registry is
    )
    podman("exec", name, "true")  # running
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 300, "GET /ready answering 200", name)
        info = httpx.get(f"{url}/model", timeout=10).json()
        assert info["version"] == champion and info["name"] == test_registry.MODEL_NAME
        records = rows.to_dict(orient="records")
        answer = httpx.post(f"{url}/predict", json=records, timeout=30).json()
        served = [p["churn_probability"] for p in answer["predictions"]]
        assert served == pytest.approx(list(expected), abs=1e-6)
        assert answer["model_version"] == champion
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        denied = podman("exec", name, "touch", "/opt/churn/x", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    finally:
        logs_and_remove(name)


def test_the_code_server_container_answers_the_grpc_health_check(image):
    # The image's own CMD: `dagster api grpc` on 3030 with churn_assets.definitions. DAGSTER_HOME
    # is a mount in a cluster (the chart's instance ConfigMap); here a tmpfs.
    name = run_container(image, tmpfs=("/opt/dagster/dagster_home",))
    try:

        def healthy() -> bool:
            check = ["exec", name, "dagster", "api", "grpc-health-check", "-p", "3030"]
            return podman(*check, check=False, timeout=60).returncode == 0

        wait_until(healthy, 300, "dagster api grpc-health-check", name)
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
    finally:
        logs_and_remove(name)
