"""The house's layers, checked on the source (AST): `ml/` is pure, `defs/` talks to the outside
world only through resources."""

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "churn_assets"
RULES = {
    "ml": {"requests", "boto3", "botocore", "sqlalchemy", "mlflow", "subprocess"},
    "defs": {"mlflow", "requests", "boto3", "botocore"},
}
ENV_READS = {"ml"}  # layers that may not read the environment
# Offenders still being moved out, each with the helper that owns it. Empty is the goal; an entry
# that no longer offends fails the test, so the list only shrinks.
ALLOWED: dict[str, str] = {}


def offences(layer: str) -> dict[str, set[str]]:
    """Module path -> what it uses that its layer may not (top-level package names, os.environ)."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        bad = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad |= {a.name.split(".")[0] for a in node.names} & RULES[layer]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                bad |= {node.module.split(".")[0]} & RULES[layer]
            elif layer in ENV_READS and isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id == "os":
                    if node.attr in ("environ", "getenv", "putenv"):
                        bad.add(f"os.{node.attr}")
        if bad:
            found[str(path.relative_to(PACKAGE.parent))] = bad
    return found


def _offences_in_a_fresh_interpreter() -> dict[str, list[str]]:
    """`offences` of both layers, computed in a child process. CPython 3.11.7's `ast.parse` can
    raise "SystemError: AST constructor recursion depth mismatch" in a process where an earlier
    test hit a RecursionError (the deep-JSON tests do; fixed in 3.11.8, gh-106905)."""
    code = (
        "import json; from churn_assets_tests.test_layering import offences; "
        "print(json.dumps({p: sorted(b) for layer in ('ml', 'defs') "
        "for p, b in offences(layer).items()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def test_layers_import_only_what_they_may():
    found = _offences_in_a_fresh_interpreter()
    unexpected = {p: b for p, b in found.items() if p not in ALLOWED}
    assert not unexpected, f"I/O outside resources/: {unexpected}"
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"no longer offending, remove from ALLOWED: {stale}"


def test_the_scan_sees_each_kind_of_offence(tmp_path, monkeypatch):
    """Each rule alone makes a module an offender (so an empty result means something)."""
    layer = tmp_path / "churn_assets" / "ml"
    layer.mkdir(parents=True)
    cases = {
        "a.py": ("import mlflow.sklearn\n", {"mlflow"}),
        "b.py": ("from subprocess import run\n", {"subprocess"}),
        "c.py": ("import os\nX = os.environ['A']\n", {"os.environ"}),
        "d.py": ("import os\nX = os.getenv('A')\n", {"os.getenv"}),
        "e.py": ("from churn_assets.ml import features\nimport numpy\n", set()),
    }
    for name, (source, _) in cases.items():
        (layer / name).write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "churn_assets")
    found = offences("ml")
    for name, (_, expected) in cases.items():
        assert found.get(f"churn_assets/ml/{name}", set()) == expected, name
