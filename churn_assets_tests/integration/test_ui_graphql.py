"""The mission's assets through the real Dagster UI's GraphQL API.

A webserver and a daemon run on a throwaway local instance (see dagster_ui.py). Through POST
/graphql the tests find the assets with their groups, lineage edges and checks, launch `data_job`
(queued by the QueuedRunCoordinator, so only the daemon can start it), wait for its success, and
read the validated dataset's materialization metadata and its six check results back.
"""

import time

import pytest

from churn_assets.defs.validation import CHECKS
from churn_assets_tests.integration.dagster_ui import (  # noqa: F401 (dagster_ui is a fixture)
    LOCATION_NAME,
    REPOSITORY_NAME,
    SYNTHETIC_ROWS,
    DagsterUI,
    dagster_ui,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RUN_TIMEOUT = 300.0
FAMILIES = ("logistic_regression", "random_forest", "gradient_boosting", "xgboost")
MODELS = [f"trained_models/{family}" for family in FAMILIES]

# asset -> its group, for the mission's assets
GROUPS = {
    "raw_dataset": "ingestion",
    "validated_dataset": "validation",
    "quarantined_rows": "validation",
    "features": "features",
    **dict.fromkeys(MODELS, "training"),
    "model_evaluation": "training",
    "promoted_model": "registry",
    "drift_reference": "monitoring",
    "customer_batch": "monitoring",
    "batch_quarantine": "monitoring",
    "batch_predictions": "monitoring",
    "drift_report": "monitoring",
}
# asset -> upstream assets it must depend on (a subset of its dependencyKeys)
EDGES = {
    "validated_dataset": {"raw_dataset"},
    "quarantined_rows": {"raw_dataset"},
    "features": {"validated_dataset"},
    **{model: {"features"} for model in MODELS},
    "model_evaluation": set(MODELS),
    "promoted_model": {"model_evaluation"},
    "drift_reference": {"features"},
    "customer_batch": {"feature_spec"},
    "explain_baseline": {"features", "feature_spec"},
    "batch_predictions": {"customer_batch", "explain_baseline", "promoted_model"},
    "drift_report": {"batch_predictions"},
}
ASSET_CHECKS = {
    "validated_dataset": set(CHECKS),
    "promoted_model": {"champion_loads_and_scores", "champion_meets_thresholds"},
}

ASSET_NODES = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    dependedByKeys { path }
    groupName
    jobNames
    isMaterializable
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName }
    ... on PythonError { message }
  }
}
"""

RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId, limit: 1000) {
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent { stepKey message error { message } }
        ... on RunFailureEvent { message error { message } }
        ... on EngineEvent { message error { message } }
      }
    }
  }
}
"""

MATERIALIZATION = """
query Materialization($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        runId
        metadataEntries {
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($path: [String!]!, $checkName: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $checkName, limit: 1) {
    runId
    status
    evaluation {
      success
      severity
      metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on FloatMetadataEntry { floatValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}
"""


def _key(node_key: dict) -> str:
    return "/".join(node_key["path"])


@pytest.fixture(scope="module")
def asset_nodes(dagster_ui: DagsterUI) -> dict[str, dict]:  # noqa: F811
    """Every asset node of the workspace, by its key joined with '/'."""
    nodes = dagster_ui.graphql(ASSET_NODES)["assetNodes"]
    return {_key(node["assetKey"]): node for node in nodes}


