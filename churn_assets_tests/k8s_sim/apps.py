"""apps/v1 for the Kubernetes API simulator: Deployments, ReplicaSets and the rolling update.

A deployment controller and a replica-set controller in the style of kube-controller-manager's
(pkg/controller/deployment/rolling.go and sync.go): a ReplicaSet per pod template (named by a
hash of the template, with `deployment.kubernetes.io/revision`), the rolling update bounded by
`maxSurge` / `maxUnavailable`, unhealthy old pods cleaned up first, the Deployment's status
counters and its `Available` / `Progressing` conditions, `ProgressDeadlineExceeded` after
`progressDeadlineSeconds` without progress. A rollback (`kubectl rollout undo`) is what kubectl
does client-side: a JSON patch putting an older ReplicaSet's template back, which makes that
ReplicaSet the newest revision again.

Pods of ReplicaSets run no process: their container is reported running at once and becomes
ready after `ready_delay_seconds` if `pod_ready(pod)` says so. That hook stands in for the image
and its readiness probe (tests make a version "never ready" with it). See deploy/k8s/SIMULATOR.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from churn_assets_tests.k8s_sim import patching
from churn_assets_tests.k8s_sim.server import (
    ApiError,
    _Container,
    _list_object,
    _matches,
    _not_found,
    _now,
    _parse_selector,
    _Pod,
    _rfc3339,
)

if TYPE_CHECKING:
    from churn_assets_tests.k8s_sim.server import KubernetesSimulator

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


@dataclass
class _Deployment:
    namespace: str
    name: str
    uid: str
    created: datetime
    manifest: dict[str, Any]
    generation: int = 1
    observed_generation: int = 0
    resource_version: int = 0
    status: dict[str, Any] = field(default_factory=dict)
    progress_key: tuple = ()
    last_progress: float = field(default_factory=time.monotonic)
    last_progress_at: datetime = field(default_factory=_now)


@dataclass
class _ReplicaSet:
    namespace: str
    name: str
    uid: str
    created: datetime
    owner: _Deployment
    template: dict[str, Any]
    template_hash: str
    revision: int
    replicas: int = 0
    resource_version: int = 0


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable hash of a pod template, without the hash label itself."""
    clean = copy.deepcopy(dict(template))
    (clean.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def _scaled(value: Any, replicas: int, round_up: bool) -> int:
    """An int-or-percent field of the rolling update, as the controller resolves it."""
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = replicas * percent / 100
    return int(-(-exact // 1)) if round_up else int(exact // 1)


class AppsController:
    """The apps/v1 objects of one simulator and the controllers that move them."""

    def __init__(self, sim: KubernetesSimulator, tick_seconds: float = 0.05):
        self.sim = sim
        self.tick_seconds = tick_seconds
        self.ready_delay_seconds = 0.2
        # The "image": whether a pod of this template ever passes its readiness probe.
        self.pod_ready: Callable[[dict[str, Any]], bool] = lambda pod: True
        self._deployments: dict[tuple[str, str], _Deployment] = {}
        self._replica_sets: dict[tuple[str, str], _ReplicaSet] = {}
        self._pod_rs: dict[tuple[str, str], _ReplicaSet] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="k8s-sim-apps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            with self.sim._lock:
                for dep in list(self._deployments.values()):
                    self._reconcile(dep)

    # -- API ---------------------------------------------------------------------------------

    def create(self, namespace: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("kind", "Deployment") != "Deployment":
            raise ApiError(400, "BadRequest", "the body of the request was not a Deployment")
        manifest = copy.deepcopy(body)
        meta = manifest.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", "Deployment.apps is invalid: metadata.name: Required")
        self._validate(name, manifest)
        with self.sim._lock:
            if (namespace, name) in self._deployments:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'deployments.apps "{name}" already exists',
                    {"name": name, "group": "apps", "kind": "deployments"},
                )
            now = _now()
            uid = str(uuid.uuid4())
            meta.update(namespace=namespace, uid=uid, creationTimestamp=_rfc3339(now))
            meta.setdefault("annotations", {})
            spec = manifest["spec"]
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("minReadySeconds", 0)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxSurge", "25%")
                rolling.setdefault("maxUnavailable", "25%")
            dep = _Deployment(namespace, name, uid, now, manifest)
            dep.resource_version = self.sim._bump()
            self._deployments[(namespace, name)] = dep
            self._reconcile(dep)
            return self._deployment_object(dep)

    def _validate(self, name: str, manifest: Mapping[str, Any]) -> None:
        spec = manifest.get("spec") or {}
        template = spec.get("template") or {}
        if not (template.get("spec") or {}).get("containers"):
            raise ApiError(
                422,
                "Invalid",
                f'Deployment.apps "{name}" is invalid: spec.template.spec.containers: Required',
            )
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            raise ApiError(
                422,
                "Invalid",
                f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: '
                "`selector` does not match template `labels`",
            )
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        if rolling and _scaled(rolling.get("maxSurge", 0), 100, True) == 0:
            if _scaled(rolling.get("maxUnavailable", 0), 100, False) == 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Deployment.apps "{name}" is invalid: spec.strategy.rollingUpdate.'
                    "maxUnavailable: may not be 0 when `maxSurge` is 0",
                )

    def read(self, namespace: str, name: str) -> dict[str, Any]:
        with self.sim._lock:
            return self._deployment_object(self._require(namespace, name))

    def list(self, namespace: str | None, query: Mapping[str, str]) -> dict[str, Any]:
        labels = _parse_selector(query.get("labelSelector"), "label")
        with self.sim._lock:
            items = [
                self._deployment_object(d)
                for d in self._deployments.values()
                if (namespace is None or d.namespace == namespace)
                and _matches(labels, d.manifest["metadata"].get("labels") or {})
            ]
            return _list_object("DeploymentList", "apps/v1", items, self.sim._resource_version)

    def patch(self, namespace: str, name: str, body: Any, content_type: str) -> dict[str, Any]:
        with self.sim._lock:
            dep = self._require(namespace, name)
            current = self._deployment_object(dep)
            patched = patching.apply(current, body, content_type)
            return self._update(dep, patched)

    def replace(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        with self.sim._lock:
            dep = self._require(namespace, name)
            wanted = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if wanted and wanted != str(dep.resource_version):
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on deployments.apps "{name}": the object '
                    "has been modified; please apply your changes to the latest version and "
                    "try again",
                )
            return self._update(dep, copy.deepcopy(body))

    def _update(self, dep: _Deployment, new: dict[str, Any]) -> dict[str, Any]:
        self._validate(dep.name, new)
        old_spec = dep.manifest["spec"]
        new_spec = new.get("spec") or {}
        meta = dep.manifest["metadata"]
        new_meta = new.get("metadata") or {}
        meta["labels"] = new_meta.get("labels") or {}
        annotations = dict(new_meta.get("annotations") or {})
        if meta.get("annotations", {}).get(REVISION):
            annotations[REVISION] = meta["annotations"][REVISION]  # owned by the controller
        meta["annotations"] = annotations
        if new_spec != old_spec:
            dep.manifest["spec"] = copy.deepcopy(new_spec)
            dep.generation += 1
        dep.resource_version = self.sim._bump()
        return self._deployment_object(dep)

    def delete(self, namespace: str, name: str) -> dict[str, Any]:
        with self.sim._lock:
            dep = self._require(namespace, name)
            del self._deployments[(namespace, name)]
            for rs in [r for r in self._replica_sets.values() if r.owner is dep]:
                rs.replicas = 0
                self._sync_pods(rs)
                del self._replica_sets[(rs.namespace, rs.name)]
            self.sim._bump()
            return {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}

    def list_replica_sets(self, namespace: str | None, query: Mapping[str, str]) -> dict:
        labels = _parse_selector(query.get("labelSelector"), "label")
        with self.sim._lock:
            items = [
                self._rs_object(rs)
                for rs in self._replica_sets.values()
                if (namespace is None or rs.namespace == namespace)
                and _matches(labels, rs.template["metadata"].get("labels") or {})
            ]
            return _list_object("ReplicaSetList", "apps/v1", items, self.sim._resource_version)

    def read_replica_set(self, namespace: str, name: str) -> dict[str, Any]:
        with self.sim._lock:
            rs = self._replica_sets.get((namespace, name))
            if rs is None:
                raise _not_found("replicasets", "apps", name)
            return self._rs_object(rs)

    def _require(self, namespace: str, name: str) -> _Deployment:
        dep = self._deployments.get((namespace, name))
        if dep is None:
            raise _not_found("deployments", "apps", name)
        return dep

    # -- controllers (called under the simulator's lock) ------------------------------------

    def _reconcile(self, dep: _Deployment) -> None:
        spec = dep.manifest["spec"]
        replicas = int(spec.get("replicas", 1))
        new = self._new_replica_set(dep)
        owned = [rs for rs in self._replica_sets.values() if rs.owner is dep]
        olds = sorted((rs for rs in owned if rs is not new), key=lambda rs: rs.created)
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            for rs in olds:
                rs.replicas = 0
            if not any(self._pods_of(rs) for rs in olds):
                new.replicas = replicas
        else:
            self._rolling_update(dep, new, olds, replicas)
        for rs in owned:
            self._sync_pods(rs)
        self._prune_history(dep, olds)
        dep.observed_generation = dep.generation
        self._update_status(dep, new, owned, replicas)

    def _new_replica_set(self, dep: _Deployment) -> _ReplicaSet:
        template = dep.manifest["spec"]["template"]
        digest = template_hash(template)
        owned = [rs for rs in self._replica_sets.values() if rs.owner is dep]
        newest = max((rs.revision for rs in owned), default=0)
        new = next((rs for rs in owned if rs.template_hash == digest), None)
        if new is None:
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = digest
            new = _ReplicaSet(
                dep.namespace,
                f"{dep.name}-{digest}",
                str(uuid.uuid4()),
                _now(),
                dep,
                rs_template,
                digest,
                newest + 1,
            )
            self._replica_sets[(new.namespace, new.name)] = new
            new.resource_version = self.sim._bump()
        elif new.revision < newest:  # a rollback: the old ReplicaSet becomes the newest revision
            new.revision = newest + 1
            new.resource_version = self.sim._bump()
        dep.manifest["metadata"].setdefault("annotations", {})[REVISION] = str(new.revision)
        return new

    def _rolling_update(self, dep, new: _ReplicaSet, olds: list[_ReplicaSet], replicas: int):
        rolling = dep.manifest["spec"]["strategy"].get("rollingUpdate") or {}
        surge = _scaled(rolling.get("maxSurge", "25%"), replicas, True)
        unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        # Scale the new ReplicaSet up within maxSurge.
        total = new.replicas + sum(rs.replicas for rs in olds)
        if new.replicas < replicas:
            room = replicas + surge - total
            new.replicas += max(0, min(room, replicas - new.replicas))
        elif new.replicas > replicas:
            new.replicas = replicas
        # Scale old ReplicaSets down within maxUnavailable: unhealthy pods first.
        min_available = replicas - unavailable
        new_unavailable = new.replicas - self._available(new)
        total = new.replicas + sum(rs.replicas for rs in olds)
        budget = total - min_available - new_unavailable
        for rs in olds:
            if budget <= 0:
                return
            unhealthy = min(rs.replicas - self._available(rs), budget)
            if unhealthy > 0:
                rs.replicas -= unhealthy
                budget -= unhealthy
        available = self._available(new) + sum(self._available(rs) for rs in olds)
        room = min(budget, available - min_available)
        for rs in olds:
            if room <= 0:
                return
            step = min(rs.replicas, room)
            rs.replicas -= step
            room -= step

    def _prune_history(self, dep: _Deployment, olds: list[_ReplicaSet]) -> None:
        limit = int(dep.manifest["spec"].get("revisionHistoryLimit", 10))
        idle = sorted(
            (rs for rs in olds if rs.replicas == 0 and not self._pods_of(rs)),
            key=lambda rs: rs.revision,
        )
        for rs in idle[: max(0, len(idle) - limit)]:
            del self._replica_sets[(rs.namespace, rs.name)]

    def _pods_of(self, rs: _ReplicaSet) -> list[_Pod]:
        return [
            pod
            for key, owner in self._pod_rs.items()
            if owner is rs and (pod := self.sim._pods.get(key)) is not None
        ]

    def _available(self, rs: _ReplicaSet) -> int:
        return sum(1 for pod in self._pods_of(rs) if pod.container.ready)

    def _sync_pods(self, rs: _ReplicaSet) -> None:
        pods = self._pods_of(rs)
        for pod in pods:
            if not pod.container.ready and time.monotonic() >= pod.ready_at:
                if self.pod_ready(self.sim._pod_object(pod)):
                    pod.container.ready = True
                    pod.resource_version = self.sim._bump()
        if len(pods) < rs.replicas:
            for _ in range(rs.replicas - len(pods)):
                self._start_pod(rs)
        elif len(pods) > rs.replicas:
            # Unready pods go first, then the newest.
            doomed = sorted(pods, key=lambda p: (p.container.ready, -p.created.timestamp()))
            for pod in doomed[: len(pods) - rs.replicas]:
                self.sim._pods.pop((pod.namespace, pod.name), None)
                self._pod_rs.pop((pod.namespace, pod.name), None)
                pod.done.set()
                self.sim._bump()

    def _start_pod(self, rs: _ReplicaSet) -> None:
        spec = copy.deepcopy(rs.template["spec"])
        spec["nodeName"] = "k8s-sim-node"
        first = spec["containers"][0]
        now = _now()
        pod = _Pod(
            namespace=rs.namespace,
            name=f"{rs.name}-{secrets.token_hex(3)[:5]}",
            uid=str(uuid.uuid4()),
            created=now,
            labels=dict(rs.template["metadata"].get("labels") or {}),
            annotations=dict(rs.template["metadata"].get("annotations") or {}),
            owner={
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs.name,
                "uid": rs.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            },
            spec=spec,
            container=_Container(name=first.get("name", "container"), image=first.get("image", "")),
            phase="Running",
            start_time=now,
        )
        pod.container.state = {"running": {"startedAt": _rfc3339(now)}}
        pod.container.started = True
        pod.ready_at = time.monotonic() + self.ready_delay_seconds
        pod.resource_version = self.sim._bump()
        self.sim._pods[(pod.namespace, pod.name)] = pod
        self._pod_rs[(pod.namespace, pod.name)] = rs

    def _update_status(self, dep, new: _ReplicaSet, owned: list[_ReplicaSet], replicas: int):
        pods = [pod for rs in owned for pod in self._pods_of(rs)]
        updated = len(self._pods_of(new))
        available = sum(1 for pod in pods if pod.container.ready)
        rolling = dep.manifest["spec"]["strategy"].get("rollingUpdate") or {}
        unavailable_ok = _scaled(rolling.get("maxUnavailable", 0), replicas, False)
        key = (dep.generation, len(pods), updated, available, new.replicas)
        now = time.monotonic()
        if key != dep.progress_key:
            dep.progress_key, dep.last_progress, dep.last_progress_at = key, now, _now()
        complete = updated == replicas == len(pods) and available == replicas
        deadline = float(dep.manifest["spec"].get("progressDeadlineSeconds", 600))
        if complete:
            progressing = ("True", "NewReplicaSetAvailable", "has successfully progressed.")
        elif now - dep.last_progress > deadline:
            progressing = ("False", "ProgressDeadlineExceeded", "has timed out progressing.")
        else:
            progressing = ("True", "ReplicaSetUpdated", "is progressing.")
        ok = available >= replicas - unavailable_ok
        stamp = _rfc3339(dep.last_progress_at)
        status = {
            "observedGeneration": dep.observed_generation,
            "replicas": len(pods),
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
            "conditions": [
                {
                    "type": "Available",
                    "status": str(ok),
                    "reason": "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
                    "message": "Deployment has minimum availability."
                    if ok
                    else "Deployment does not have minimum availability.",
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                },
                {
                    "type": "Progressing",
                    "status": progressing[0],
                    "reason": progressing[1],
                    "message": f'ReplicaSet "{new.name}" {progressing[2]}',
                    "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp,
                },
            ],
        }
        # Zero counters are omitted, as the API server does.
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        if status != dep.status:
            dep.status = status
            dep.resource_version = self.sim._bump()

    # -- rendering ---------------------------------------------------------------------------

    def _deployment_object(self, dep: _Deployment) -> dict[str, Any]:
        obj = copy.deepcopy(dep.manifest)
        obj.update(apiVersion="apps/v1", kind="Deployment")
        obj["metadata"].update(resourceVersion=str(dep.resource_version), generation=dep.generation)
        obj["status"] = copy.deepcopy(dep.status)
        return obj

    def _rs_object(self, rs: _ReplicaSet) -> dict[str, Any]:
        pods = self._pods_of(rs)
        ready = sum(1 for pod in pods if pod.container.ready)
        labels = dict(rs.template["metadata"].get("labels") or {})
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods)}
        status.update(readyReplicas=ready, availableReplicas=ready, observedGeneration=1)
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs.name,
                "namespace": rs.namespace,
                "uid": rs.uid,
                "resourceVersion": str(rs.resource_version),
                "creationTimestamp": _rfc3339(rs.created),
                "labels": labels,
                "annotations": {REVISION: str(rs.revision)},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": rs.owner.name,
                        "uid": rs.owner.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": rs.replicas,
                "selector": {"matchLabels": {**_selector(rs.owner), HASH_LABEL: rs.template_hash}},
                "template": copy.deepcopy(rs.template),
            },
            "status": {k: v for k, v in status.items() if v or k == "replicas"},
        }


