"""Mutation testing of the decision modules with mutmut's own pieces, in one process (README
"Faults and mutation testing"). Not in CI: it takes tens of minutes on two cores.

mutmut 3.8.1's `mutmut run` collects its test-to-function map in a forked child, and here that
child hands back an empty map ("could not find any test case for any mutant") although the same
runner in-process records it. So this script generates the mutants with mutmut (the
`[tool.mutmut]` files of pyproject.toml, into mutants/), records the map with mutmut's
PytestRunner in-process, then runs each mutant (MUTANT_UNDER_TEST) against the tests that reach
its function, fastest first, stopping at the first failure. Results are written after every
mutant and a second run skips what is done, so a run can be stopped and resumed.

    flock /work/heavy.lock nice -n 10 .venv/bin/python scripts/mutation_drive.py \\
        churn_assets_tests/ml/test_promotion.py,churn_assets_tests/ml/test_promotion_mutants.py \\
        churn_assets.ml.promotion.gate mutation-gate.json [budget seconds]

Prints one line per mutant and a summary: killed, survived, no tests (no test reaches it).
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path

import pytest
from mutmut.__main__ import create_mutants
from mutmut.runners import harness
from mutmut.state import state
from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths

tests_files, mods = sys.argv[1].split(","), sys.argv[2].split(",")
out = Path(sys.argv[3]).resolve()
deadline = time.monotonic() + float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
results = json.loads(out.read_text()) if out.exists() else {}

os.environ["MUTANT_UNDER_TEST"] = "mutant_generation"
Path("mutants").mkdir(exist_ok=True)
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
create_mutants(2)

os.environ["MUTANT_UNDER_TEST"] = "stats"
runner = harness.PytestRunner()
runner._pytest_add_cli_args_test_selection = tests_files
runner.run_stats(tests=[])
mapping = {k: sorted(v) for k, v in state().tests_by_mangled_function_name.items()}
durations = {k.removeprefix("mutants/"): v for k, v in state().duration_by_test.items()}
os.chdir("mutants")
sys.path.insert(0, os.getcwd())
for modname in mods:
    mod = importlib.import_module(modname)
    for attr in sorted(dir(mod)):
        table = getattr(mod, attr)
        if not (attr.startswith("mutants_x") and isinstance(table, dict)):
            continue
        for mutant in sorted(table):
            if "__mutmut_" not in mutant or mutant.endswith("_orig"):
                continue
            name = f"{modname}.{mutant}"
            if results.get(name) in ("killed", "survived", "no tests"):
                continue
            if time.monotonic() > deadline:
                break
            func = mutant.rsplit("__mutmut_", 1)[0]
            tests = sorted(mapping.get(f"{modname}.{func}", []), key=lambda t: durations.get(t, 0))
            if not tests:
                results[name] = "no tests"
            else:
                os.environ["MUTANT_UNDER_TEST"] = name
                args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
                code = pytest.main([*args, "-o", "timeout=120"])
                results[name] = {0: "survived", 1: "killed"}.get(int(code), f"error {int(code)}")
            print("MUTANT", name, results[name], flush=True)  # noqa: T201 - a script
            out.write_text(json.dumps(results, indent=1))
out.write_text(json.dumps(results, indent=1))
counts: dict[str, int] = {}
for value in results.values():
    counts[value] = counts.get(value, 0) + 1
print("SUMMARY", counts, flush=True)  # noqa: T201 - a script
