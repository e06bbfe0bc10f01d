"""Single fits of each family at 1M rows (the slow part of the full training benchmark, alone).

`python -m benchmarks.training_1m` writes results/training_1m.json.
"""

import tempfile
from typing import Any

from benchmarks.common import load_average, write_result
from benchmarks.training import _params, _prepare, _single

NAME = "training_1m"


def main(quick: bool = False) -> dict[str, Any]:
    load_at_start = load_average()
    p = _params(quick=False)
    p["mode"] = "single fits at 1M rows only"
    timeout, repeat = p["timeout_seconds"], p["repeat_under_seconds"]
    summary: list[dict[str, str]] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="churn-bench-1m-") as cache:
        results["prepare"] = _prepare(cache, {p["single_fit"]["rows"]}, timeout)
        results["single_fit"] = _single(p, cache, summary, timeout, repeat)
    write_result(NAME, p, results, summary, load_at_start)
    return {"params": p, "results": results, "summary": summary}


if __name__ == "__main__":
    for row in main()["summary"]:
        print(row)
