"""What a logged model accepts: tables as users have them (int and float columns alike).

MLflow's schema enforcement refuses int64 for a `double` column ("Can not safely convert int64 to
float64") and a number for a `string` one, so a model whose signature was inferred from validated
rows (floats and text) rejected `pd.read_csv` of the very file it was trained on. The registered
model is therefore the fitted Pipeline behind a `TableInput` step that casts the way validation
does, and its signature names every input column as required with MLflow's `AnyType`: the column
set is still enforced by `mlflow.pyfunc` and `mlflow models serve`, the types by the model.
"""

from __future__ import annotations

import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types.schema import AnyType, ColSpec, Schema
from sklearn.pipeline import Pipeline

from churn_assets.ml.models.calibration import same_kind
from churn_assets.ml.table_input import TableInput

# Types skops must trust to load the step added here (added to the training module's list).
TRUSTED_TYPES = ["churn_assets.ml.table_input.TableInput"]


def servable_pipeline(pipeline: Pipeline, X: pd.DataFrame) -> Pipeline:
    """`pipeline` (fitted on the validated columns of `X`) behind a `TableInput` step.

    Numeric columns of `X` are cast to float, the others to text. A pipeline that already starts
    with `TableInput` is returned as it is.
    """
    if isinstance(pipeline.steps[0][1], TableInput):
        return pipeline
    numeric = [str(c) for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [str(c) for c in X.columns if str(c) not in numeric]
    cast = TableInput(numeric=numeric, categorical=categorical).fit(X)
    # The same kind of Pipeline: a CalibratedPipeline keeps its calibration map.
    return same_kind(pipeline, [("input", cast), *pipeline.steps])


def table_signature(pipeline: Pipeline, example: pd.DataFrame) -> ModelSignature:
    """The signature: every input column required and of `AnyType`; outputs as inferred."""
    inferred = infer_signature(example, pipeline.predict_proba(example))
    inputs = Schema([ColSpec(AnyType(), name=str(c), required=True) for c in example.columns])
    return ModelSignature(inputs=inputs, outputs=inferred.outputs)
