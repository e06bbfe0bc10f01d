"""PATCH bodies as the API server applies them: JSON patch (RFC 6902) and JSON merge patch.

JSON patch is applied by the `jsonpatch` library (including `test` operations, which fail the
whole patch). Merge patch (RFC 7386) is a few lines. Strategic merge patch, the client's default
for a dict body, is refused with 415: its per-field merge keys are not simulated, so a test must
send a list (JSON patch) or set the merge-patch content type.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from churn_assets_tests.k8s_sim.server import ApiError


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply(document: dict[str, Any], body: Any, content_type: str) -> dict[str, Any]:
    """The patched copy of `document`; ApiError 422 when a JSON patch operation fails."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json-patch+json":
        if not isinstance(body, list):
            raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
        try:
            return jsonpatch.apply_patch(document, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {exc}") from exc
    if kind == "application/merge-patch+json":
        return merge_patch(document, body)
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the k8s simulator does not apply {kind or 'this'} patches (only JSON and merge patch)",
    )
