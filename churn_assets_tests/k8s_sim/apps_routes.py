"""The HTTP side of the simulator's apps/v1: which request goes to which AppsController call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from churn_assets_tests.k8s_sim.server import ApiError

if TYPE_CHECKING:
    from churn_assets_tests.k8s_sim.apps import AppsController


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
