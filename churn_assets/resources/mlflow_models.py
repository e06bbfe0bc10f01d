"""How a fitted Pipeline becomes an MLflow model: skops format, a signature, pinned requirements,
and the `churn_assets.ml` code it needs, so it loads wherever MLflow runs."""

import shutil
import tempfile
from functools import cache
from pathlib import Path

import pandas as pd

from churn_assets.resources.model_signature import TRUSTED_TYPES, servable_pipeline, table_signature

ML_PACKAGE = Path(__file__).resolve().parents[1]  # churn_assets/, whose ml/ the models need
# skops loads only the types listed here; no pickle is ever executed when a model is loaded.
SKOPS_TRUSTED_TYPES = [
    "churn_assets.ml.features.EngineeredFeatures",
    "churn_assets.ml.models.calibration.CalibratedPipeline",
    "churn_assets.ml.models.calibration.ScoreCalibrator",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
]


@cache
def model_requirements() -> list[str]:
    """Pinned requirements of a logged model, listed rather than inferred: MLflow's inference
    imports the model in a subprocess on every log, seconds per model."""
    from importlib.metadata import PackageNotFoundError, version

    def pinned(*names: str) -> str:  # the first of these distributions that is installed
        for name in names:
            try:
                return f"{name}=={version(name)}"
            except PackageNotFoundError:
                continue
        raise PackageNotFoundError(f"none of {', '.join(names)} is installed")

    # xgboost-cpu (Linux, Windows) and xgboost (macOS) provide the same `xgboost` module.
    packages = [("mlflow",), ("scikit-learn",), ("xgboost-cpu", "xgboost"), ("skops",)]
    return [pinned(*names) for names in [*packages, ("pandas",), ("numpy",), ("scipy",)]]


def log_pipeline(pipeline, X: pd.DataFrame, name: str = "model"):
    """Log the fitted Pipeline to MLflow's active run as a model over the raw columns (skops,
    `predict_proba`); returns MLflow's ModelInfo. Call it inside `MlflowResource.start_run`,
    through `TrackedRun.log_model` so it is retried like every other call.

    The model carries `churn_assets/ml` as code, so it loads (its EngineeredFeatures step
    included) wherever MLflow runs, without installing this project."""
    import mlflow

    pipeline = servable_pipeline(pipeline, X)  # accepts int and float columns alike
    example = X.head(5)
    signature = table_signature(pipeline, example)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "churn_assets"
        shutil.copytree(
            ML_PACKAGE / "ml", code / "ml", ignore=shutil.ignore_patterns("__pycache__")
        )
        (code / "__init__.py").write_text("")
        return mlflow.sklearn.log_model(
            pipeline,
            name=name,
            signature=signature,
            input_example=example,
            serialization_format="skops",
            skops_trusted_types=[*SKOPS_TRUSTED_TYPES, *TRUSTED_TYPES],
            pyfunc_predict_fn="predict_proba",
            pip_requirements=model_requirements(),
            code_paths=[str(code)],
        )
