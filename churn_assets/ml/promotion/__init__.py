"""Promotion statistics: the paired champion/challenger comparison, the gate and the model card.

`bootstrap` holds the paired bootstrap (vectorised in `resampling`), `gate` the promotion rules and
`card` the markdown model card; the public names are re-exported here.
"""

from churn_assets.ml.promotion.bootstrap import (
    AucComparison,
    bootstrap_auc_difference,
    bootstrap_metric_intervals,
)
from churn_assets.ml.promotion.card import DEFAULT_KNOWN_LIMITS, render_model_card
from churn_assets.ml.promotion.gate import GateConfig, PromotionDecision, decide_promotion

__all__ = [
    "DEFAULT_KNOWN_LIMITS",
    "AucComparison",
    "GateConfig",
    "PromotionDecision",
    "bootstrap_auc_difference",
    "bootstrap_metric_intervals",
    "decide_promotion",
    "render_model_card",
]
