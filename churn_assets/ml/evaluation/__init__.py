"""Holdout evaluation: metrics, the decision threshold, plots and the choice among candidates.

`metrics` (holdout metrics), `threshold` (the decision threshold), `plots` (PNG bytes),
`importance` (permutation importance), `ranking` (the holdout table) and `selection` (the best
candidate, on out-of-fold evidence); the public names are re-exported here.
"""

from churn_assets.ml.evaluation.importance import feature_importance_table, plot_feature_importance
from churn_assets.ml.evaluation.metrics import holdout_metrics, lift_top_decile
from churn_assets.ml.evaluation.plots import (
    plot_calibration,
    plot_confusion_matrix,
    plot_pr_curves,
    plot_roc_curves,
)
from churn_assets.ml.evaluation.ranking import compare_candidates, select_best
from churn_assets.ml.evaluation.selection import select_by_oof, selection_table
from churn_assets.ml.evaluation.threshold import THRESHOLD_OBJECTIVES, choose_threshold

__all__ = [
    "THRESHOLD_OBJECTIVES",
    "choose_threshold",
    "compare_candidates",
    "feature_importance_table",
    "holdout_metrics",
    "lift_top_decile",
    "plot_calibration",
    "plot_confusion_matrix",
    "plot_feature_importance",
    "plot_pr_curves",
    "plot_roc_curves",
    "select_best",
    "select_by_oof",
    "selection_table",
]
