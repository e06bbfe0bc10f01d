"""The model zoo: four estimator families, their search spaces and a seeded halving search.

Every trained model is one scikit-learn `Pipeline` of `("preprocess", <preprocessor>)` and
`("model", <estimator>)`, so it takes the raw feature columns and returns churn probabilities.
`train_family` tunes one family by successive halving over rows (`HalvingRandomSearchCV`) over
stratified folds, refits the best parameters on the whole training split, and also returns
out-of-fold probabilities of those parameters so a decision threshold can be chosen without
touching the holdout. The boosters stop early; the forest searches with fewer trees than it keeps.

The target must be binary with 0 (stays) and 1 (churns); booleans are accepted.

`zoo` builds the pipelines, `budget` says what a search scores, may spend and returns, `search`
runs it, `trials` tabulates its rungs, `calibration` chooses and applies the map from scores to
probabilities (`CalibratedPipeline`), `refit` fits the final model on every labeled row;
the public names are re-exported here.
"""

from churn_assets.ml.models.budget import (
    NEGATED_METRICS,
    REFIT_METRIC,
    SCORING,
    SearchBudget,
    SearchPlan,
    TrainResult,
)
from churn_assets.ml.models.calibration import (
    CalibratedPipeline,
    ScoreCalibrator,
    choose_calibration,
)
from churn_assets.ml.models.search import train_family
from churn_assets.ml.models.zoo import FAMILIES, build_pipeline, default_search_space

__all__ = [
    "FAMILIES",
    "CalibratedPipeline",
    "ScoreCalibrator",
    "choose_calibration",
    "NEGATED_METRICS",
    "REFIT_METRIC",
    "SCORING",
    "SearchBudget",
    "SearchPlan",
    "TrainResult",
    "build_pipeline",
    "default_search_space",
    "train_family",
]
