"""What a search scores and may spend (`SCORING`, `SearchBudget`) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import make_scorer, precision_score
from sklearn.pipeline import Pipeline

# Metric name -> scorer. Names match `evaluation.holdout_metrics` so CV and holdout line up.
# Brier and log loss are "neg_" scorers (higher is better); they are reported positive.
SCORING: dict[str, Any] = {
    "roc_auc": "roc_auc",
    "pr_auc": "average_precision",
    "f1": "f1",
    # zero_division=0: a trial that predicts no churner scores 0 instead of warning per fold.
    "precision": make_scorer(precision_score, zero_division=0),
    "recall": "recall",
    "accuracy": "accuracy",
    "brier": "neg_brier_score",
    "log_loss": "neg_log_loss",
}


NEGATED_METRICS = frozenset({"brier", "log_loss"})


REFIT_METRIC = "roc_auc"


@dataclass(frozen=True)
class SearchBudget:
    """How much work the hyperparameter search may do.

    The defaults train the four families on ~5k rows in about two minutes on two cores.
    `n_jobs` is handed to the search and to the out-of-fold predictions (parallel fits).
    `threads` caps the BLAS/OpenMP threads of each fit while training: HistGradientBoosting's
    OpenMP threads busy-wait, and on a machine whose cores are already busy they made fits
    up to 50 times slower; one thread per fit avoids that. None leaves the libraries' defaults.
    """

    n_iter: int = 8
    cv_folds: int = 5
    random_state: int = 42
    n_jobs: int = 1
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.n_iter < 1:
            raise ValueError(f"SearchBudget.n_iter must be >= 1, got {self.n_iter}")
        if self.cv_folds < 2:
            raise ValueError(f"SearchBudget.cv_folds must be >= 2, got {self.cv_folds}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"SearchBudget.threads must be >= 1 or None, got {self.threads}")


@dataclass
class TrainResult:
    """The outcome of tuning one family.

    Attributes:
        family: one of `FAMILIES`.
        pipeline: the best pipeline, refitted on the whole training split.
        best_params: the winning parameters as plain Python values, keys as in the search space
            (`model__...`), so `pipeline.set_params(**best_params)` reproduces them.
        cv_metrics: `cv_<metric>_mean` and `cv_<metric>_std` of the best trial for every metric
            in `SCORING`; brier and log_loss are positive (lower is better).
        trials: one row per trial: `trial`, `rank`, the parameters, `mean_<metric>`,
            `std_<metric>`, `mean_fit_seconds`.
        oof_proba: out-of-fold churn probabilities of the best parameters, aligned with the
            training rows.
        fit_seconds: wall time of search, refit and out-of-fold predictions.
        warnings: convergence warnings met while fitting (deduplicated, with counts). With
            `n_jobs > 1` the fold fits run in worker processes whose warnings are not seen here;
            the refit runs in-process and the final model is also checked directly.
        budget: the budget used.
    """

    family: str
    pipeline: Pipeline
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    trials: pd.DataFrame
    oof_proba: np.ndarray
    fit_seconds: float
    warnings: list[str] = field(default_factory=list)
    budget: SearchBudget = field(default_factory=SearchBudget)
