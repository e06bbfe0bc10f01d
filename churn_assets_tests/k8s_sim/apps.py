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
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from churn_assets_tests.k8s_sim import patching
from churn_assets_tests.k8s_sim.apps_controllers import (
    HASH_LABEL,
    REVISION,
    Controllers,
    _Deployment,
    _ReplicaSet,
    _scaled,
    _selector,
)
from churn_assets_tests.k8s_sim.server import (
    ApiError,
    _list_object,
    _matches,
    _not_found,
    _now,
    _parse_selector,
    _rfc3339,
)

if TYPE_CHECKING:
    from churn_assets_tests.k8s_sim.server import KubernetesSimulator


class AppsController(Controllers):
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
