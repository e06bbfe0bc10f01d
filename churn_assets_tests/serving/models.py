"""Small fitted churn Pipelines for the serving tests, built as training builds them.

Validated synthetic rows, `feature_spec` + `build_preprocessor` + `build_pipeline` with fixed
mid-space parameters (no search), then `servable_pipeline` as `log_pipeline` registers them.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
from sklearn.pipeline import Pipeline

from churn_assets.ml.features import build_preprocessor, feature_spec
from churn_assets.ml.models import build_pipeline
from churn_assets.ml.models.calibration import ScoreCalibrator, with_calibrator
from churn_assets.ml.spec import load_spec
from churn_assets.ml.synthetic import generate_synthetic
from churn_assets.ml.validation import TARGET, typed_columns, validate
from churn_assets.resources.model_signature import servable_pipeline

PARAMS = {
    "logistic_regression": {"model__C": 1.0},
    "random_forest": {"model__n_estimators": 40, "model__max_depth": 8},
    "gradient_boosting": {"model__max_iter": 60},
    "xgboost": {"model__n_estimators": 60, "model__max_depth": 4},
}


@cache
def validated(n_rows: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Validated synthetic rows and the model's raw input columns."""
    spec = load_spec("synthetic")
    valid = validate(generate_synthetic(n_rows, seed=seed, fault_rate=0.01), spec).valid
    types = typed_columns(valid, spec)
    features = feature_spec(spec, types)
    return valid, features.inputs


@cache
def fitted(family: str, n_rows: int = 3_000) -> Pipeline:
    """A fitted servable Pipeline of `family` (TableInput first), cached per test session."""
    spec = load_spec("synthetic")
    valid, inputs = validated(n_rows, 7)
    types = typed_columns(valid, spec)
    X, y = valid[inputs], valid[TARGET].astype(int)
    pipeline = build_pipeline(family, build_preprocessor(feature_spec(spec, types)), y, 0)
    pipeline.set_params(**PARAMS[family]).fit(X, y)
    return servable_pipeline(pipeline, X)


@cache
def calibrated(family: str, method: str) -> Pipeline:
    """`fitted(family)` with a `method` map (fitted on its own training scores: a test needs a
    map that moves the scores, not an honest one), as training registers a calibrated model."""
    pipeline = fitted(family)
    valid, inputs = validated(3_000, 7)
    scores = pipeline.predict_proba(valid[inputs])[:, 1]
    calibrator = ScoreCalibrator.fit(method, scores, valid[TARGET].astype(int).to_numpy())
    return with_calibrator(pipeline, calibrator)
