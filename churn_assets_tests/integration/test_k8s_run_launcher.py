"""The real dagster-k8s K8sRunLauncher against the loopback Kubernetes simulator.

No cluster or container engine runs here, so churn_assets_tests/k8s_sim plays the API server, the
job controller and the kubelet: a Job's pod is the launcher's own `dagster api execute_run` command
run as a local process with the Job's environment. What that does and does not prove is written in
deploy/k8s/SIMULATOR.md. The instance uses SQLite (Postgres is tested elsewhere); the run-launcher
block follows the production dagster.yaml (namespace, env ConfigMap/Secret, Postgres password
Secret, labels, resources, fail_pod_on_run_failure) so the Job the launcher builds is the real one.
"""

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import WorkerStatus
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster_k8s.job import get_job_name_from_run_id

from churn_assets_tests.k8s_sim import KubernetesSimulator
from churn_assets_tests.k8s_sim.tiny_defs import defs as tiny_defs
from churn_assets_tests.k8s_sim.tiny_defs import tiny_total

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "churn"
LOCATION = "tiny"
IMAGE = "churn-assets:test"
ENV_CONFIG_MAP = "churn-dagster-env"
PG_SECRET = "churn-dagster-postgresql-secret"
log = logging.getLogger(__name__)


@pytest.fixture
def k8s_sim() -> Iterator[KubernetesSimulator]:
    sim = KubernetesSimulator(
        working_dir=REPO_ROOT,
        config_maps={ENV_CONFIG_MAP: {"CHURN_FROM_CONFIG_MAP": "yes"}},
        secrets={PG_SECRET: {"postgresql-password": "not-used-by-sqlite"}},
        max_grace_period_seconds=15,
    )
    with sim:
        yield sim


@pytest.fixture
def instance(k8s_sim, tmp_path) -> Iterator[DagsterInstance]:
    home = Path(os.environ["DAGSTER_HOME"])  # a fresh tmp dir per test (conftest)
    kubeconfig = k8s_sim.write_kubeconfig(tmp_path / "kubeconfig")
    config = {
        "telemetry": {"enabled": False},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {"max_concurrent_runs": 2, "dequeue_use_threads": False},
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "load_incluster_config": False,
                "kubeconfig_file": str(kubeconfig),
                "job_namespace": NAMESPACE,
                "job_image": IMAGE,  # never pulled: the simulator runs the command locally
                "image_pull_policy": "IfNotPresent",
                "service_account_name": "churn-dagster",
                "dagster_home": str(home),
                "instance_config_map": "churn-dagster-instance",  # volumes are not simulated
                "postgres_password_secret": PG_SECRET,
                "env_config_maps": [ENV_CONFIG_MAP],
                "env_vars": [
                    f"CHURN_HOME={os.environ['CHURN_HOME']}",
                    "CHURN_DEPLOYMENT=local",
                ],
                "labels": {"app.kubernetes.io/part-of": "churn-assets"},
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "fail_pod_on_run_failure": True,
            },
        },
        "run_monitoring": {
            "enabled": True,
            "poll_interval_seconds": 1,
            "start_timeout_seconds": 60,
            "cancel_timeout_seconds": 20,
            "max_resume_run_attempts": 0,
        },
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    # The launcher loads the kubeconfig into the kubernetes client's process-wide default
    # configuration; put the previous default back so no later test talks to a dead simulator.
    saved_default = kubernetes.client.Configuration.get_default_copy()
    try:
        with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as dagster_instance:
            yield dagster_instance
    finally:
        kubernetes.client.Configuration.set_default(saved_default)


@pytest.fixture
def workspace_context(instance) -> Iterator[WorkspaceProcessContext]:
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name="churn_assets_tests.k8s_sim.tiny_defs",
            working_directory=str(REPO_ROOT),
        ),
        location_name=LOCATION,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        yield context


def _submit(instance, workspace_context, job_name: str, run_config=None) -> str:
    """Create and submit a run the way the webserver does, then dequeue it as the daemon does."""
    request = workspace_context.create_request_context()
    repository = request.get_code_location(LOCATION).get_repository("__repository__")
    remote_job = repository.get_full_job(job_name)
    run = instance.create_run_for_job(
        job_def=tiny_defs.resolve_job_def(job_name),
        run_config=run_config,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        status=DagsterRunStatus.NOT_STARTED,
    )
    instance.submit_run(run.run_id, request)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.QUEUED
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace_context))
    status = instance.get_run_by_id(run.run_id).status
    assert status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED), status
    return run.run_id


def _wait_for_status(instance, run_id, statuses, timeout=75.0, between=None):
    deadline = time.monotonic() + timeout
    while True:
        run = instance.get_run_by_id(run_id)
        if run.status in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {run.status} after {timeout}s")
        if between is not None:
            between()
        time.sleep(0.5)


