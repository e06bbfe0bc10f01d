"""Child process of the SIGKILL fault test: materialize `customers` (version N) through the local
Parquet IO manager on the instance in DAGSTER_HOME.

`python -m ...write_child <base_dir> <version> [stall-before-rename|stall-mid-write <marker>]`
With a stall mode the write stops at that point (after writing a marker file) and waits to be
killed: the fault is injected at a known place, not at a random time.
"""

import os
import sys
import time
from pathlib import Path

import pandas as pd
from dagster import DagsterInstance, asset, materialize

from churn_assets.resources.parquet_io import LocalParquetIOManager

ROWS = 20_000


def frame(version: int) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(ROWS)], "tenure": [version] * ROWS})


def _stall(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    time.sleep(600)  # the parent SIGKILLs us here


def _inject(mode: str, marker: Path) -> None:
    if mode == "stall-before-rename":  # every byte written to the temp file, not yet renamed
        real_replace = os.replace

        def replace(src, dst):
            if str(dst).endswith("customers.parquet"):
                _stall(marker)
            real_replace(src, dst)

        os.replace = replace
    elif mode == "stall-mid-write":  # half the bytes written to the temp file
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.handle.__exit__(*exc)

            def write(self, payload):
                self.handle.write(payload[: len(payload) // 2])
                self.handle.flush()
                _stall(marker)

        os.fdopen = lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k))


def main() -> None:
    base_dir, version = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3:
        _inject(sys.argv[3], Path(sys.argv[4]))

    @asset
    def customers() -> pd.DataFrame:
        return frame(version)

    result = materialize(
        [customers],
        resources={"io_manager": LocalParquetIOManager(base_dir=base_dir)},
        instance=DagsterInstance.get(),
    )
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
