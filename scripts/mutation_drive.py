"""Mutation testing of the decision modules with mutmut's own pieces, in one process (README
"Reliability: faults and mutation testing").

mutmut 3.8.1's `mutmut run` collects its test-to-function map in a forked child, and here that
child hands back an empty map ("could not find any test case for any mutant") although the same
runner in-process records it. So this script generates the mutants with mutmut (the
`[tool.mutmut]` files of pyproject.toml, into mutants/), records the map with mutmut's
PytestRunner in-process, then runs each mutant (MUTANT_UNDER_TEST) against the tests of its group
that reach its function, fastest first, stopping at the first failure.

    flock /work/heavy.lock nice -n 10 .venv/bin/python scripts/mutation_drive.py run [group ...]
    .venv/bin/python scripts/mutation_drive.py verify [mutants per module, default 5]
    .venv/bin/python scripts/mutation_drive.py summary
    .venv/bin/python scripts/mutation_drive.py show MUTANT [MUTANT ...]
    .venv/bin/python scripts/mutation_drive.py equivalent MUTANT "why it cannot change behaviour"

`run` records each mutant in `benchmarks/results/mutation.json` (status, the test that killed
it, a hash of its diff) after every mutant; a second run skips mutants killed with the same diff
and those listed in `benchmarks/results/mutation-equivalents.json`, so it resumes and, after a
source change, re-runs only mutants whose function changed. `verify` (what the `mutation`
tests of CI run) checks the record still matches the generated mutants (none gone, new or
changed) and re-runs a fixed sample of killed mutants against the test that killed each; it
exits 1 on any stale entry or survivor. Run without PYTHONPATH: the tests must import mutants/.
"""

import gc
import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mutmut.__main__ import create_mutants
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.runners import harness
from mutmut.state import state
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

DEF = re.compile(r"(?P<indent>\s*)def (?P<name>x\S*__mutmut_(?:\d+|orig))\(")
STATEMENT = re.compile(r"[A-Za-z_@]")
ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "results" / "mutation.json"
EQUIVALENTS = ROOT / "benchmarks" / "results" / "mutation-equivalents.json"
ML, TESTS = "churn_assets.ml", "churn_assets_tests/ml"
PROMOTION_TESTS = [
    f"{TESTS}/test_promotion.py",
    f"{TESTS}/test_promotion_mutants.py",
    f"{TESTS}/test_resampling.py",
    f"{TESTS}/test_bootstrap_reference.py",
]
# group -> (modules mutated, the tests that judge them)
GROUPS = {
    "validation": (
        [f"{ML}.validation", f"{ML}.validation_rules", f"{ML}.validation_checks"],
        [
            f"{TESTS}/test_validation_mutants.py",
            f"{TESTS}/test_validation_arrow_text.py",  # validate(arrow_text=True)
            f"{TESTS}/test_validation_checks.py",
            "churn_assets_tests/hostile/test_files.py",
            f"{TESTS}/test_bad_input.py",
            "churn_assets_tests/hostile/test_more_inputs.py",
            f"{TESTS}/test_validation.py",  # last: its fixture validates 30,000 rows
        ],
    ),
    "promotion": ([f"{ML}.promotion.gate", f"{ML}.promotion.resampling"], PROMOTION_TESTS),
    "bootstrap": ([f"{ML}.promotion.bootstrap"], PROMOTION_TESTS),
    "drift": (
        [f"{ML}.drift.stats", f"{ML}.drift.compute"],
        # the fast definitions first: test_drift.py holds a 31 s calibration test
        [f"{TESTS}/test_drift_mutants.py", f"{TESTS}/test_drift.py"],
    ),
}
# Without the unraisable-exception plugin: its gc.collect() calls cost 1.5 s per run here.
# MUTATION_QUICK=1.0: a first pass with only the tests under a second (survivors run again).
QUICK = float(os.environ.get("MUTATION_QUICK", "0"))
PYTEST_ARGS = ["-x", "-q", "-o", "timeout=120"]
for _plugin in ("cacheprovider", "randomly", "unraisableexception"):
    PYTEST_ARGS += ["-p", f"no:{_plugin}"]


class FirstFailure:
    """pytest plugin keeping the node id of the first failing test."""

    def __init__(self) -> None:
        self.nodeid: str | None = None

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed and self.nodeid is None:
            self.nodeid = report.nodeid


def mutated_file(module: str) -> Path:
    """The mutated copy of `module` (absolute, so mutmut's `mutants/` prefix leaves it alone)."""
    return ROOT / "mutants" / (module.replace(".", "/") + ".py")


def diff_of(name: str) -> str:
    """The unified diff of one mutant against its original function."""
    return get_diff_for_mutant(name, path=mutated_file(name.rsplit(".", 1)[0]))


def ends(line: str, indent: int) -> bool:
    """True for a statement indented no deeper than `indent` (the end of a function there)."""
    text = line.lstrip()
    return bool(text) and len(line) - len(text) <= indent and bool(STATEMENT.match(text))


