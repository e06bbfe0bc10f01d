"""The apps/v1 controllers of the simulator: deployment and replica-set controllers, rendering.

Split from apps.py (the API side); what they do is described there and in deploy/k8s/SIMULATOR.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from churn_assets_tests.k8s_sim.server import _Container, _now, _Pod, _rfc3339

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


class Controllers:
    """The controllers' steps; `AppsController` (apps.py) holds the state and the API."""

    sim: KubernetesSimulator
    ready_delay_seconds: float
    _deployments: dict
    _replica_sets: dict
    _pod_rs: dict

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


def _selector(dep: _Deployment) -> dict[str, str]:
    return dict((dep.manifest["spec"].get("selector") or {}).get("matchLabels") or {})
