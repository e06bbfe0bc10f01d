"""Run the mutants mutmut generated, in one process (README "Faults and mutation testing").

mutmut 3.8.1's `mutmut run` collects its test-to-function map in a forked child, and here that
child hands back an empty map ("could not find any test case for any mutant") although the same
runner in-process records it; so this drives mutmut's own pieces in-process: its PytestRunner for
the map, then each mutant (MUTANT_UNDER_TEST) against the tests that reach its function.

    mutmut run   # generates mutants/ (then stops at the empty map)
    cd mutants && PYTHONPATH=$PWD python ../scripts/mutation_drive.py \
        churn_assets_tests/ml/test_promotion.py,churn_assets_tests/ml/test_promotion_mutants.py \
        churn_assets.ml.promotion.gate results.json
"""

import importlib
import json
import os
import sys

import pytest
from mutmut.runners import harness
from mutmut.state import state

tests_files, mods = sys.argv[1].split(","), sys.argv[2].split(",")
os.environ["MUTANT_UNDER_TEST"] = "stats"
runner = harness.PytestRunner()
runner._pytest_add_cli_args_test_selection = tests_files
runner.run_stats(tests=[])
mapping = {k: sorted(v) for k, v in state().tests_by_mangled_function_name.items()}
if os.path.isdir("mutants"):  # the runner ran the stats inside mutants/: run the mutants there
    os.chdir("mutants")
results = {}
for modname in mods:
    mod = importlib.import_module(modname)
    for attr in sorted(dir(mod)):
        table = getattr(mod, attr)
        if not (attr.startswith("mutants_x") and isinstance(table, dict)):
            continue
        for mutant in sorted(table):
            if "__mutmut_" not in mutant or mutant.endswith("_orig"):
                continue
            func = mutant.rsplit("__mutmut_", 1)[0]
            tests = mapping.get(f"{modname}.{func}", [])
            name = f"{modname}.{mutant}"
            if not tests:
                results[name] = "no tests"
                continue
            os.environ["MUTANT_UNDER_TEST"] = name
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-o", "timeout=60", *tests])
            results[name] = {0: "survived", 1: "killed"}.get(int(code), f"error {int(code)}")
            print("MUTANT", name, results[name], flush=True)  # noqa: T201 - a script
json.dump(results, open(sys.argv[3], "w"), indent=1)
counts = {}
for value in results.values():
    counts[value] = counts.get(value, 0) + 1
print("SUMMARY", counts, flush=True)  # noqa: T201 - a script