def _wait_for_step_start(instance, run_id, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not instance.all_logs(run_id, of_type=DagsterEventType.STEP_START):
        run = instance.get_run_by_id(run_id)
        assert not run.is_finished, f"run ended {run.status} before its step started"
        assert time.monotonic() < deadline, "the step did not start in time"
        time.sleep(0.3)


def _the_pod(k8s_sim, job_name) -> dict:
    pods = k8s_sim.pods_for_job(job_name, NAMESPACE)
    assert len(pods) == 1, pods
    return pods[0]


def _monitor(workspace_context):
    list(execute_run_monitoring_iteration(workspace_context, log))


def test_submitted_run_runs_in_a_simulated_pod_and_succeeds(instance, workspace_context, k8s_sim):
    started = time.monotonic()
    run_id = _submit(instance, workspace_context, "tiny_assets_job")
    job_name = get_job_name_from_run_id(run_id)

    run = _wait_for_status(instance, run_id, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE})
    pods = k8s_sim.pods_for_job(job_name, NAMESPACE)
    logs = "\n".join(k8s_sim.pod_log(p["metadata"]["name"], NAMESPACE) for p in pods)
    assert run.status == DagsterRunStatus.SUCCESS, logs[-3000:]
    log.info("run succeeded %.1fs after submission", time.monotonic() - started)

    # The launcher created exactly one Job through the API, in the configured namespace.
    creates = k8s_sim.requests_matching("POST", rf"^/apis/batch/v1/namespaces/{NAMESPACE}/jobs$")
    assert [r.body["metadata"]["name"] for r in creates] == [job_name]
    k8s_sim.wait_for(
        lambda: (
            (job := k8s_sim.get_job(job_name, NAMESPACE)) is not None
            and job["status"].get("succeeded") == 1
        ),
        what="the Job to count its succeeded pod",
    )
    job = k8s_sim.get_job(job_name, NAMESPACE)
    assert {c["type"] for c in job["status"]["conditions"]} >= {"Complete"}
    assert job["metadata"]["labels"]["dagster/run-id"] == run_id
    pod = _the_pod(k8s_sim, job_name)
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    container = pod["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_HOME"]["value"] == os.environ["DAGSTER_HOME"]
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == PG_SECRET
    assert container["envFrom"] == [{"configMapRef": {"name": ENV_CONFIG_MAP}}]
    assert pod["spec"]["serviceAccountName"] == "churn-dagster"
    assert pod["metadata"]["labels"]["job-name"] == job_name
    # The pod's process is the run worker: its log is the run's event stream.
    assert run_id in k8s_sim.pod_log(pod["metadata"]["name"], NAMESPACE)
    assert instance.get_run_by_id(run_id).tags["dagster/image"] == IMAGE
    materialized = instance.get_latest_materialization_event(tiny_total.key)
    assert materialized is not None and materialized.run_id == run_id

    # What run monitoring and the UI would ask the launcher, answered from the simulator.
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.SUCCESS
    debug = instance.run_launcher.get_run_worker_debug_info(run)
    assert "Pod status: Succeeded" in debug and "Terminated with exit code 0" in debug


def test_killed_pod_is_seen_by_run_monitoring_as_a_failed_run(instance, workspace_context, k8s_sim):
    run_id = _submit(instance, workspace_context, "sleepy_job", {"ops": {"nap": {"config": {}}}})
    job_name = get_job_name_from_run_id(run_id)
    _wait_for_step_start(instance, run_id)
    pod_name = _the_pod(k8s_sim, job_name)["metadata"]["name"]
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED
    _monitor(workspace_context)  # a healthy worker: monitoring leaves the run alone
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED

    k8s_sim.kill_pod(pod_name, NAMESPACE, signal.SIGKILL)  # the run worker cannot report this
    k8s_sim.wait_for(
        lambda: (
            (job := k8s_sim.get_job(job_name, NAMESPACE)) is not None
            and job["status"].get("failed") == 1
        ),
        what="the Job to count the killed pod as failed",
    )
    pod = _the_pod(k8s_sim, job_name)
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
    assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED

    health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run_id))
    assert health.status == WorkerStatus.FAILED, health
    run = _wait_for_status(
        instance,
        run_id,
        {DagsterRunStatus.FAILURE},
        timeout=20,
        between=lambda: _monitor(workspace_context),
    )
    failure = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)[-1]
    assert "Run has not completed but K8s job has no active pods" in failure.message
    assert "Terminated with exit code 137" in failure.message  # the launcher's pod debug info
    assert run.is_finished


