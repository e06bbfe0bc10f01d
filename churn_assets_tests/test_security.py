"""No secret in the repository; credentials only through the environment (EnvVar, compose's .env)
and Kubernetes Secrets; the Dagster webserver never exposed without authentication.

Each rule is a function over text, so each has a case here where it alone fails.
"""

import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from churn_assets_tests.test_helm_values import deep_merge

REPO = Path(__file__).resolve().parents[1]
CHART_VALUES = REPO.parent / "shared" / "dagster-helm" / "values.yaml"

# Real key formats: never anywhere, tests included.
KEY_PATTERNS = {
    "AWS access key id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "private key": r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |PGP )?PRIVATE KEY-----",
    "GitHub token": r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{40,}",
    "Slack token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "AWS secret access key": r"(?i)aws_secret_access_key\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}\b",
}
# user:password@ in a URL, unless the password is a placeholder or comes from the environment.
URL_CREDENTIALS = r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<password>[^/\s@'\"]+)@"
PLACEHOLDERS = re.compile(r"^(password|\.\.\.|\$\{?\$?\{?\w+.*|\$\$\{\w+\}|<[\w-]+>|\*+)$")
# Throwaway values that are not secrets, each with why.
ALLOWED_URL_PASSWORDS = {
    "ci-only": "the CI job's own throwaway Postgres service container (.github/workflows/ci.yml)",
    "s3cret": "a bad-input test's SQL URL on 127.0.0.1:1, where nothing listens",
}


def key_findings(text: str) -> list[str]:
    return [name for name, pattern in KEY_PATTERNS.items() if re.search(pattern, text)]


def url_password_findings(text: str) -> list[str]:
    found = []
    for match in re.finditer(URL_CREDENTIALS, text):
        password = match.group("password")
        if not PLACEHOLDERS.match(password) and password not in ALLOWED_URL_PASSWORDS:
            found.append(password)
    return found


def literal_credentials(source: str) -> list[str]:
    """Names in Python code given a non-empty string literal when they look like credentials."""
    secretish = re.compile(r"(?i)(password|passwd|secret|token|access_key|api_key)")
    found = []
    for node in ast.walk(ast.parse(source)):
        pairs = []
        if isinstance(node, ast.keyword) and node.arg:
            pairs.append((node.arg, node.value))
        elif isinstance(node, ast.Assign):
            pairs += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
        for name, value in pairs:
            if (
                secretish.search(name)
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and value.value.strip()
            ):
                found.append(name)
    return found


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return [REPO / name for name in listed.split("\0") if name and (REPO / name).is_file()]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("key = AKIA" + "ABCDEFGHIJKLMNOP", "AWS access key id"),
        ("-----BEGIN RSA " + "PRIVATE KEY-----\nMIIE", "private key"),
        ("token: gh" + "p_" + "a" * 36, "GitHub token"),
        ("SLACK=xo" + "xb-1234567890-abcdef", "Slack token"),
        ("k=AI" + "za" + "B" * 35, "Google API key"),
        ("aws_secret_" + "access_key = " + "x" * 40, "AWS secret access key"),
    ],
)
def test_each_key_pattern_catches_its_kind_alone(text, rule):
    assert key_findings(text) == [rule]


def test_url_credentials_allow_only_placeholders_and_listed_throwaways():
    assert url_password_findings("postgresql://churn:" + "hunter2@db:5432/x") == ["hunter2"]
    assert url_password_findings("postgresql://user:password@host:port/db") == []
    assert url_password_findings('uri "postgresql+psycopg2://$${PGUSER}:$${PGPASSWORD}@pg/m"') == []
    assert url_password_findings("postgresql://postgres:ci-only@postgres:5432/postgres") == []


def test_literal_credentials_in_code_are_found():
    assert literal_credentials("S3Resource(aws_secret_access_key='abc')") == [
        "aws_secret_access_key"
    ]
    assert literal_credentials("DB_PASSWORD = 'hunter2'") == ["DB_PASSWORD"]
    assert literal_credentials("S3Resource(aws_secret_access_key=EnvVar('K'))") == []
    assert literal_credentials("password = ''") == []


def test_no_secret_in_any_tracked_file():
    findings = []
    for path in tracked_files():
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(REPO)
        findings += [f"{rel}: {rule}" for rule in key_findings(text)]
        findings += [f"{rel}: URL password {p!r}" for p in url_password_findings(text)]
    assert findings == []


def test_package_code_never_holds_a_credential_literal():
    findings = [
        f"{path.relative_to(REPO)}: {name}"
        for path in sorted((REPO / "churn_assets").rglob("*.py"))
        for name in literal_credentials(path.read_text())
    ]
    assert findings == []


def _password_like(name: str) -> bool:
    return bool(re.search(r"(?i)(password|secret|token|access_key)", name))


def test_compose_takes_every_password_from_the_environment():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    blocks = [compose.get("x-dagster-env") or {}] + [
        s.get("environment") or {} for s in compose["services"].values()
    ]
    pairs = []
    for block in blocks:  # a mapping, or a list of KEY=VALUE
        items = block.items() if isinstance(block, dict) else (e.split("=", 1) for e in block)
        pairs += [(name, str(value)) for name, value in items]
    literal = [f"{n}={v}" for n, v in pairs if _password_like(n) and not v.startswith("${")]
    assert literal == []


def _k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def _containers(node):
    if isinstance(node, dict):
        if "containers" in node:
            yield from node["containers"]
        for value in node.values():
            yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def test_kubernetes_credentials_only_from_secrets():
    docs = _k8s_documents()
    assert [d["metadata"]["name"] for d in docs if d.get("kind") == "Secret"] == []
    plain = [
        f"{d['kind']}/{d['metadata']['name']}: {key}"
        for d in docs
        if d.get("kind") == "ConfigMap"
        for key in (d.get("data") or {})
        if _password_like(key)
    ]
    plain += [
        f"{c['name']}: env {e['name']}"
        for d in docs
        for c in _containers(d)
        for e in c.get("env") or []
        if _password_like(e["name"]) and "secretKeyRef" not in (e.get("valueFrom") or {})
    ]
    assert plain == []


def _merged_helm() -> dict:
    ours = yaml.safe_load((REPO / "helm-values.yaml").read_text())
    if not CHART_VALUES.exists():
        return ours
    return deep_merge(yaml.safe_load(CHART_VALUES.read_text()), ours)


def test_helm_values_hold_no_password_and_name_their_secrets():
    values = _merged_helm()
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    for part in ("dagsterWebserver", "dagsterDaemon"):
        assert [s["name"] for s in values[part]["envSecrets"]] == ["churn-runtime-secrets"]


def test_the_webserver_is_never_exposed_without_authentication():
    """Dagster OSS has no login: the webservers are ClusterIP services without an Ingress, so
    they are reached through `kubectl port-forward` or an authenticating proxy (README)."""
    values = _merged_helm()
    assert values["ingress"]["enabled"] is False
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    assert not values["dagsterWebserver"]["service"].get("annotations")
