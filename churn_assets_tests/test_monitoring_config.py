"""The monitoring configuration in deploy/: Prometheus config, alert rules, Grafana dashboards.

Prometheus files are checked by `promtool` itself (config, rules, rule unit tests); it comes with
the Debian `prometheus` package, and without it those tests skip (or fail under
CHURN_REQUIRE_SERVICES=1). Grafana does not run here, so the dashboards' structure is checked
directly, their PromQL is parsed by promtool, and every metric they or the alerts use must be one
that churn_assets/resources/metrics.py pushes.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from churn_assets.resources.metrics import METRIC_NAMES
from churn_assets_tests.integration.services import require_service

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
EXPECTED_DASHBOARDS = {"pipeline-runs", "model-performance", "drift", "data-quality"}
REQUIRED_ALERTS = {
    "ChurnDatasetDriftDetected",
    "ChurnPipelineRunFailed",
    "ChurnDataQualityLow",
    "ChurnChampionAucLow",
    "ChurnNoSuccessfulScoring",
    "ChurnRealizedAucDecayed",
}
_CHURN_METRIC = re.compile(r"\bchurn_[A-Za-z0-9_:]*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def churn_metrics_in(expr: str) -> set[str]:
    """The churn_* metric names a PromQL expression uses (label values in quotes ignored)."""
    return set(_CHURN_METRIC.findall(_QUOTED.sub('""', expr)))


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    """Run promtool from the repository root; skip (or fail, when required) without it."""
    executable = shutil.which("promtool")
    require_service(
        executable is not None,
        "promtool not found on PATH; install with apt-get install prometheus",
    )
    return subprocess.run(
        [executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout}\n{result.stderr}"


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict]:
    return [
        rule
        for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def provisioned_datasource_uid() -> str:
    provisioning = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    [datasource] = [d for d in provisioning["datasources"] if d["type"] == "prometheus"]
    return datasource["uid"]


def dashboard_exprs(dashboard: dict) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and query variables."""
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


# -- Prometheus ------------------------------------------------------------------------------


def test_prometheus_config_passes_promtool():
    assert_ok(promtool("check", "config", PROMETHEUS_DIR / "prometheus.yml"))


def test_alert_rules_pass_promtool():
    assert_ok(promtool("check", "rules", PROMETHEUS_DIR / "alerts.yml"))


def test_alert_rule_unit_tests_pass():
    assert_ok(promtool("test", "rules", PROMETHEUS_DIR / "alerts_test.yml"))


def test_prometheus_scrapes_the_pushgateway_model_server_and_itself():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"pushgateway", "churn-model-server", "prometheus"} <= set(jobs)
    # Without honor_labels the gateway's own job/instance would replace the pushed labels.
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["churn-model-server"]["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["alerts.yml"]


def test_alerts_are_complete_and_use_pushed_metrics():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert REQUIRED_ALERTS <= set(rules)
    for name, rule in rules.items():
        assert rule.get("for"), f"{name} has no `for:` duration"
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"].get("summary") and rule["annotations"].get("description")
        unknown = churn_metrics_in(rule["expr"]) - METRIC_NAMES
        assert not unknown, f"{name} uses metrics metrics.py does not push: {unknown}"
    for name in REQUIRED_ALERTS:
        assert churn_metrics_in(rules[name]["expr"]), f"{name} uses no churn_* metric"


@pytest.mark.parametrize("alert", ["ChurnDatasetDriftDetected", "ChurnRealizedAucDecayed"])
def test_drift_and_decay_alerts_have_firing_and_quiet_unit_tests(alert):
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
    drift_cases = [
        case
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case.get("exp_alerts") for case in drift_cases), "no firing case"
    assert any(not case.get("exp_alerts") for case in drift_cases), "no quiet case"


# -- Grafana ---------------------------------------------------------------------------------


def test_every_expected_dashboard_exists():
    assert {path.stem for path in DASHBOARDS} == EXPECTED_DASHBOARDS


def test_dashboard_uids_are_unique():
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def test_dashboard_provider_and_datasource_are_provisioned():
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml")
    [entry] = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]
    assert provisioned_datasource_uid()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path):
    dashboard = json.loads(path.read_text())
    uid = provisioned_datasource_uid()
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    assert dashboard["panels"], "a dashboard without panels"
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids)), f"duplicate panel ids {panel_ids}"
    for panel in dashboard["panels"]:
        where = f"{path.name} panel {panel.get('title')!r}"
        assert panel["type"] and panel["title"], where
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), where
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, f"{where} is too wide"
        assert panel["datasource"]["uid"] == uid, where
        assert panel["targets"], f"{where} has no targets"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for target in panel["targets"]:
            assert target["expr"].strip(), where
            assert target.get("datasource", {"uid": uid})["uid"] == uid, where
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            assert variable["datasource"]["uid"] == uid


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_metrics_are_pushed_by_metrics_py(path: Path):
    for expr in dashboard_exprs(json.loads(path.read_text())):
        used = churn_metrics_in(expr)
        assert used, f"{path.name}: {expr!r} uses no churn_* metric"
        assert used <= METRIC_NAMES, f"{path.name}: unknown metrics {used - METRIC_NAMES}"


def test_dashboard_queries_parse_as_promql(tmp_path: Path):
    """promtool parses the panel queries as recording rules (variables set to match anything)."""
    rules = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = re.sub(r"\$\{?\w+\}?", ".*", target["expr"])
                record = f"dashboard:{path.stem.replace('-', '_')}:{panel['id']}_{target['refId']}"
                rules.append({"record": record, "expr": expr})
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert_ok(promtool("check", "rules", rule_file))
