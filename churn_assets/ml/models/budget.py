"""What a search scores and may spend (`SCORING`, `SearchBudget`, `SearchPlan`), what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    make_scorer,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from churn_assets.ml.models.calibration import SETTINGS as CALIBRATION_SETTINGS

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

# The same metrics computed from out-of-fold probabilities (label decisions at p > 0.5, which is
# what `predict` of every family does), positive; one call per fold.
FOLD_METRICS: dict[str, Any] = {
    "roc_auc": lambda y, p: roc_auc_score(y, p),
    "pr_auc": lambda y, p: average_precision_score(y, p),
    "f1": lambda y, p: f1_score(y, p > 0.5, zero_division=0),
    "precision": lambda y, p: precision_score(y, p > 0.5, zero_division=0),
    "recall": lambda y, p: recall_score(y, p > 0.5, zero_division=0),
    "accuracy": lambda y, p: accuracy_score(y, p > 0.5),
    "brier": lambda y, p: brier_score_loss(y, p),
    "log_loss": lambda y, p: log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
}

NEGATED_METRICS = frozenset({"brier", "log_loss"})


REFIT_METRIC = "roc_auc"


@dataclass(frozen=True)
class SearchPlan:
    """What a budget means for a table of `rows` rows (see `SearchBudget.plan`).

    Attributes:
        rows: training rows.
        search_rows: rows of the last halving rung (a seeded subsample beyond `max_search_rows`).
        forest_max_samples: share of the rows each forest tree draws (None: all of them), so a
            tree of the refit is the size of a tree the search tuned.
        forest_trees: trees of the forest out of fold and in the refit.
    """

    rows: int
    search_rows: int
    forest_max_samples: float | None
    forest_trees: int


@dataclass(frozen=True)
class SearchBudget:
    """How much work the hyperparameter search may do.

    The search is successive halving over rows (`HalvingRandomSearchCV`): `n_iter` seeded random
    candidates on a few rows, the best third (`factor`) on three times as many, until the last
    rung, which uses `min(rows, max_search_rows)` rows. Boosters stop early on an inner split; the
    forest searches with `search_trees` trees and keeps more out of fold and in the refit: as
    many as `forest_tree_rows` (tree x rows each tree draws) pays for, between
    `min(min_refit_trees, refit_trees)` and `refit_trees`: 500 up to 3,200 training rows (on a
    small table the forest's seed moves its test AUC most; 500 trees halve that spread), fewer
    beyond, 100 from 16,000 rows on (`make run`, and the 1M job whose trees draw 50k rows
    each). The defaults train the four families on 16k rows in about a minute on two cores.

    `n_jobs` is handed to the search and to the out-of-fold predictions (parallel fits).
    `threads` caps the BLAS/OpenMP threads of each fit while training: HistGradientBoosting's
    OpenMP threads busy-wait, and on a machine whose cores are already busy they made fits
    up to 50 times slower; one thread per fit avoids that. None leaves the libraries' defaults.

    `calibration`: "auto" chooses a map from scores to probabilities on the out-of-fold scores
    (none, sigmoid or isotonic; `ml/models/calibration.py`); "none" keeps the scores as the
    estimator gives them, to compare.
    """

    n_iter: int = 9
    cv_folds: int = 3
    random_state: int = 42
    n_jobs: int = 1
    threads: int | None = 1
    factor: int = 3
    max_search_rows: int = 50_000
    search_trees: int = 30
    refit_trees: int = 500
    min_refit_trees: int = 100
    forest_tree_rows: int = 1_600_000
    calibration: str = "auto"

    def __post_init__(self) -> None:
        if self.calibration not in CALIBRATION_SETTINGS:
            raise ValueError(
                f"SearchBudget.calibration must be 'auto' or 'none', got {self.calibration!r}"
            )
        if self.n_iter < 1:
            raise ValueError(f"SearchBudget.n_iter must be >= 1, got {self.n_iter}")
        if self.cv_folds < 2:
            raise ValueError(f"SearchBudget.cv_folds must be >= 2, got {self.cv_folds}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"SearchBudget.threads must be >= 1 or None, got {self.threads}")
        if self.factor < 2:
            raise ValueError(f"SearchBudget.factor must be >= 2, got {self.factor}")
        for name in (
            "max_search_rows",
            "search_trees",
            "refit_trees",
            "min_refit_trees",
            "forest_tree_rows",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"SearchBudget.{name} must be >= 1, got {getattr(self, name)}")

    def plan(self, rows: int) -> SearchPlan:
        """The budget applied to `rows` training rows: the search's rows and the forest's
        per-tree sample grow with the table up to `max_search_rows`, then stay there; the
        forest's trees shrink as each tree's rows grow (`forest_tree_rows`)."""
        search_rows = min(rows, self.max_search_rows)
        share = None if rows <= self.max_search_rows else self.max_search_rows / rows
        paid = self.forest_tree_rows // max(search_rows, 1)
        trees = min(self.refit_trees, max(self.min_refit_trees, paid))
        return SearchPlan(
            rows=rows, search_rows=search_rows, forest_max_samples=share, forest_trees=trees
        )


@dataclass
class TrainResult:
    """The outcome of tuning one family.

    Attributes:
        family: one of `FAMILIES`.
        pipeline: the best pipeline, refitted on the whole training split; a
            `CalibratedPipeline` applying the chosen map unless calibration is off.
        best_params: the winning parameters as plain Python values, keys as in the search space
            (`model__...`), plus what the refit fixed (the forest's `n_estimators` and
            `max_samples`, XGBoost's `n_estimators` found by early stopping), so
            `build_pipeline(...).set_params(**best_params)` reproduces the refit's parameters.
        cv_metrics: `cv_<metric>_mean` and `cv_<metric>_std` over the folds of the out-of-fold
            predictions of the best parameters, for every metric in `SCORING`; brier and
            log_loss are positive (lower is better). ROC AUC and PR AUC are the raw scores'
            (the calibration map keeps their order), the others the calibrated scores', each
            row mapped by a map fitted on other rows' scores.
        trials: one row per candidate and rung: `trial`, `rung`, `n_resources` (rows),
            `rank` (within its rung), the parameters, `mean_roc_auc`, `std_roc_auc`,
            `mean_fit_seconds`, `fit_seconds` (all folds).
        rungs: one row per rung: `rung`, `n_resources`, `candidates`, `fit_seconds`.
        oof_proba: out-of-fold churn probabilities of the best parameters, aligned with the
            training rows, through the calibration map the model applies (none when off).
        calibration: `Calibration.record()`: the method, why, cross-validated out-of-fold log
            loss and Brier before and after, and the fitted map (the final fit applies it).
        fit_seconds: wall time of search, refit and out-of-fold predictions.
        warnings: convergence warnings met while fitting (deduplicated, with counts). With
            `n_jobs > 1` the fold fits run in worker processes whose warnings are not seen here;
            the refit runs in-process and the final model is also checked directly.
        budget: the budget used.
        trees: trees of the refit model (boosting rounds kept by early stopping, forest
            trees); None for logistic regression. `oof_trees`: the same per fold.
        search_seconds / oof_seconds / refit_seconds: where `fit_seconds` went.
    """

    family: str
    pipeline: Pipeline
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    trials: pd.DataFrame
    oof_proba: np.ndarray
    fit_seconds: float
    calibration: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    budget: SearchBudget = field(default_factory=SearchBudget)
    rungs: pd.DataFrame = field(default_factory=pd.DataFrame)
    trees: int | None = None
    oof_trees: list[int | None] = field(default_factory=list)
    search_seconds: float = 0.0
    oof_seconds: float = 0.0
    refit_seconds: float = 0.0