def _selector(dep: _Deployment) -> dict[str, str]:
    return dict((dep.manifest["spec"].get("selector") or {}).get("matchLabels") or {})


def route(apps: AppsController, method: str, path: str, query, body, content_type: str):
    """Answer an /apis/apps/v1 request: (status code, JSON object)."""
    parts = path.removeprefix("/apis/apps/v1").strip("/").split("/")
    namespace = None
    if parts[:1] == ["namespaces"] and len(parts) >= 3:
        namespace, parts = parts[1], parts[2:]
    kind, name, sub = (parts + [None, None, None])[:3]
    if kind == "deployments" and name is None:
        if method == "GET":
            return 200, apps.list(namespace, query)
        if method == "POST" and namespace:
            return 201, apps.create(namespace, body)
    elif kind == "deployments" and namespace and sub in (None, "status"):
        if method == "GET":
            return 200, apps.read(namespace, name)
        if method == "PATCH" and sub is None:
            return 200, apps.patch(namespace, name, body, content_type)
        if method == "PUT" and sub is None:
            return 200, apps.replace(namespace, name, body)
        if method == "DELETE" and sub is None:
            return 200, apps.delete(namespace, name)
    elif kind == "replicasets" and name is None and method == "GET":
        return 200, apps.list_replica_sets(namespace, query)
    elif kind == "replicasets" and namespace and sub is None and method == "GET":
        return 200, apps.read_replica_set(namespace, name)
    else:
        raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
    raise ApiError(405, "MethodNotAllowed", f"the k8s simulator does not support {method} {path}")
