"""The final fit: a family's tuned parameters refitted on every labeled row (train + holdout).

Two fitted models come out of training a family. The *evaluated* model (`TrainResult.pipeline`)
is fitted on the training split only; the holdout, the out-of-fold scores and the promotion gate
judge it, so no evidence comes from rows it saw. The *final* model has the same parameters,
fitted on the training and holdout rows together; it is the one registered and served, since it
learned from a fifth more rows. Its quality is the evaluated model's evidence, carried over, and
so is its calibration map: fitted on the training split's out-of-fold scores, as
`CalibratedClassifierCV(ensemble=False)` applies one map to the model refitted on all rows.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from churn_assets.ml.models.calibration import ScoreCalibrator, with_calibrator
from churn_assets.ml.models.fit_checks import check_training_data
from churn_assets.ml.models.zoo import build_pipeline


def refit_all_rows(
    family: str,
    best_params: dict[str, Any],
    preprocessor: BaseEstimator,
    X_all: pd.DataFrame,
    y_all: pd.Series,
    random_state: int = 42,
    calibration: dict[str, Any] | None = None,
) -> Pipeline:
    """Fit a fresh pipeline of `family` with its tuned `best_params` on all labeled rows.

    Args:
        family: one of `FAMILIES`.
        best_params: the tuned parameters (`model__` keys), as a TrainResult records them.
        preprocessor: the unfitted preprocessing the search used (cloned).
        X_all: raw feature columns of every labeled row (training and holdout splits).
        y_all: the 0/1 target aligned with `X_all`.
        random_state: the seed the search used.
        calibration: the TrainResult's `calibration` record; its map (fitted on the training
            split's out-of-fold scores) is applied to the final model too. None or a record
            without a map: no calibration.

    Returns:
        The fitted pipeline (one BLAS/OpenMP thread per fit, as in the search); a
        `CalibratedPipeline` when `calibration` carries a map.

    Raises:
        ValueError: unknown family or parameter, misaligned rows, labels that are not 0/1, or
            a single class.
    """
    y = check_training_data(X_all, y_all, cv_folds=2)
    pipeline = build_pipeline(family, preprocessor, y, random_state)
    pipeline.set_params(**best_params)
    with threadpool_limits(1):
        pipeline.fit(X_all, y)
    found = (calibration or {}).get("calibrator")
    return with_calibrator(pipeline, None if found is None else ScoreCalibrator.from_record(found))
