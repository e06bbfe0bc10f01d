"""Rollout decisions as plain functions: no Dagster, no I/O, no environment.

What `kubectl rollout status` decides from a Deployment object, which ReplicaSet
`kubectl rollout undo` goes back to, the JSON patch that pins a model version on the server's
pod template, and what a smoke test of the model server must see.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
VERSION_ANNOTATION = "churn-assets/model-version"
VERSION_ENV = "CHURN_MODEL_VERSION"


@dataclass(frozen=True)
class RolloutStatus:
    done: bool
    failed: bool
    message: str


def rollout_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """kubectl's DeploymentStatusViewer on a Deployment (API JSON, camelCase keys)."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "?")
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return RolloutStatus(False, False, "waiting for the spec update to be observed")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and (
            condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return RolloutStatus(False, True, f'deployment "{name}" exceeded its progress deadline')
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < wanted:
        return RolloutStatus(False, False, f"{updated} of {wanted} new replicas updated")
    if total > updated:
        return RolloutStatus(False, False, f"{total - updated} old replicas pending termination")
    if available < updated:
        return RolloutStatus(False, False, f"{available} of {updated} updated replicas available")
    return RolloutStatus(True, False, f'deployment "{name}" successfully rolled out')


def revision(obj: Mapping[str, Any]) -> int:
    """The `deployment.kubernetes.io/revision` of a Deployment or ReplicaSet (0 when unset)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return int(annotations.get(REVISION_ANNOTATION) or 0)


def previous_replica_set(
    replica_sets: Sequence[Mapping[str, Any]], current_revision: int
) -> Mapping[str, Any] | None:
    """The ReplicaSet `kubectl rollout undo` goes back to: the highest revision below the
    current one, or None when there is no earlier revision."""
    older = [rs for rs in replica_sets if 0 < revision(rs) < current_revision]
    return max(older, key=revision, default=None)


def undo_template(replica_set: Mapping[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's pod template without the controller's `pod-template-hash` label."""
    import copy

    template = copy.deepcopy(dict(replica_set["spec"]["template"]))
    (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template


def _container_index(template: Mapping[str, Any], container: str) -> int:
    names = [c.get("name") for c in (template.get("spec") or {}).get("containers") or []]
    if container not in names:
        raise ValueError(f"the pod template has no container '{container}' (it has {names})")
    return names.index(container)


def template_version(template: Mapping[str, Any], container: str) -> str | None:
    """The model version a pod template pins (its CHURN_MODEL_VERSION), or None."""
    index = _container_index(template, container)
    env = template["spec"]["containers"][index].get("env") or []
    return next((e.get("value") for e in env if e.get("name") == VERSION_ENV), None)


def version_patch(template: Mapping[str, Any], container: str, version: str) -> list[dict]:
    """JSON patch operations that pin `version` on the pod template: the CHURN_MODEL_VERSION
    env var of `container` and the `churn-assets/model-version` annotation. A `test` operation
    guards the container index, so a concurrent edit fails the patch instead of hitting another
    container. Raises ValueError when the container is missing."""
    index = _container_index(template, container)
    base = f"/spec/template/spec/containers/{index}"
    ops: list[dict] = [{"op": "test", "path": f"{base}/name", "value": container}]
    env = template["spec"]["containers"][index].get("env")
    names = [e.get("name") for e in env or []]
    pin = {"name": VERSION_ENV, "value": str(version)}
    if env is None:
        ops.append({"op": "add", "path": f"{base}/env", "value": [pin]})
    elif VERSION_ENV in names:
        ops.append(
            {"op": "replace", "path": f"{base}/env/{names.index(VERSION_ENV)}", "value": pin}
        )
    else:
        ops.append({"op": "add", "path": f"{base}/env/-", "value": pin})
    annotations = (template.get("metadata") or {}).get("annotations")
    key = VERSION_ANNOTATION.replace("~", "~0").replace("/", "~1")
    if annotations is None:
        ops.append(
            {
                "op": "add",
                "path": "/spec/template/metadata/annotations",
                "value": {VERSION_ANNOTATION: str(version)},
            }
        )
    else:
        ops.append(
            {
                "op": "add",
                "path": f"/spec/template/metadata/annotations/{key}",
                "value": str(version),
            }
        )
    return ops


def smoke_problems(
    ready_status: int,
    model_info: Mapping[str, Any] | None,
    predictions: Mapping[str, Any] | None,
    expected_version: str,
    n_rows: int,
    expected_proba: Sequence[float] | None = None,
    tolerance: float = 1e-6,
) -> list[str]:
    """Everything wrong with what the server answered; empty when the smoke test passes.

    Takes the status of GET /ready, the JSON of GET /model and of POST /predict (None when the
    request failed), the version that should serve, the number of rows sent and, optionally, the
    probabilities the registry's copy of that version gives for the same rows."""
    problems = []
    if ready_status != 200:
        problems.append(f"GET /ready answered {ready_status}, not 200")
    served = None if model_info is None else str(model_info.get("version"))
    if served != str(expected_version):
        problems.append(f"GET /model reports version {served}, expected {expected_version}")
    if predictions is None:
        problems.append("POST /predict gave no JSON answer")
        return problems
    rows = predictions.get("predictions") or []
    proba = [row.get("churn_probability") for row in rows]
    if len(proba) != n_rows:
        problems.append(f"POST /predict returned {len(proba)} predictions for {n_rows} rows")
    bad = [p for p in proba if not isinstance(p, int | float) or not 0.0 <= p <= 1.0]
    if bad:
        problems.append(f"probabilities outside [0, 1] or not numbers: {bad[:5]}")
    elif expected_proba is not None and len(proba) == len(expected_proba):
        gap = max((abs(a - b) for a, b in zip(proba, expected_proba, strict=True)), default=0.0)
        if gap > tolerance:
            problems.append(
                f"served probabilities differ from the registry's v{expected_version} by "
                f"{gap:.3g} (tolerance {tolerance:g})"
            )
    return problems