def test_terminate_deletes_the_job_and_its_pod(instance, workspace_context, k8s_sim):
    run_id = _submit(instance, workspace_context, "sleepy_job", {"ops": {"nap": {"config": {}}}})
    job_name = get_job_name_from_run_id(run_id)
    _wait_for_step_start(instance, run_id)
    pod_name = _the_pod(k8s_sim, job_name)["metadata"]["name"]

    assert instance.run_launcher.terminate(run_id) is True
    job_deletes = k8s_sim.requests_matching(
        "DELETE", rf"^/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{job_name}$"
    )
    assert [r.status for r in job_deletes] == [200]
    assert k8s_sim.get_job(job_name, NAMESPACE) is None
    # A real API server orphans a Job's pods unless asked otherwise, so the launcher deletes the
    # pod itself; the simulator then stops the process (SIGTERM, SIGKILL after the grace period).
    pod_deletes = k8s_sim.requests_matching(
        "DELETE", rf"^/api/v1/namespaces/{NAMESPACE}/pods/{pod_name}$"
    )
    assert [r.status for r in pod_deletes] == [200]
    k8s_sim.wait_for(
        lambda: k8s_sim.get_pod(pod_name, NAMESPACE) is None,
        timeout=30,
        what="the deleted pod's process to exit",
    )

    # The run worker catches the pod's SIGTERM and reports the run canceled; run monitoring runs
    # alongside as the daemon would (it would cancel a run stuck in CANCELING after its timeout).
    run = _wait_for_status(
        instance,
        run_id,
        {DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE},
        timeout=40,
        between=lambda: _monitor(workspace_context),
    )
    assert run.status == DagsterRunStatus.CANCELED
    assert instance.all_logs(run_id, of_type=DagsterEventType.RUN_CANCELING)
    assert not k8s_sim.pods_for_job(job_name, NAMESPACE)


def test_simulator_api_semantics_through_the_kubernetes_client(k8s_sim, tmp_path):
    """Edges the launcher tests do not reach: 404s, selectors, logs, job deletion propagation."""
    kubeconfig = k8s_sim.write_kubeconfig(tmp_path / "kubeconfig")
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    batch = kubernetes.client.BatchV1Api(api_client)
    core = kubernetes.client.CoreV1Api(api_client)

    with pytest.raises(kubernetes.client.rest.ApiException) as missing:
        batch.read_namespaced_job_status("nope", "default")
    assert missing.value.status == 404

    def job(name, script, backoff_limit=0):
        return kubernetes.client.V1Job(
            metadata=kubernetes.client.V1ObjectMeta(name=name, labels={"suite": "sim"}),
            spec=kubernetes.client.V1JobSpec(
                backoff_limit=backoff_limit,
                template=kubernetes.client.V1PodTemplateSpec(
                    spec=kubernetes.client.V1PodSpec(
                        restart_policy="Never",
                        containers=[
                            kubernetes.client.V1Container(
                                name="main",
                                image="python:3.11",
                                command=[sys.executable, "-c", script],
                                env=[
                                    kubernetes.client.V1EnvVar(name="GREETING", value="hi"),
                                    kubernetes.client.V1EnvVar(
                                        name="POD",
                                        value_from=kubernetes.client.V1EnvVarSource(
                                            field_ref=kubernetes.client.V1ObjectFieldSelector(
                                                field_path="metadata.name"
                                            )
                                        ),
                                    ),
                                ],
                            )
                        ],
                    )
                ),
            ),
        )

    echo = "import os; print(os.environ['GREETING'], os.environ['POD'])"
    batch.create_namespaced_job("default", job("echo", echo))
    flaky = "import sys; sys.exit(3)"
    batch.create_namespaced_job("default", job("flaky", flaky, backoff_limit=1))
    sleeper = "import time; time.sleep(60)"
    batch.create_namespaced_job("default", job("sleeper", sleeper))

    with pytest.raises(kubernetes.client.rest.ApiException) as conflict:
        batch.create_namespaced_job("default", job("echo", echo))
    assert conflict.value.status == 409

    def job_status(name):
        return batch.read_namespaced_job_status(name, "default").status

    k8s_sim.wait_for(lambda: k8s_sim.get_job("echo")["status"].get("succeeded") == 1)
    assert job_status("echo").conditions[-1].type == "Complete"
    (echo_pod,) = core.list_namespaced_pod("default", label_selector="job-name=echo").items
    # Read raw, as dagster-k8s does: kubernetes 36 preloads a text body as str(bytes).
    logs = core.read_namespaced_pod_log(
        echo_pod.metadata.name, "default", tail_lines=5, _preload_content=False
    ).data.decode()
    assert logs == f"hi {echo_pod.metadata.name}\n"

    # backoffLimit=1: one replacement pod, then the Job fails.
    k8s_sim.wait_for(lambda: k8s_sim.get_job("flaky")["status"].get("failed") == 2, timeout=30)
    status = job_status("flaky")
    assert status.active is None and status.conditions[-1].type == "Failed"
    assert len(core.list_namespaced_pod("default", label_selector="job-name=flaky").items) == 2
    by_field = core.list_namespaced_pod("default", field_selector="status.phase=Failed").items
    assert {p.metadata.labels["job-name"] for p in by_field} == {"flaky"}

    # Background propagation kills the job's pods; the pod object goes once its process exits.
    k8s_sim.wait_for(lambda: k8s_sim.get_job("sleeper")["status"].get("ready") == 1)
    batch.delete_namespaced_job("sleeper", "default", propagation_policy="Background")
    k8s_sim.wait_for(lambda: not k8s_sim.pods_for_job("sleeper"), timeout=20)
    with pytest.raises(kubernetes.client.rest.ApiException) as gone:
        batch.read_namespaced_job("sleeper", "default")
    assert gone.value.status == 404
