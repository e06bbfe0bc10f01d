"""A small Kubernetes API simulator: batch/v1 Jobs and core/v1 Pods over loopback HTTP.

It answers the requests the official `kubernetes` Python client sends for the calls dagster-k8s's
`K8sRunLauncher` and `DagsterKubernetesClient` make (create/read/list/delete Jobs, read the Job
status, list/read/delete Pods by label or field selector, read Pod logs, list Events), and plays
the job controller and the kubelet on the local machine: each Job gets one Pod, and the Pod's first
container runs as a local process (its `command` + `args`, with the container's environment), so
its exit code drives the Pod phase and the Job's counters and conditions.

What is and is not simulated is written down in deploy/k8s/SIMULATOR.md; in short, nothing about
scheduling, images, resources, volumes, networking, RBAC or real kubelet restart semantics.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
NODE_NAME = "k8s-sim-node"
# The API server's default for batch/v1 Jobs deleted without a propagation policy: the Pods are
# orphaned and keep running (kubernetes-client/python#234; dagster-k8s deletes them itself).
REAL_JOB_DELETE_DEFAULT_PROPAGATION = "Orphan"
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339_nano(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


class ApiError(Exception):
    """An error the simulator answers with a Kubernetes `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})

    def status_object(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _not_found(resource: str, group: str, name: str) -> ApiError:
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        404,
        "NotFound",
        f'{qualified} "{name}" not found',
        {"name": name, "group": group, "kind": resource},
    )


@dataclass
class RecordedRequest:
    """One request the simulator answered, for the tests to assert on."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0


@dataclass
class _Container:
    name: str
    image: str
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    ready: bool = False
    started: bool = False
    container_id: str | None = None


@dataclass
class _Pod:
    namespace: str
    name: str
    uid: str
    created: datetime
    labels: dict[str, str]
    annotations: dict[str, str]
    owner: dict[str, Any] | None
    spec: dict[str, Any]
    container: _Container
    phase: str = "Pending"
    start_time: datetime | None = None
    resource_version: int = 0
    process: subprocess.Popen | None = None
    exit_code: int | None = None
    deletion: datetime | None = None
    deletion_grace: int | None = None
    log: list[tuple[datetime, str]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    ready_at: float = 0.0  # ReplicaSet pods (apps.py): when the readiness probe may first pass

    @property
    def job_name(self) -> str | None:
        return self.owner["name"] if self.owner else None


@dataclass
class _Job:
    namespace: str
    name: str
    uid: str
    created: datetime
    manifest: dict[str, Any]
    resource_version: int = 0
    start_time: datetime | None = None
    completion_time: datetime | None = None
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    conditions: list[dict[str, Any]] = field(default_factory=list)
    pod_names: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return any(c["type"] in ("Complete", "Failed") for c in self.conditions)


# ----------------------------------------------------------------------------------------------
# Selectors
# ----------------------------------------------------------------------------------------------


def _parse_selector(text: str | None, what: str) -> list[tuple[str, str, str | None]]:
    """`a=b,c!=d,e,!f` as (key, op, value) triples; set-based forms (`in`, `notin`) are refused."""
    if not text:
        return []
    out: list[tuple[str, str, str | None]] = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            continue
        if " in " in term or " notin " in term or "(" in term:
            raise ApiError(
                400, "BadRequest", f"{what} selector {text!r}: set-based terms unsupported"
            )
        if "!=" in term:
            key, value = term.split("!=", 1)
            out.append((key.strip(), "!=", value.strip()))
        elif "==" in term:
            key, value = term.split("==", 1)
            out.append((key.strip(), "=", value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            out.append((key.strip(), "=", value.strip()))
        elif term.startswith("!"):
            out.append((term[1:].strip(), "!", None))
        else:
            out.append((term, "exists", None))
    return out


def _matches(terms: Sequence[tuple[str, str, str | None]], values: Mapping[str, str]) -> bool:
    for key, op, value in terms:
        present = key in values
        if op == "=" and (not present or values[key] != value):
            return False
        if op == "!=" and present and values[key] == value:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


def _field_values(terms, supported: Mapping[str, str], kind: str) -> Mapping[str, str]:
    for key, op, _ in terms:
        if key not in supported or op not in ("=", "!="):
            raise ApiError(
                400, "BadRequest", f'field label not supported: "{key}" (for {kind} selectors)'
            )
    return supported


# ----------------------------------------------------------------------------------------------
# The simulator
# ----------------------------------------------------------------------------------------------


class KubernetesSimulator:
    """A loopback Kubernetes API server plus a one-node "kubelet" that runs Pods as processes.

    Args:
        working_dir: the directory each container process starts in unless the container sets
            `workingDir` (the analogue of an image's WORKDIR). Defaults to the current directory.
        image_env: the environment every container starts from (the analogue of the image's
            ENV); the container's `env`/`envFrom` are applied on top. Defaults to the host's
            PATH (with this interpreter's bin directory first), HOME, LANG, TMPDIR and PYTHONPATH.
        image_entrypoint: argv prefix used when a container has `args` but no `command` (the
            image's ENTRYPOINT). Empty by default, so `args` are the whole argv.
        config_maps / secrets: name -> {key: value}, for `envFrom` and `valueFrom` references
            (namespace-agnostic). Values are plain strings, not base64.
        max_grace_period_seconds: cap on the SIGTERM -> SIGKILL grace period on Pod deletion
            (real default: the Pod's terminationGracePeriodSeconds, 30 s).
        job_delete_default_propagation: what DELETE on a Job does to its Pods when the request
            names no propagation policy; "Orphan" is what a real API server does for batch/v1.
    """

    def __init__(
        self,
        *,
        working_dir: str | os.PathLike | None = None,
        image_env: Mapping[str, str] | None = None,
        image_entrypoint: Sequence[str] = (),
        config_maps: Mapping[str, Mapping[str, str]] | None = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        max_grace_period_seconds: float | None = None,
        job_delete_default_propagation: str = REAL_JOB_DELETE_DEFAULT_PROPAGATION,
    ):
        self.working_dir = str(working_dir or os.getcwd())
        self.image_env = dict(image_env) if image_env is not None else _default_image_env()
        self.image_entrypoint = list(image_entrypoint)
        self.config_maps = {k: dict(v) for k, v in (config_maps or {}).items()}
        self.secrets = {k: dict(v) for k, v in (secrets or {}).items()}
        self.max_grace_period_seconds = max_grace_period_seconds
        self.job_delete_default_propagation = job_delete_default_propagation

        self.requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._resource_version = 1
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        from churn_assets_tests.k8s_sim.apps import AppsController  # apps imports this module

        self.apps = AppsController(self)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> KubernetesSimulator:
        handler = type("_BoundHandler", (_Handler,), {"simulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="k8s-sim-api", daemon=True
        )
        self._thread.start()
        self.apps.start()
        return self

    def stop(self) -> None:
        """Stop serving and SIGKILL every container process still alive."""
        self.apps.stop()
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            _signal_group(pod.process, signal.SIGKILL)
        for pod in pods:
            if pod.process is not None:
                try:
                    pod.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    logger.warning("k8s-sim: pod %s did not exit after SIGKILL", pod.name)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubernetesSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "simulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def write_kubeconfig(self, path: str | os.PathLike, namespace: str = DEFAULT_NAMESPACE) -> Path:
        return write_kubeconfig(path, self.url, namespace=namespace)

    # -- inspection and fault injection for tests ------------------------------------------------

    def requests_matching(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        pattern = re.compile(path_pattern)
        with self._lock:
            return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    def get_job(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get((namespace, name))
            return None if job is None else self._job_object(job)

    def get_pod(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any] | None:
        with self._lock:
            pod = self._pods.get((namespace, name))
            return None if pod is None else self._pod_object(pod)

    def pods_for_job(self, job_name: str, namespace: str = DEFAULT_NAMESPACE) -> list[dict]:
        with self._lock:
            return [
                self._pod_object(p)
                for p in self._pods.values()
                if p.namespace == namespace and p.labels.get("job-name") == job_name
            ]

    def pod_log(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> str:
        with self._lock:
            pod = self._require_pod(namespace, name)
            return "".join(line for _, line in pod.log)

    def kill_pod(
        self, name: str, namespace: str = DEFAULT_NAMESPACE, sig: int = signal.SIGKILL
    ) -> int:
        """Kill a running Pod's container processes with `sig` (default SIGKILL), as an OOM kill
        or a crashed node would; the Pod is not deleted and ends Failed (exit code 128+sig)."""
        with self._lock:
            pod = self._require_pod(namespace, name)
            process = pod.process
            if process is None or process.poll() is not None:
                raise RuntimeError(f"pod {name} has no running container (phase {pod.phase})")
        _signal_group(process, sig)
        return process.pid

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """Block until `predicate()` (called under the simulator's lock on each change) is true."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"k8s-sim: timed out after {timeout}s waiting for {what}")
                self._changed.wait(min(remaining, 0.5))

    # -- bookkeeping -----------------------------------------------------------------------------

    def _bump(self) -> int:
        self._resource_version += 1
        self._changed.notify_all()
        return self._resource_version

    def _require_pod(self, namespace: str, name: str) -> _Pod:
        pod = self._pods.get((namespace, name))
        if pod is None:
            raise _not_found("pods", "", name)
        return pod

    def _require_job(self, namespace: str, name: str) -> _Job:
        job = self._jobs.get((namespace, name))
        if job is None:
            raise _not_found("jobs", "batch", name)
        return job

    # -- Jobs (the job controller) -------------------------------------------------------------

    def create_job(self, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("kind", "Job") != "Job":
            raise ApiError(400, "BadRequest", "the body of the request was not a Job")
        manifest = copy.deepcopy(body)
        metadata = manifest.setdefault("metadata", {})
        name = metadata.get("name")
        if not name and metadata.get("generateName"):
            name = metadata["generateName"] + secrets.token_hex(3)[:5]
        if not name:
            raise ApiError(422, "Invalid", "Job.batch is invalid: metadata.name: Required value")
        if metadata.get("namespace") not in (None, namespace):
            raise ApiError(
                400, "BadRequest", "the namespace of the object does not match the request"
            )
        spec = manifest.setdefault("spec", {})
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        containers = pod_spec.get("containers") or []
        if not containers:
            raise ApiError(
                422,
                "Invalid",
                f'Job.batch "{name}" is invalid: spec.template.spec.containers: Required value',
            )
        restart_policy = pod_spec.get("restartPolicy")
        if restart_policy not in ("Never", "OnFailure"):
            raise ApiError(
                422,
                "Invalid",
                f'Job.batch "{name}" is invalid: spec.template.spec.restartPolicy: Required value:'
                ' valid values: "OnFailure", "Never"',
            )
        with self._lock:
            if (namespace, name) in self._jobs:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'jobs.batch "{name}" already exists',
                    {"name": name, "group": "batch", "kind": "jobs"},
                )
            uid = str(uuid.uuid4())
            created = _now()
            metadata.update(
                name=name,
                namespace=namespace,
                uid=uid,
                creationTimestamp=_rfc3339(created),
                generation=1,
            )
            metadata.setdefault("labels", {})
            controller_labels = {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
            template.setdefault("metadata", {}).setdefault("labels", {}).update(controller_labels)
            spec.setdefault("backoffLimit", 6)
            spec.setdefault("completions", 1)
            spec.setdefault("parallelism", 1)
            spec.setdefault("completionMode", "NonIndexed")
            spec.setdefault("suspend", False)
            spec.setdefault(
                "selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            )
            job = _Job(namespace=namespace, name=name, uid=uid, created=created, manifest=manifest)
            job.resource_version = self._bump()
            self._jobs[(namespace, name)] = job
            if not spec["suspend"]:
                job.start_time = _now()
                self._start_pod_for(job)
            return self._job_object(job)

    def _start_pod_for(self, job: _Job) -> None:
        template = job.manifest["spec"]["template"]
        pod_spec = copy.deepcopy(template["spec"])
        pod_spec["nodeName"] = NODE_NAME
        pod_spec.setdefault("terminationGracePeriodSeconds", 30)
        first = pod_spec["containers"][0]
        name = f"{job.name}-{secrets.token_hex(3)[:5]}"
        pod = _Pod(
            namespace=job.namespace,
            name=name,
            uid=str(uuid.uuid4()),
            created=_now(),
            labels=dict(template["metadata"].get("labels") or {}),
            annotations=dict(template["metadata"].get("annotations") or {}),
            owner={
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": job.name,
                "uid": job.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            },
            spec=pod_spec,
            container=_Container(name=first.get("name", "container"), image=first.get("image", "")),
        )
        pod.resource_version = self._bump()
        self._pods[(pod.namespace, pod.name)] = pod
        job.pod_names.append(name)
        job.active += 1
        job.resource_version = self._bump()
        threading.Thread(
            target=self._kubelet_run, args=(pod, first), name=f"k8s-sim-{name}", daemon=True
        ).start()

    def _on_pod_finished(self, pod: _Pod) -> None:
        """Called under the lock when a Pod reaches Succeeded or Failed."""
        job = self._jobs.get((pod.namespace, pod.job_name or ""))
        if job is None or job.uid != (pod.owner or {}).get("uid") or job.finished:
            return
        job.active = max(0, job.active - 1)
        now = _now()
        if pod.phase == "Succeeded":
            job.succeeded += 1
            if job.succeeded >= int(job.manifest["spec"].get("completions") or 1):
                job.completion_time = now
                for kind in ("SuccessCriteriaMet", "Complete"):
                    job.conditions.append(_condition(kind, now))
        else:
            job.failed += 1
            if job.failed > int(job.manifest["spec"].get("backoffLimit", 6)):
                for kind in ("FailureTarget", "Failed"):
                    job.conditions.append(
                        _condition(
                            kind,
                            now,
                            reason="BackoffLimitExceeded",
                            message="Job has reached the specified backoff limit",
                        )
                    )
            elif pod.deletion is None:
                self._start_pod_for(job)  # a replacement pod, as the job controller would
        job.resource_version = self._bump()

    def delete_job(self, namespace: str, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        propagation = options.get("propagationPolicy")
        orphan = options.get("orphanDependents")
        if propagation is None and orphan is not None:
            propagation = "Orphan" if str(orphan).lower() == "true" else "Background"
        propagation = propagation or self.job_delete_default_propagation
        if propagation not in ("Orphan", "Background", "Foreground"):
            raise ApiError(400, "BadRequest", f"invalid propagationPolicy {propagation!r}")
        with self._lock:
            job = self._require_job(namespace, name)
            del self._jobs[(namespace, name)]
            owned = [p for p in self._pods.values() if (p.owner or {}).get("uid") == job.uid]
            for pod in owned:
                if propagation == "Orphan":
                    pod.owner = None
                    pod.resource_version = self._bump()
                else:
                    self._delete_pod(pod, options.get("gracePeriodSeconds"))
            self._bump()
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": "batch", "kind": "jobs", "uid": job.uid},
            }

    # -- Pods (the kubelet) --------------------------------------------------------------------

    def delete_pod(self, namespace: str, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            pod = self._require_pod(namespace, name)
            self._delete_pod(pod, options.get("gracePeriodSeconds"))
            return self._pod_object(pod)

    def _delete_pod(self, pod: _Pod, grace: Any) -> None:
        """Graceful deletion: SIGTERM now, SIGKILL after the grace period, then the object goes."""
        if pod.deletion is not None:
            return
        grace_seconds = float(
            grace if grace is not None else pod.spec.get("terminationGracePeriodSeconds", 30)
        )
        if self.max_grace_period_seconds is not None:
            grace_seconds = min(grace_seconds, self.max_grace_period_seconds)
        pod.deletion = _now()
        pod.deletion_grace = int(grace_seconds)
        pod.resource_version = self._bump()
        process = pod.process
        if process is None or process.poll() is not None:
            if pod.phase in ("Pending", "Running"):
                pod.phase = "Failed"
                pod.container.state = _terminated(137 if process else 0, "ContainerStatusUnknown")
                self._on_pod_finished(pod)
            self._pods.pop((pod.namespace, pod.name), None)
            pod.done.set()
            self._bump()
            return
        _signal_group(process, signal.SIGTERM)

        def _escalate() -> None:
            if not pod.done.wait(grace_seconds):
                _signal_group(process, signal.SIGKILL)

        threading.Thread(target=_escalate, name=f"k8s-sim-grace-{pod.name}", daemon=True).start()

    def _kubelet_run(self, pod: _Pod, container: Mapping[str, Any]) -> None:
        try:
            env = self._container_env(pod, container)
        except ApiError as exc:  # a missing ConfigMap/Secret: the container never starts
            with self._lock:
                pod.container.state = {
                    "waiting": {"reason": "CreateContainerConfigError", "message": exc.message}
                }
                pod.resource_version = self._bump()
            return
        argv = [_expand(a, env) for a in (container.get("command") or self.image_entrypoint)]
        argv += [_expand(a, env) for a in (container.get("args") or [])]
        cwd = container.get("workingDir") or self.working_dir
        with self._lock:
            if pod.deletion is not None:
                return
            executable = _resolve_executable(argv[0], env.get("PATH", "")) if argv else None
            if executable is None:
                message = f'exec: "{argv[0] if argv else ""}": executable file not found in $PATH'
                pod.start_time = _now()
                pod.phase = "Failed"
                pod.container.state = _terminated(128, "StartError", message)
                pod.resource_version = self._bump()
                self._on_pod_finished(pod)
                pod.done.set()
                return
            try:
                process = subprocess.Popen(
                    [executable, *argv[1:]],
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, so kills reach the children
                )
            except OSError as exc:
                pod.start_time = _now()
                pod.phase = "Failed"
                pod.container.state = _terminated(128, "StartError", str(exc))
                pod.resource_version = self._bump()
                self._on_pod_finished(pod)
                pod.done.set()
                return
            started = _now()
            pod.process = process
            pod.start_time = started
            pod.phase = "Running"
            pod.container.state = {"running": {"startedAt": _rfc3339(started)}}
            pod.container.ready = True
            pod.container.started = True
            pod.container.container_id = f"sim://{process.pid}"
            pod.resource_version = self._bump()
        reader = threading.Thread(
            target=self._read_log, args=(pod, process), name=f"k8s-sim-log-{pod.name}", daemon=True
        )
        reader.start()
        returncode = process.wait()
        reader.join(timeout=5)
        exit_code = returncode if returncode >= 0 else 128 - returncode
        with self._lock:
            pod.exit_code = exit_code
            pod.phase = "Succeeded" if exit_code == 0 else "Failed"
            pod.container.state = _terminated(
                exit_code, "Completed" if exit_code == 0 else "Error", started=started
            )
            pod.container.ready = False
            pod.container.started = False
            pod.resource_version = self._bump()
            self._on_pod_finished(pod)
            pod.done.set()
            if pod.deletion is not None:
                self._pods.pop((pod.namespace, pod.name), None)
                self._bump()

    def _read_log(self, pod: _Pod, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            with self._lock:
                pod.log.append((_now(), raw.decode("utf-8", errors="replace")))
        process.stdout.close()

    def _container_env(self, pod: _Pod, container: Mapping[str, Any]) -> dict[str, str]:
        env = dict(self.image_env)
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix") or ""
            for ref_key, store, kind in (
                ("configMapRef", self.config_maps, "configmap"),
                ("secretRef", self.secrets, "secret"),
            ):
                ref = source.get(ref_key)
                if not ref:
                    continue
                values = store.get(ref.get("name", ""))
                if values is None:
                    if ref.get("optional"):
                        continue
                    raise ApiError(404, "NotFound", f'{kind} "{ref.get("name")}" not found')
                env.update({prefix + k: v for k, v in values.items()})
        for item in container.get("env") or []:
            name = item["name"]
            if "valueFrom" not in item:
                env[name] = _expand(str(item.get("value", "")), env)
                continue
            value = self._value_from(pod, item["valueFrom"])
            if value is not None:
                env[name] = value
        return env

    def _value_from(self, pod: _Pod, value_from: Mapping[str, Any]) -> str | None:
        if "fieldRef" in value_from:
            path = value_from["fieldRef"].get("fieldPath", "")
            fields = {
                "metadata.name": pod.name,
                "metadata.namespace": pod.namespace,
                "metadata.uid": pod.uid,
                "spec.nodeName": NODE_NAME,
                "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
                "status.podIP": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
            }
            match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
            if match:
                source = pod.labels if match.group(1) == "labels" else pod.annotations
                return source.get(match.group(2), "")
            return fields.get(path, "")
        for ref_key, store, kind in (
            ("configMapKeyRef", self.config_maps, "configmap"),
            ("secretKeyRef", self.secrets, "secret"),
        ):
            ref = value_from.get(ref_key)
            if not ref:
                continue
            values = store.get(ref.get("name", ""))
            if values is None or ref.get("key") not in values:
                if ref.get("optional"):
                    return None
                missing = "" if values is None else f' key "{ref.get("key")}" in'
                raise ApiError(404, "NotFound", f'{kind}{missing} "{ref.get("name")}" not found')
            return values[ref["key"]]
        return None  # resourceFieldRef and anything else: not simulated

    # -- object rendering ----------------------------------------------------------------------

    def _job_object(self, job: _Job) -> dict[str, Any]:
        obj = copy.deepcopy(job.manifest)
        obj["apiVersion"] = "batch/v1"
        obj["kind"] = "Job"
        obj["metadata"]["resourceVersion"] = str(job.resource_version)
        status: dict[str, Any] = {"uncountedTerminatedPods": {}}
        if job.start_time is not None:
            status["startTime"] = _rfc3339(job.start_time)
        if job.completion_time is not None:
            status["completionTime"] = _rfc3339(job.completion_time)
        # Like the real API server, zero counters are omitted (the client reads them as None).
        for key, value in (("active", job.active), ("succeeded", job.succeeded)):
            if value:
                status[key] = value
        if job.failed:
            status["failed"] = job.failed
        status["ready"] = sum(
            1
            for n in job.pod_names
            if (p := self._pods.get((job.namespace, n))) is not None and p.container.ready
        )
        if job.conditions:
            status["conditions"] = copy.deepcopy(job.conditions)
        obj["status"] = status
        return obj

    def _pod_object(self, pod: _Pod) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": pod.name,
            "generateName": f"{pod.job_name}-" if pod.job_name else None,
            "namespace": pod.namespace,
            "uid": pod.uid,
            "resourceVersion": str(pod.resource_version),
            "creationTimestamp": _rfc3339(pod.created),
            "labels": dict(pod.labels),
            "annotations": dict(pod.annotations),
        }
        if pod.owner is not None:
            metadata["ownerReferences"] = [dict(pod.owner)]
        if pod.deletion is not None:
            metadata["deletionTimestamp"] = _rfc3339(pod.deletion)
            metadata["deletionGracePeriodSeconds"] = pod.deletion_grace
        metadata = {k: v for k, v in metadata.items() if v is not None}
        container = pod.container
        container_status = {
            "name": container.name,
            "image": container.image,
            "imageID": f"sim://{container.image}",
            "ready": container.ready,
            "started": container.started,
            "restartCount": 0,
            "state": copy.deepcopy(container.state),
            "lastState": {},
        }
        if container.container_id:
            container_status["containerID"] = container.container_id
        running = pod.phase == "Running" and container.ready
        transition = _rfc3339(pod.start_time or pod.created)
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": _rfc3339(pod.created)},
            {"type": "Initialized", "status": "True", "lastTransitionTime": transition},
            {"type": "ContainersReady", "status": str(running), "lastTransitionTime": transition},
            {"type": "Ready", "status": str(running), "lastTransitionTime": transition},
        ]
        status: dict[str, Any] = {
            "phase": pod.phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "qosClass": "BestEffort",
            "containerStatuses": [container_status],
        }
        if pod.start_time is not None:
            status["startTime"] = _rfc3339(pod.start_time)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": copy.deepcopy(pod.spec),
            "status": status,
        }

    # -- list / read handlers ------------------------------------------------------------------

    def list_jobs(self, namespace: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        labels = _parse_selector(query.get("labelSelector"), "label")
        fields = _parse_selector(query.get("fieldSelector"), "field")
        with self._lock:
            items = []
            for job in self._jobs.values():
                if namespace is not None and job.namespace != namespace:
                    continue
                field_values = _field_values(
                    fields,
                    {"metadata.name": job.name, "metadata.namespace": job.namespace},
                    "jobs",
                )
                if not _matches(labels, job.manifest["metadata"].get("labels") or {}):
                    continue
                if _matches(fields, field_values):
                    items.append(self._job_object(job))
            return _list_object("JobList", "batch/v1", items, self._resource_version)

    def list_pods(self, namespace: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        labels = _parse_selector(query.get("labelSelector"), "label")
        fields = _parse_selector(query.get("fieldSelector"), "field")
        with self._lock:
            items = []
            for pod in self._pods.values():
                if namespace is not None and pod.namespace != namespace:
                    continue
                field_values = _field_values(
                    fields,
                    {
                        "metadata.name": pod.name,
                        "metadata.namespace": pod.namespace,
                        "status.phase": pod.phase,
                        "spec.nodeName": NODE_NAME,
                    },
                    "pods",
                )
                if _matches(labels, pod.labels) and _matches(fields, field_values):
                    items.append(self._pod_object(pod))
            return _list_object("PodList", "v1", items, self._resource_version)

    def read_log(self, namespace: str, name: str, query: Mapping[str, str]) -> str:
        with self._lock:
            pod = self._require_pod(namespace, name)
            wanted = query.get("container")
            if wanted and wanted != pod.container.name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"container {wanted} is not valid for pod {name}",
                )
            if query.get("previous") in ("true", "True", "1"):
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{pod.container.name}" in pod "{name}"'
                    " not found",
                )
            if "waiting" in pod.container.state:
                reason = pod.container.state["waiting"].get("reason", "ContainerCreating")
                raise ApiError(
                    400,
                    "BadRequest",
                    f'container "{pod.container.name}" in pod "{name}" is waiting to start: '
                    f"{reason}",
                )
            lines = list(pod.log)
        if query.get("sinceSeconds"):
            cutoff = time.time() - float(query["sinceSeconds"])
            lines = [(t, s) for t, s in lines if t.timestamp() >= cutoff]
        if query.get("tailLines"):
            tail = int(query["tailLines"])
            lines = lines[-tail:] if tail > 0 else []
        timestamps = query.get("timestamps") in ("true", "True", "1")
        text = "".join((f"{_rfc3339_nano(t)} {s}" if timestamps else s) for t, s in lines)
        if query.get("limitBytes"):
            text = text.encode()[: int(query["limitBytes"])].decode("utf-8", errors="ignore")
        return text


def _list_object(kind: str, api_version: str, items: list, resource_version: int) -> dict:
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": str(resource_version)},
        "items": items,
    }


def _condition(kind: str, moment: datetime, reason: str | None = None, message: str | None = None):
    condition = {
        "type": kind,
        "status": "True",
        "lastProbeTime": _rfc3339(moment),
        "lastTransitionTime": _rfc3339(moment),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _terminated(
    exit_code: int, reason: str, message: str | None = None, started: datetime | None = None
) -> dict[str, Any]:
    terminated: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "finishedAt": _rfc3339(_now()),
    }
    if started is not None:
        terminated["startedAt"] = _rfc3339(started)
    if exit_code > 128:
        terminated["signal"] = exit_code - 128
    if message:
        terminated["message"] = message
    return {"terminated": terminated}


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined variables are substituted, others left verbatim."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def _resolve_executable(name: str, path: str) -> str | None:
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name, path=path)
    if found:
        return found
    # `dagster` & co. live next to this interpreter when the venv's bin is not on PATH.
    candidate = Path(sys.executable).parent / name
    return str(candidate) if os.access(candidate, os.X_OK) else None


def _signal_group(process: subprocess.Popen | None, sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _default_image_env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    host_path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env = {"PATH": os.pathsep.join([bin_dir, host_path])}
    for key in ("HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def write_kubeconfig(
    path: str | os.PathLike,
    server_url: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    context_name: str = "k8s-sim",
) -> Path:
    """Write a kubeconfig whose current context talks to `server_url` with a dummy token."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context_name, "cluster": {"server": server_url}}],
        "users": [{"name": context_name, "user": {"token": "k8s-sim-token"}}],
        "contexts": [
            {
                "name": context_name,
                "context": {"cluster": context_name, "user": context_name, "namespace": namespace},
            }
        ],
        "current-context": context_name,
        "preferences": {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


# ----------------------------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------------------------

_NS = r"/namespaces/(?P<ns>[^/]+)"
_ROUTES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^/version$"), "version"),
    (re.compile(r"^/api/v1/pods$"), "pods"),
    (re.compile(rf"^/api/v1{_NS}/pods$"), "pods"),
    (re.compile(rf"^/api/v1{_NS}/pods/(?P<name>[^/]+)(?P<status>/status)?$"), "pod"),
    (re.compile(rf"^/api/v1{_NS}/pods/(?P<name>[^/]+)/log$"), "log"),
    (re.compile(rf"^/api/v1{_NS}/events$"), "events"),
    (re.compile(r"^/apis/batch/v1/jobs$"), "jobs"),
    (re.compile(rf"^/apis/batch/v1{_NS}/jobs$"), "jobs"),
    (re.compile(rf"^/apis/batch/v1{_NS}/jobs/(?P<name>[^/]+)(?P<status>/status)?$"), "job"),
]


class _Handler(BaseHTTPRequestHandler):
    simulator: KubernetesSimulator
    server_version = "k8s-sim/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("k8s-sim %s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        raw_query = parse_qs(parts.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in raw_query.items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        body: Any = None
        record = RecordedRequest(method=method, path=parts.path, query=raw_query, body=None)
        try:
            if raw_body:
                try:
                    body = json.loads(raw_body)
                except ValueError as exc:
                    raise ApiError(400, "BadRequest", f"invalid JSON body: {exc}") from exc
            record.body = body
            if parts.path.startswith("/apis/apps/v1/"):
                from churn_assets_tests.k8s_sim.apps_routes import route

                content_type = self.headers.get("Content-Type", "")
                code, payload = route(
                    self.simulator.apps, method, parts.path, query, body, content_type
                )
            else:
                code, payload = self._route(method, parts.path, query, body)
        except ApiError as exc:
            code, payload = exc.code, exc.status_object()
        except Exception as exc:  # a simulator bug: answer 500 so the client shows it
            logger.exception("k8s-sim: error handling %s %s", method, self.path)
            code, payload = 500, ApiError(500, "InternalError", repr(exc)).status_object()
        record.status = code
        with self.simulator._lock:
            self.simulator.requests.append(record)
        if isinstance(payload, str):
            self._send(code, payload.encode(), "text/plain; charset=utf-8")
        else:
            self._send(code, json.dumps(payload).encode(), "application/json")

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(
        self, method: str, path: str, query: Mapping[str, str], body: Any
    ) -> tuple[int, Any]:
        sim = self.simulator
        for pattern, route in _ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            groups = match.groupdict()
            ns, name = groups.get("ns"), groups.get("name")
            options = {**(body if isinstance(body, dict) else {}), **query}
            if route == "version" and method == "GET":
                return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-k8s-sim"}
            if route == "pods" and method == "GET":
                return 200, sim.list_pods(ns, query)
            if route == "pod" and method == "GET":
                with sim._lock:
                    return 200, sim._pod_object(sim._require_pod(ns, name))
            if route == "pod" and method == "DELETE" and not groups.get("status"):
                return 200, sim.delete_pod(ns, name, options)
            if route == "log" and method == "GET":
                return 200, sim.read_log(ns, name, query)
            if route == "events" and method == "GET":
                return 200, _list_object("EventList", "v1", [], sim._resource_version)
            if route == "jobs" and method == "GET":
                return 200, sim.list_jobs(ns, query)
            if route == "jobs" and method == "POST" and ns is not None:
                return 201, sim.create_job(ns, body)
            if route == "job" and method == "GET":
                with sim._lock:
                    return 200, sim._job_object(sim._require_job(ns, name))
            if route == "job" and method == "DELETE" and not groups.get("status"):
                return 200, sim.delete_job(ns, name, options)
            raise ApiError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                f"the k8s simulator does not support {method} {path}",
            )
        raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
