"""Batch scoring: churn probability, decision at the promoted threshold and top reasons per row.

The one implementation used by the `batch_predictions` asset and by `benchmarks/scoring.py`, so
the benchmark times exactly what the asset runs. Pure: a fitted model and frames in, a frame and
the numbers of the scoring checks out.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.explain import top_reasons
from churn_assets.ml.explain_design import design_of, estimator_input
from churn_assets.ml.models.calibration import calibrate

SCORE = "churn_probability"
PREDICTED = "churn_predicted"
REASONS = "top_reasons"
VERSION = "model_version"
REASONS_FOR = ("positives", "all", "none")


@dataclass(frozen=True)
class ScoredBatch:
    """The scored rows and the statistics the scoring checks compare with their thresholds."""

    frame: pd.DataFrame
    rows_in: int

    @property
    def proba(self) -> np.ndarray:
        return self.frame[SCORE].to_numpy()

    @property
    def mean_score(self) -> float:
        return float(self.proba.mean()) if len(self.frame) else 0.0

    @property
    def predicted_churners(self) -> int:
        return int(self.frame[PREDICTED].sum())

    @property
    def null_share(self) -> float:
        return float(self.frame[SCORE].isna().mean()) if len(self.frame) else 0.0

    @property
    def volume_ok(self) -> bool:
        """One score per validated row, and at least one row."""
        return len(self.frame) == self.rows_in and len(self.frame) > 0

    @property
    def score_range_ok(self) -> bool:
        """Every score in [0, 1] and the scores not constant (a constant model is broken)."""
        p = self.proba
        return bool(len(p) and p.min() >= 0 and p.max() <= 1 and p.std() > 0)

    @property
    def score_range(self) -> str:
        p = self.proba
        return f"{p.min():.4f}..{p.max():.4f}" if len(p) else "empty"


def score_batch(
    model,
    batch: pd.DataFrame,
    threshold: float,
    version: str,
    id_column: str,
    baseline: dict[str, object],
    reasons_for: str = "positives",
    top_k: int = 3,
) -> ScoredBatch:
    """Score `batch` (validated rows holding the model's raw input columns and `id_column`).

    `reasons_for` picks the rows that get occlusion reasons against `baseline` (see
    `ml/explain.py`): 'positives' (predicted churners), 'all' or 'none'. Returns the frame with
    the id, score, 0/1 decision (score >= threshold), reasons ('' where none) and model version.
    Raises ValueError for an unknown `reasons_for`, KeyError when an input column is missing.
    """
    if reasons_for not in REASONS_FOR:
        raise ValueError(f"reasons_for must be one of {REASONS_FOR}, got '{reasons_for}'")
    inputs = list(model.feature_names_in_)
    # With reasons, the project's Pipelines preprocess the batch once for both the scores and
    # the occlusions (`ml/explain_design.py`); the scores are the Pipeline's own either way.
    design = design_of(model) if reasons_for != "none" else None
    if design is not None:
        engineered, matrix = design.transform(batch[inputs])
        scores = design.estimator.predict_proba(estimator_input(design.estimator, matrix))[:, 1]
        proba = calibrate(model, scores)  # what `model.predict_proba` gives
    else:
        proba = model.predict_proba(batch[inputs])[:, 1]
    out = pd.DataFrame(
        {
            id_column: batch[id_column].to_numpy(),
            SCORE: proba,
            PREDICTED: (proba >= threshold).astype("int8"),
            REASONS: "",
            VERSION: version,
        }
    )
    explain = {"all": out.index, "positives": out.index[out[PREDICTED] == 1]}.get(
        reasons_for, out.index[:0]
    )
    if len(explain):
        # By position: the output is numbered 0..n-1 whatever the batch's index is.
        positions = explain.to_numpy()
        rows = batch[inputs].iloc[positions]
        prepared = None if design is None else (engineered.iloc[positions], matrix[positions])
        reasons = top_reasons(
            model, rows, baseline, k=top_k, proba=proba[positions], prepared=prepared
        )
        out.loc[explain, REASONS] = reasons.to_numpy()
    return ScoredBatch(frame=out, rows_in=len(batch))


# Rows preprocessed at once by `churn_proba`: a preprocessed block of 250k rows is about 70 MiB,
# against 1 GiB and as much again in the steps' intermediates for the 4M training rows at once.
CHUNK_ROWS = 250_000


def churn_proba(model, X: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """`model.predict_proba(X)[:, 1]`, computed `chunk_rows` rows at a time (the fitted
    preprocessing and every family score each row on its own, so the values are the same).

    Raises ValueError if `chunk_rows` < 1.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if len(X) <= chunk_rows:
        return model.predict_proba(X)[:, 1]
    return np.concatenate(
        [
            model.predict_proba(X.iloc[start : start + chunk_rows])[:, 1]
            for start in range(0, len(X), chunk_rows)
        ]
    )