def mutant_digests(module: str) -> dict[str, str]:
    """{mutant name: hash of the mutated function's code} read from the mutated file.

    A mutant's record is valid while this hash is unchanged: any change to the function (or a
    renumbering of its mutants) changes it, so the mutant is run again. Plain text, not libcst:
    a function ends at the next statement indented no deeper than its `def`.
    """
    lines = mutated_file(module).read_text().splitlines()
    digests = {}
    for i, line in enumerate(lines):
        found = DEF.match(line)
        if not found or found["name"].endswith("__mutmut_orig"):
            continue
        indent, end = len(found["indent"]), i + 1
        while end < len(lines) and not ends(lines[end], indent):
            end += 1
        body = "\n".join([line.replace(found["name"], "f", 1), *lines[i + 1 : end]])
        digests[f"{module}.{found['name']}"] = hashlib.sha256(body.encode()).hexdigest()[:16]
    return digests


def prepare() -> None:
    """Generate mutants/ (sources, mutants, tests) and import from it, never from the checkout."""
    os.chdir(ROOT)
    os.environ["MUTANT_UNDER_TEST"] = "mutant_generation"
    Path("mutants").mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(2)
    sys.path.insert(0, str(ROOT / "mutants"))


def run_mutant(name: str, tests: list[str]) -> tuple[str, str | None]:
    """Run `tests` with mutant `name` active; return (status, the first failing test)."""
    os.environ["MUTANT_UNDER_TEST"] = name
    catcher = FirstFailure()
    code = int(pytest.main([*PYTEST_ARGS, *tests], plugins=[catcher]))
    os.environ["MUTANT_UNDER_TEST"] = ""
    if code in (3, 4):  # internal or usage error: a broken setup, not a verdict on the mutant
        raise SystemExit(f"pytest could not run {tests} for {name} (exit {code})")
    return {0: "survived", 1: "killed"}.get(code, f"error {code}"), catcher.nodeid


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def run(groups: list[str]) -> int:
    """Run every group's mutants not yet killed with the same diff; returns the survivor count."""
    record = load(RECORD)
    mutants = record.setdefault("mutants", {})
    equivalent = {e["mutant"]: e["diff_sha"] for e in load(EQUIVALENTS).get("equivalents", [])}
    prepare()
    runner = harness.PytestRunner()
    for group in groups:
        modules, tests = GROUPS[group]
        os.environ["MUTANT_UNDER_TEST"] = "stats"  # the trampolines record who calls them
        runner._pytest_add_cli_args_test_selection = [t for t in tests if Path(t).exists()]
        runner.run_stats(tests=[])
        mapping = state().tests_by_mangled_function_name
        durations = {k.removeprefix("mutants/"): v for k, v in state().duration_by_test.items()}
        record.setdefault("test_seconds", {}).update({k: round(v, 3) for k, v in durations.items()})
        os.chdir(ROOT / "mutants")
        gc.collect()
        gc.freeze()  # the imported libraries stay out of every later collection: faster runs
        for module in modules:
            for name, sha in mutant_digests(module).items():
                old = mutants.get(name, {})
                if old.get("diff_sha") == sha and old.get("status") == "killed":
                    continue
                if equivalent.get(name) == sha:
                    mutants[name] = {"status": "equivalent", "diff_sha": sha, "group": group}
                    continue
                func = name.rsplit("__mutmut_", 1)[0]
                # by the group's file order (files with costly fixtures last), then fastest first
                rank = {f: i for i, f in enumerate(tests)}
                reach = sorted(
                    mapping.get(func, []),
                    key=lambda t: (rank.get(t.split("::")[0], 99), durations.get(t, 0)),
                )
                if QUICK:  # a first pass: leave slow tests out, run the survivors fully later
                    reach = [t for t in reach if durations.get(t, 0) <= QUICK]
                status, killer = run_mutant(name, reach) if reach else ("no tests", None)
                mutants[name] = {"status": status, "diff_sha": sha, "group": group}
                if QUICK and status != "killed":
                    mutants[name]["tests"] = f"only those under {QUICK} s"
                if killer:
                    mutants[name]["killed_by"] = killer
                print("MUTANT", name, status, killer or "", flush=True)
                save(record)
        os.chdir(ROOT)
    save(record)
    return summary(record)


def save(record: dict) -> None:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    record["measured"] = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "commit": commit}
    ordered = {**record, "mutants": dict(sorted(record["mutants"].items()))}
    # Atomically: a run stopped mid-write must leave the previous record, not half a file.
    partial = RECORD.with_name(RECORD.name + ".partial")
    partial.write_text(json.dumps(ordered, indent=1) + "\n")
    os.replace(partial, RECORD)


