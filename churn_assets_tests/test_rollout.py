"""The pure rollout decisions: kubectl's rollout status, undo's target, the pin, the smoke test."""

import jsonpatch
import pytest

from churn_assets import rollout


def deployment(generation=2, observed=2, replicas=2, updated=2, total=2, available=2, reason=None):
    conditions = [{"type": "Progressing", "status": "True", "reason": reason or "X"}]
    return {
        "metadata": {"name": "srv", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "updatedReplicas": updated,
            "replicas": total,
            "availableReplicas": available,
            "conditions": conditions,
        },
    }


@pytest.mark.parametrize(
    ("fields", "done", "failed", "message"),
    [
        ({}, True, False, 'deployment "srv" successfully rolled out'),
        ({"observed": 1}, False, False, "waiting for the spec update to be observed"),
        ({"reason": "ProgressDeadlineExceeded"}, False, True, "exceeded its progress deadline"),
        ({"updated": 1, "total": 3}, False, False, "1 of 2 new replicas updated"),
        ({"total": 3}, False, False, "1 old replicas pending termination"),
        ({"available": 1}, False, False, "1 of 2 updated replicas available"),
    ],
)
def test_rollout_status_follows_kubectl(fields, done, failed, message):
    status = rollout.rollout_status(deployment(**fields))
    assert (status.done, status.failed) == (done, failed)
    assert message in status.message


def rs(revision: int, version: str) -> dict:
    return {
        "metadata": {"annotations": {rollout.REVISION_ANNOTATION: str(revision)}},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "srv", "pod-template-hash": f"h{revision}"}},
                "spec": {"containers": [template_container(version)]},
            }
        },
    }


def template_container(version: str | None) -> dict:
    env = [{"name": "OTHER", "value": "x"}]
    if version is not None:
        env.append({"name": rollout.VERSION_ENV, "value": version})
    return {"name": "model-server", "env": env}


def test_undo_goes_to_the_highest_revision_below_the_current_one():
    sets = [rs(1, "1"), rs(4, "4"), rs(2, "2"), rs(5, "5")]
    assert rollout.revision(rollout.previous_replica_set(sets, 5)) == 4
    assert rollout.revision(rollout.previous_replica_set(sets, 3)) == 2
    assert rollout.previous_replica_set(sets, 1) is None
    template = rollout.undo_template(rollout.previous_replica_set(sets, 5))
    assert template["metadata"]["labels"] == {"app": "srv"}
    assert rollout.template_version(template, "model-server") == "4"


@pytest.mark.parametrize("existing", ["2", None, "no-env", "no-annotations"])
def test_version_patch_pins_env_and_annotation_whatever_was_there(existing):
    container = template_container(existing if existing in ("2", None) else None)
    if existing == "no-env":
        del container["env"]
    template = {
        "metadata": {"labels": {"app": "srv"}, "annotations": {"keep": "me"}},
        "spec": {"containers": [{"name": "sidecar"}, container]},
    }
    if existing == "no-annotations":
        del template["metadata"]["annotations"]
    doc = {"spec": {"template": template}}
    patched = jsonpatch.apply_patch(doc, rollout.version_patch(template, "model-server", "7"))
    new = patched["spec"]["template"]
    assert rollout.template_version(new, "model-server") == "7"
    assert new["metadata"]["annotations"][rollout.VERSION_ANNOTATION] == "7"
    assert new["spec"]["containers"][0] == {"name": "sidecar"}
    env_names = [e["name"] for e in new["spec"]["containers"][1]["env"]]
    assert env_names.count(rollout.VERSION_ENV) == 1
    if existing != "no-annotations":
        assert new["metadata"]["annotations"]["keep"] == "me"


def test_version_patch_fails_when_the_container_moved_or_is_missing():
    template = {"metadata": {}, "spec": {"containers": [template_container("1")]}}
    ops = rollout.version_patch(template, "model-server", "2")
    moved = {"spec": {"template": {"metadata": {}, "spec": {"containers": [{"name": "other"}]}}}}
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(moved, ops)
    with pytest.raises(ValueError, match="no container 'server'"):
        rollout.version_patch(template, "server", "2")


GOOD = {
    "ready_status": 200,
    "model_info": {"version": "3"},
    "predictions": {"predictions": [{"churn_probability": 0.2}, {"churn_probability": 0.9}]},
    "expected_version": "3",
    "n_rows": 2,
    "expected_proba": [0.2, 0.9],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"ready_status": 503}, "GET /ready answered 503"),
        ({"model_info": {"version": "2"}}, "reports version 2, expected 3"),
        ({"model_info": None}, "reports version None"),
        ({"predictions": None}, "POST /predict gave no JSON answer"),
        ({"n_rows": 3}, "returned 2 predictions for 3 rows"),
        (
            {"predictions": {"predictions": [{"churn_probability": 1.5}] * 2}},
            "outside [0, 1]",
        ),
        (
            {"predictions": {"predictions": [{"churn_probability": "x"}] * 2}},
            "outside [0, 1] or not numbers",
        ),
        ({"expected_proba": [0.2, 0.8]}, "differ from the registry's v3 by 0.1"),
    ],
)
def test_each_smoke_check_fails_alone(change, problem):
    assert rollout.smoke_problems(**GOOD) == []
    problems = rollout.smoke_problems(**{**GOOD, **change})
    assert len(problems) == 1 and problem in problems[0], problems