def _wait_for_run(ui: DagsterUI, run_id: str, timeout: float = RUN_TIMEOUT) -> list[str]:
    """Poll the run until it ends; the statuses seen, in order (repeats collapsed)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ui.graphql(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if not seen or seen[-1] != run["status"]:
            seen.append(run["status"])
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return seen
        time.sleep(2.0)
    pytest.fail(
        f"run {run_id} not finished after {timeout:.0f}s (statuses {seen}); "
        "a run stuck in QUEUED means the daemon is not dequeuing\n" + ui.logs()
    )


@pytest.fixture(scope="module")
def data_run(dagster_ui: DagsterUI) -> dict:  # noqa: F811
    """`data_job` launched through GraphQL and waited for: its run id and statuses."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": REPOSITORY_NAME,
            "pipelineName": "data_job",
        },
        "runConfigData": {
            "ops": {"validate_dataset": {"config": {"min_quality_score": 80.0}}},
        },
    }
    started = time.monotonic()
    result = dagster_ui.graphql(LAUNCH_RUN, {"executionParams": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    statuses = _wait_for_run(dagster_ui, run_id)
    if statuses[-1] != "SUCCESS":
        events = dagster_ui.graphql(RUN_ERRORS, {"runId": run_id})["logsForRun"]["events"]
        errors = [e for e in events if e.get("error") or e["__typename"].endswith("FailureEvent")]
        pytest.fail(f"data_job run {run_id} ended {statuses}: {errors}\n{dagster_ui.logs()}")
    return {
        "run_id": run_id,
        "launch_status": result["run"]["status"],
        "statuses": statuses,
        "seconds": time.monotonic() - started,
    }


def test_mission_assets_are_in_their_groups(asset_nodes):
    missing = sorted(set(GROUPS) - set(asset_nodes))
    assert not missing, f"assets missing from the UI: {missing}; found {sorted(asset_nodes)}"
    groups = {key: asset_nodes[key]["groupName"] for key in GROUPS}
    assert groups == GROUPS
    assert all(asset_nodes[key]["isMaterializable"] for key in GROUPS)
    assert "data_job" in asset_nodes["validated_dataset"]["jobNames"]
    assert "training_job" in asset_nodes["promoted_model"]["jobNames"]
    assert "monitoring_job" in asset_nodes["drift_report"]["jobNames"]


def test_lineage_edges(asset_nodes):
    for asset, upstream in EDGES.items():
        deps = {_key(k) for k in asset_nodes[asset]["dependencyKeys"]}
        assert upstream <= deps, f"{asset} depends on {sorted(deps)}, expected {sorted(upstream)}"
        for parent in upstream:  # the same edge seen from the upstream side
            children = {_key(k) for k in asset_nodes[parent]["dependedByKeys"]}
            assert asset in children, f"{parent} -> {asset} missing from {parent}'s dependedBy"
    assert not asset_nodes["raw_dataset"]["dependencyKeys"]


def test_asset_checks(asset_nodes):
    for asset, expected in ASSET_CHECKS.items():
        checks = asset_nodes[asset]["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", checks
        names = {c["name"] for c in checks["checks"]}
        assert names == expected, f"checks on {asset}: {sorted(names)}"
    data_checks = asset_nodes["validated_dataset"]["assetChecksOrError"]["checks"]
    assert all(c["blocking"] for c in data_checks), "the data-quality checks must be blocking"


def test_daemon_dequeues_and_runs_data_job(data_run):
    # The QueuedRunCoordinator queues the run; only the daemon can move it on and finish it.
    assert data_run["launch_status"] in ("QUEUED", "NOT_STARTED"), data_run
    assert data_run["statuses"][-1] == "SUCCESS", data_run


def test_materialization_metadata_read_back(dagster_ui: DagsterUI, data_run):  # noqa: F811
    asset = dagster_ui.graphql(MATERIALIZATION, {"path": ["validated_dataset"]})["assetOrError"]
    assert asset["__typename"] == "Asset", asset
    (materialization,) = asset["assetMaterializations"]
    assert materialization["runId"] == data_run["run_id"]
    ints = {
        e["label"]: e["intValue"]
        for e in materialization["metadataEntries"]
        if e["__typename"] == "IntMetadataEntry"
    }
    for label in ("rows_in", "rows_kept", "rows_quarantined", "dagster/row_count"):
        assert label in ints, f"{label} missing from {sorted(ints)}"
    assert ints["rows_in"] == SYNTHETIC_ROWS
    assert ints["rows_kept"] + ints["rows_quarantined"] == ints["rows_in"]
    assert 0 < ints["rows_quarantined"] < SYNTHETIC_ROWS * 0.05  # the spec's 1% faulty rows
    assert ints["dagster/row_count"] == ints["rows_kept"]


def test_data_checks_read_back(dagster_ui: DagsterUI, data_run):  # noqa: F811
    for name in CHECKS:
        executions = dagster_ui.graphql(
            CHECK_EXECUTIONS, {"path": ["validated_dataset"], "checkName": name}
        )["assetCheckExecutions"]
        assert executions, f"no execution of check {name}"
        (execution,) = executions
        assert execution["runId"] == data_run["run_id"]
        assert execution["status"] == "SUCCEEDED", (name, execution)
        evaluation = execution["evaluation"]
        assert evaluation["success"] is True, (name, evaluation)
        labels = {e["label"] for e in evaluation["metadataEntries"]}
        assert {"observed", "threshold"} <= labels, (name, labels)
