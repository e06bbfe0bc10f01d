"""A seeded, telco-like synthetic churn table with a known churn function.

Churn is drawn from a logistic model of the columns (`churn_logit`), so the best possible ROC AUC is
bounded well below 1.0 (about 0.85-0.90 for a good model). Rows are generated in chunks from a
`numpy.random.SeedSequence`, so any number of rows comes out with bounded memory and the same seed
always gives the same table, whatever the chunk size.

`total_charges` is text, as in the public IBM telco file: blank for brand-new customers, and the
injected faults put bad strings there, so the loader's coercion is exercised on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

CONTRACTS = np.array(["Month-to-month", "One year", "Two year"])
INTERNET = np.array(["DSL", "Fiber optic", "No"])
PAYMENTS = np.array(
    ["Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"]
)
YES_NO = np.array(["No", "Yes"])
CHUNK_ROWS = 200_000
SIGNAL = 1.6  # scales the log-odds: the oracle reaches ROC AUC about 0.88, a good model 0.87
_BLOCK_ROWS = 50_000  # the unit of randomness: output does not depend on the caller's chunk size

# Drift profiles for the monitoring demos: how far each input moves.
_NO_DRIFT = {
    "tenure_scale": 1.0,
    "charge_shift": 0.0,
    "monthly_contract_boost": 0.0,
    "calls": 0.0,
    "senior": 0.16,
    "fiber": 0.44,
    "electronic_check": 0.34,
    "paperless": 0.59,
}
DRIFT_PROFILES = {
    "none": _NO_DRIFT,
    "mild": {**_NO_DRIFT, "tenure_scale": 0.85, "charge_shift": 5.0, "calls": 0.3},
    # Moves most columns, so Evidently-style dataset drift (half the columns) is found.
    "strong": {
        **_NO_DRIFT,
        "tenure_scale": 0.5,
        "charge_shift": 20.0,
        "monthly_contract_boost": 0.3,
        "calls": 1.5,
        "senior": 0.4,
        "fiber": 0.7,
        "electronic_check": 0.65,
        "paperless": 0.9,
    },
}


def _payment_p(profile: dict) -> list[float]:
    electronic = profile["electronic_check"]
    rest = np.array([0.23, 0.22, 0.21]) / 0.66 * (1 - electronic)
    return [electronic, *rest]


def churn_logit(frame: pd.DataFrame) -> np.ndarray:
    """The known churn function (log-odds before the intercept) of the clean columns."""
    contract = frame["contract"].to_numpy()
    internet = frame["internet_service"].to_numpy()
    logit = SIGNAL * (
        -1.1 * np.log1p(frame["tenure"].to_numpy() / 6.0)
        + 0.9 * (contract == "Month-to-month")
        - 0.9 * (contract == "Two year")
        + 0.55 * (internet == "Fiber optic")
        - 0.5 * (internet == "No")
        + 0.45 * (frame["payment_method"].to_numpy() == "Electronic check")
        + 0.012 * (frame["monthly_charges"].to_numpy() - 65.0)
        + 0.3 * frame["support_calls"].to_numpy()
        - 0.35 * (frame["tech_support"].to_numpy() == "Yes")
        + 0.25 * frame["senior_citizen"].to_numpy()
        + 0.2 * (frame["paperless_billing"].to_numpy() == "Yes")
    )
    return logit


def _block(rng: np.random.Generator, n: int, start: int, drift: str) -> pd.DataFrame:
    profile = DRIFT_PROFILES[drift]
    senior = (rng.random(n) < profile["senior"]).astype(np.int64)
    partner = YES_NO[(rng.random(n) < 0.48).astype(int)]
    dependents = YES_NO[(rng.random(n) < 0.3).astype(int)]
    tenure = np.minimum(72, np.floor(rng.exponential(28.0 * profile["tenure_scale"], n)))
    p_monthly = min(0.95, 0.55 + profile["monthly_contract_boost"])
    contract_p = [p_monthly, (1 - p_monthly) * 0.47, (1 - p_monthly) * 0.53]
    contract = CONTRACTS[rng.choice(3, size=n, p=contract_p)]
    fiber = profile["fiber"]
    internet = INTERNET[rng.choice(3, size=n, p=[(1 - fiber) * 0.6, fiber, (1 - fiber) * 0.4])]
    base_charge = np.where(internet == "Fiber optic", 85.0, np.where(internet == "DSL", 58.0, 22.0))
    monthly = np.clip(base_charge + profile["charge_shift"] + rng.normal(0, 12.0, n), 18.0, 150.0)
    total = np.round(tenure * monthly * rng.uniform(0.93, 1.07, n), 2)
    tech = np.where(
        internet == "No", "No internet service", YES_NO[(rng.random(n) < 0.35).astype(int)]
    )
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{start + i:08d}" for i in range(n)],
            "gender": np.where(rng.random(n) < 0.5, "Female", "Male"),
            "senior_citizen": senior,
            "partner": partner,
            "dependents": dependents,
            "tenure": tenure.astype(np.int64),
            "contract": contract,
            "internet_service": internet,
            "tech_support": tech,
            "payment_method": PAYMENTS[rng.choice(4, size=n, p=_payment_p(profile))],
            "paperless_billing": YES_NO[(rng.random(n) < profile["paperless"]).astype(int)],
            "monthly_charges": np.round(monthly, 2),
            "total_charges": total,
            "support_calls": rng.poisson(1.2 + profile["calls"], n).astype(np.int64),
        }
    )
    return frame


def _intercept(churn_rate: float, seed: int) -> float:
    # Bisection on a fixed calibration sample so the intercept is the same for any n_rows.
    sample = _block(np.random.default_rng([seed, 7]), 40_000, 0, "none")
    logit = churn_logit(sample)
    low, high = -10.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        rate = float(np.mean(1 / (1 + np.exp(-(logit + mid)))))
        low, high = (mid, high) if rate < churn_rate else (low, mid)
    return (low + high) / 2


def _inject_faults(frame: pd.DataFrame, rng: np.random.Generator, rate: float) -> None:
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
) -> Iterator[pd.DataFrame]:
    """Yield the synthetic table in chunks of about `chunk_rows` rows.

    Churn follows `churn_logit` with an intercept calibrated to `churn_rate`; a share `fault_rate`
    of rows carries one data-quality fault (a null, a duplicate id, an out-of-range tenure, a bad
    string in `total_charges` or a missing target). Raises ValueError for a non-positive row count
    or an unknown drift profile.
    """
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    if drift not in DRIFT_PROFILES:
        raise ValueError(f"unknown drift profile '{drift}'; choose one of {list(DRIFT_PROFILES)}")
    intercept = _intercept(churn_rate, seed)
    n_blocks = -(-n_rows // _BLOCK_ROWS)
    seeds = np.random.SeedSequence(seed).spawn(n_blocks)
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    for b, block_seed in enumerate(seeds):
        rng = np.random.default_rng(block_seed)
        start = b * _BLOCK_ROWS
        n = min(_BLOCK_ROWS, n_rows - start)
        frame = _block(rng, n, start + 1, drift)
        p = 1 / (1 + np.exp(-(churn_logit(frame) + intercept)))
        frame["churn"] = np.where(rng.random(n) < p, "Yes", "No").astype(object)
        charges = frame["total_charges"].map("{:.2f}".format).astype(object)
        charges[frame["tenure"].to_numpy() == 0] = " "  # as the public telco file has it
        frame["total_charges"] = charges
        if fault_rate > 0:
            _inject_faults(frame, rng, fault_rate)
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
