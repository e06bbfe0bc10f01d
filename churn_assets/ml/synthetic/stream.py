"""The synthetic table in seeded blocks: churn drawn, faults injected, streamed to a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from churn_assets.ml.synthetic.customers import (
    CHURN_FUNCTIONS,
    DRIFT_PROFILES,
    calibrated_intercept,
    customer_block,
)

CHUNK_ROWS = 200_000


_BLOCK_ROWS = 50_000  # the unit of randomness: output does not depend on the caller's chunk size


def inject_faults(frame: pd.DataFrame, rng: np.random.Generator, rate: float) -> None:
    """Give a share `rate` of rows one data-quality fault each, in place."""
    n = len(frame)
    hit = np.flatnonzero(rng.random(n) < rate)
    kinds = rng.integers(0, 5, size=len(hit))
    nullable = ["monthly_charges", "contract", "payment_method"]
    for kind in range(5):
        rows = hit[kinds == kind]
        if not len(rows):
            continue
        if kind == 0:  # a missing value in a feature column
            for i, col in zip(rows, rng.choice(nullable, size=len(rows)), strict=True):
                frame.loc[i, col] = np.nan if col == "monthly_charges" else None
        elif kind == 1:  # a duplicate id: the row repeats an id seen earlier in the block
            donors = (rng.random(len(rows)) * rows).astype(np.int64)
            ids = frame["customer_id"].to_numpy()
            ids[rows] = ids[donors]
            frame["customer_id"] = ids
        elif kind == 2:  # an out-of-range value
            frame.loc[rows, "tenure"] = -rng.integers(1, 12, size=len(rows))
        elif kind == 3:  # a bad string in a numeric column
            frame.loc[rows, "total_charges"] = rng.choice(["n/a", "#VALUE!", "12,5"], len(rows))
        else:  # a missing target
            frame.loc[rows, "churn"] = None


def iter_synthetic(
    n_rows: int,
    seed: int = 42,
    churn_rate: float = 0.26,
    fault_rate: float = 0.0,
    drift: str = "none",
    chunk_rows: int = CHUNK_ROWS,
    churn_function: str = "logistic",
) -> Iterator[pd.DataFrame]:
    """Yield the synthetic table in chunks of about `chunk_rows` rows.

    Churn follows `churn_logit` with an intercept calibrated to `churn_rate`; a share `fault_rate`
    of rows carries one data-quality fault (a null, a duplicate id, an out-of-range tenure, a bad
    string in `total_charges` or a missing target). `churn_function` names the log-odds in
    `CHURN_FUNCTIONS` ("logistic", the default, or "interactions"). Raises ValueError for a
    non-positive row count, an unknown drift profile or an unknown churn function.
    """
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    if drift not in DRIFT_PROFILES:
        raise ValueError(f"unknown drift profile '{drift}'; choose one of {list(DRIFT_PROFILES)}")
    if churn_function not in CHURN_FUNCTIONS:
        raise ValueError(
            f"unknown churn function '{churn_function}'; choose one of {list(CHURN_FUNCTIONS)}"
        )
    logit_of = CHURN_FUNCTIONS[churn_function]
    intercept = calibrated_intercept(churn_rate, seed, churn_function)
    n_blocks = -(-n_rows // _BLOCK_ROWS)
    seeds = np.random.SeedSequence(seed).spawn(n_blocks)
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    for b, block_seed in enumerate(seeds):
        rng = np.random.default_rng(block_seed)
        start = b * _BLOCK_ROWS
        n = min(_BLOCK_ROWS, n_rows - start)
        frame = customer_block(rng, n, start + 1, drift)
        p = 1 / (1 + np.exp(-(logit_of(frame) + intercept)))
        frame["churn"] = np.where(rng.random(n) < p, "Yes", "No").astype(object)
        charges = frame["total_charges"].map("{:.2f}".format).astype(object)
        charges[frame["tenure"].to_numpy() == 0] = " "  # as the public telco file has it
        frame["total_charges"] = charges
        if fault_rate > 0:
            inject_faults(frame, rng, fault_rate)
        frame.index = pd.RangeIndex(start, start + n)
        pending.append(frame)
        pending_rows += n
        if pending_rows >= chunk_rows:
            yield pd.concat(pending) if len(pending) > 1 else pending[0]
            pending, pending_rows = [], 0
    if pending:
        yield pd.concat(pending) if len(pending) > 1 else pending[0]


def generate_synthetic(n_rows: int, **kwargs) -> pd.DataFrame:
    """The whole synthetic table in memory (see `iter_synthetic` for the parameters)."""
    frame = pd.concat(iter_synthetic(n_rows, **kwargs))
    return frame.reset_index(drop=True)


def write_synthetic(path: str | Path, n_rows: int, **kwargs) -> int:
    """Stream the synthetic table to a Parquet or CSV file chunk by chunk; returns rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    writer = None
    try:
        for i, chunk in enumerate(iter_synthetic(n_rows, **kwargs)):
            if path.suffix == ".csv":
                chunk.to_csv(path, mode="w" if i == 0 else "a", header=i == 0, index=False)
            else:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema))
            written += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return written
