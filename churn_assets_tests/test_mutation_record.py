"""The mutation score is part of the suite (README "Reliability: faults and mutation testing").

`benchmarks/results/mutation.json` records the mutants of the decision modules (validation,
promotion, drift statistics) run so far: killed (with the test that killed it), survived, or
equivalent (explained in `mutation-equivalents.json`), and per module whether every mutant is
killed or equivalent. These tests fail when a module documented as complete is not (on the
mutants mutmut generates from the current source), when a recorded mutant's function changed
since it was run (the record cannot go stale silently), or when a fixed sample of killed
mutants is no longer killed by its test.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.mutation

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "results" / "mutation.json"
EQUIVALENTS = ROOT / "benchmarks" / "results" / "mutation-equivalents.json"
RECORD_FILES = ("benchmarks/results/mutation.json", "benchmarks/results/mutation-equivalents.json")
RERUN = "flock /work/heavy.lock .venv/bin/python scripts/mutation_drive.py run"


def _record() -> dict:
    return json.loads(RECORD.read_text())


# Modules whose every mutant is killed or equivalent (README "Reliability: faults and mutation
# testing" gives the score of each, and of the modules not complete yet).
COMPLETE = {
    "churn_assets.ml.validation",
    "churn_assets.ml.validation_rules",
    "churn_assets.ml.promotion.gate",
    "churn_assets.ml.promotion.resampling",
    "churn_assets.ml.drift.stats",
}


def test_the_record_is_well_formed_and_equivalents_are_explained():
    record = _record()
    mutants = record["mutants"]
    equivalents = json.loads(EQUIVALENTS.read_text())["equivalents"]
    for entry in equivalents:
        name = entry["mutant"]
        assert entry["module"] == name.rsplit(".", 1)[0]
        assert entry["diff"].count("\n+") >= 1 and len(entry["why"]) > 40, name
        if name in mutants and mutants[name]["diff_sha"] == entry["diff_sha"]:
            assert mutants[name]["status"] == "equivalent", name
    for name, entry in mutants.items():
        if entry["status"] == "killed":
            assert entry["killed_by"].startswith("churn_assets_tests/"), name
    assert record["measured"]["date"] and record["measured"]["commit"]


def test_the_complete_modules_are_the_documented_ones():
    modules = _record()["modules"]
    assert {m for m, counts in modules.items() if counts["complete"]} == COMPLETE
    for module in COMPLETE:
        counts = modules[module]
        assert counts["killed"] + counts["equivalent"] == counts["mutants"] > 0
        assert counts["survived"] == counts["not_run"] == 0


@pytest.fixture(scope="module")
def verified(tmp_path_factory) -> str:
    """`mutation_drive.py verify` on a copy of the project: generate the mutants, compare them
    with the record, re-run a fixed sample (5 per module) against their killing tests."""
    work = tmp_path_factory.mktemp("mutation")
    for folder in ("churn_assets", "churn_assets_tests"):
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
    for name in ("pyproject.toml", "scripts/mutation_drive.py", *RECORD_FILES):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    result = subprocess.run(
        [sys.executable, "scripts/mutation_drive.py", "verify", "5"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [
        line
        for line in result.stdout.splitlines()
        if line.startswith(("MODULE", "GONE", "NEW", "CHANGED", "STALE", "MUTANT", "NOT KILLED"))
    ]
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return "\n".join(lines)


def test_the_record_matches_the_mutants_of_the_current_source(verified):
    stale = [line for line in verified.splitlines() if line.startswith(("GONE", "NEW", "CHANGED"))]
    assert stale == [], f"the mutation record is stale: run {RERUN}\n" + "\n".join(stale[:20])
    assert "STALE 0" in verified.splitlines()
    # complete on the current source: every generated mutant killed or equivalent
    for module in COMPLETE:
        assert f"MODULE {module} complete" in verified.splitlines(), module


def test_a_fixed_sample_of_killed_mutants_is_still_killed_by_its_test(verified):
    runs = [line for line in verified.splitlines() if line.startswith("MUTANT")]
    per_module = [line.split()[1].rsplit(".", 1)[0] for line in runs]
    for module in COMPLETE:  # 5 per module (fewer only where fewer were killed so far)
        assert per_module.count(module) == 5, verified
    assert all(line.endswith(" killed") for line in runs), verified
    assert "NOT KILLED 0 " in verified + " "