def module_counts(record: dict) -> dict[str, dict]:
    """Per module, its generated mutants counted by recorded status (listed equivalents marked
    first); `complete` when every mutant is killed or equivalent."""
    equivalent = {e["mutant"]: e["diff_sha"] for e in load(EQUIVALENTS).get("equivalents", [])}
    for name, entry in record["mutants"].items():
        if equivalent.get(name) == entry["diff_sha"]:
            entry["status"] = "equivalent"
    modules = {}
    for group in GROUPS.values():
        for module in group[0]:
            generated = mutant_digests(module)
            counts = dict.fromkeys(("killed", "equivalent", "survived", "not_run"), 0)
            for name, sha in generated.items():
                entry = record["mutants"].get(name)
                if entry is None or entry["diff_sha"] != sha:  # not run, or run on older code
                    counts["not_run"] += 1
                else:
                    status = entry["status"]
                    counts[status if status in counts else "survived"] += 1
            counts["mutants"] = len(generated)
            counts["complete"] = counts["killed"] + counts["equivalent"] == len(generated)
            modules[module] = counts
    return modules


def summary(record: dict) -> int:
    """Store and print the per-module counts; return how many mutants are neither killed nor
    equivalent (survivors and mutants not run yet)."""
    record["modules"] = module_counts(record)
    save(record)
    left = 0
    for module, counts in record["modules"].items():
        left += counts["mutants"] - counts["killed"] - counts["equivalent"]
        print("SCORE", module, f"{counts['killed']}/{counts['mutants']} killed", counts)
    print("UNEXPLAINED", left, flush=True)
    return left


def stale(record: dict) -> list[str]:
    """Compare the record with the mutants generated from the current source: one line per
    mutant gone, new, or changed (its function changed since it was run)."""
    generated = {}
    for modules, _ in GROUPS.values():
        for module in modules:
            generated.update(mutant_digests(module))
    recorded = record["mutants"]
    lines = [f"GONE {n} (recorded, no longer generated)" for n in recorded if n not in generated]
    complete = {m for m, c in record.get("modules", {}).items() if c["complete"]}
    for name, sha in generated.items():
        if name not in recorded:
            if name.rsplit(".", 1)[0] in complete:
                lines.append(f"NEW {name} (not in the record)")
        elif recorded[name]["diff_sha"] != sha:
            lines.append(f"CHANGED {name} (its function changed since it was run)")
    return lines


def sample(record: dict, per_module: int, max_seconds: float = 1.0) -> list[str]:
    """A fixed sample: per module, `per_module` killed mutants spread over its functions, each
    killed by a test that took under `max_seconds` when measured."""
    seconds = record.get("test_seconds", {})
    by_module: dict[str, list[str]] = {}
    for name, entry in record["mutants"].items():
        fast = seconds.get(entry.get("killed_by"), 99.0) < max_seconds
        if entry["status"] == "killed" and fast:
            by_module.setdefault(name.rsplit(".", 1)[0], []).append(name)
    picked = []
    for names in by_module.values():
        step = max(1, len(names) // per_module)
        picked += names[::step][:per_module]
    return picked


def verify(per_module: int) -> int:
    """Check the record is current, then re-run a fixed sample of killed mutants against the
    test that killed each; return how many problems (stale entries, survivors) were found."""
    record = load(RECORD)
    prepare()
    os.chdir(ROOT / "mutants")
    problems = stale(record)
    for module, counts in module_counts(record).items():
        print("MODULE", module, "complete" if counts["complete"] else "partial", flush=True)
    for line in problems:
        print(line, flush=True)
    print("STALE", len(problems), flush=True)
    alive = []
    for name in sample(record, per_module):
        status, _ = run_mutant(name, [record["mutants"][name]["killed_by"]])
        print("MUTANT", name, status, flush=True)
        if status != "killed":
            alive.append(name)
    print("NOT KILLED", len(alive), " ".join(alive), flush=True)
    return len(problems) + len(alive)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "run":
        sys.exit(1 if run(args or list(GROUPS)) else 0)
    if command == "equivalent":  # record NAME as equivalent, with WHY, its diff and hash
        os.chdir(ROOT)
        name, why = args
        module = name.rsplit(".", 1)[0]
        entries = load(EQUIVALENTS).get("equivalents", [])
        entries = [e for e in entries if e["mutant"] != name]
        diff = "\n".join(diff_of(name).splitlines()[2:])  # without the file header
        sha = mutant_digests(module)[name]
        entries.append(
            {"module": module, "mutant": name, "diff": diff, "diff_sha": sha, "why": why}
        )
        entries.sort(key=lambda e: e["mutant"])
        EQUIVALENTS.write_text(json.dumps({"equivalents": entries}, indent=1) + "\n")
        sys.exit(0)
    if command == "summary":  # scores per module from the record and the generated mutants
        os.chdir(ROOT)
        sys.exit(1 if summary(load(RECORD)) else 0)
    if command == "show":  # the diffs of the named mutants (of the last `run`)
        os.chdir(ROOT)
        for name in args:
            print(f"# {name}\n{diff_of(name)}\n")
        sys.exit(0)
    sys.exit(1 if verify(int(args[0]) if args else 5) else 0)
