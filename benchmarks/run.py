"""Run the benchmarks: `python -m benchmarks.run [--quick] [--only data,training,first_run,...]`.

Writes one JSON per benchmark to benchmarks/results/<name>.json, then prints a markdown summary of
every result file present (so a data-only run still shows the last training figures) and writes
the same table to benchmarks/results/SUMMARY.md.
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks import (
    bootstrap,
    data_assets,
    drift,
    first_run,
    quality,
    scale,
    scoring,
    serving,
    storage_formats,
    training,
    training_1m,
)
from benchmarks.common import RESULTS_DIR

BENCHMARKS = {
    "data": data_assets.run,
    "training": training.run,
    "training_1m": training_1m.main,
    "drift": drift.main,
    "scoring": scoring.main,
    "bootstrap": bootstrap.main,
    "serving": serving.main,
    "quality": quality.main,
    "first_run": first_run.run,
    "scale": scale.run,
    "storage_formats": storage_formats.run,
}


def summary_markdown() -> str:
    """One markdown table over the summary rows of every results/*.json."""
    lines = [
        "| benchmark | measurement | value | note |",
        "|---|---|---|---|",
    ]
    footer = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        doc = json.loads(path.read_text())
        for r in doc.get("summary", []):
            note = r["note"].replace("|", "/").replace("\n", " ")
            lines.append(f"| {r['benchmark']} | {r['measurement']} | {r['value']} | {note} |")
        m = doc.get("machine", {})
        mode = doc.get("params", {}).get("mode", "")
        footer.append(
            f"- `{path.name}`{f' ({mode})' if mode else ''}: {m.get('timestamp')}, "
            f"{m.get('cpu_count')} CPUs, load {m.get('load_average_start')} -> "
            f"{m.get('load_average_end')}, git {str(m.get('git_sha'))[:12]}, "
            f"Python {m.get('python')}"
        )
    return "\n".join(lines + [""] + footer) + "\n"


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 10 minutes)")
    parser.add_argument(
        "--only", type=_names, help=f"comma-separated benchmarks: {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    for name, run in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        print(f"running {name} benchmark{' (quick)' if args.quick else ''} ...", flush=True)
        run(quick=args.quick)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    table = summary_markdown()
    (RESULTS_DIR / "SUMMARY.md").write_text("# Benchmark summary\n\n" + table)
    print(table)


if __name__ == "__main__":
    main()
