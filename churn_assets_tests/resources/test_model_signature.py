"""The registered model accepts tables as users have them: `pd.read_csv` of the real BigML file
(int64 and float64 columns, area codes as numbers) scores through `mlflow.pyfunc` and through
MLflow's own scoring server (what `mlflow models serve` runs), where the inferred signature of
validated rows refused it."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from churn_assets.ml.features import build_preprocessor, feature_spec
from churn_assets.ml.models import build_pipeline
from churn_assets.ml.spec import load_spec
from churn_assets.ml.table_input import TableInput
from churn_assets.ml.validation import TARGET, typed_columns, validate
from churn_assets.resources.mlflow_models import SKOPS_TRUSTED_TYPES, log_pipeline


@pytest.fixture(scope="module")
def bigml(tmp_path_factory):
    """The BigML 80% file, its validated rows, a fitted Pipeline and a tracking store."""
    from churn_assets_tests.conftest import BIGML_DATA

    source = BIGML_DATA / "churn-bigml-80.csv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURN_SHARED_DATA", str(BIGML_DATA))
        spec = load_spec("bigml_telecom")
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)  # as a source is ingested
    valid = validate(raw, spec).valid
    types = typed_columns(valid, spec)
    features = feature_spec(spec, types)
    X, y = valid[features.inputs], valid[TARGET].astype(int)
    pipeline = build_pipeline("logistic_regression", build_preprocessor(features), y, 0).fit(X, y)
    store = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")
    mlflow.set_registry_uri(f"sqlite:///{store}/mlflow.db")
    experiment = mlflow.create_experiment("signature", artifact_location=str(store / "art"))
    yield source, X, pipeline, experiment
    mlflow.set_tracking_uri(None)


def test_pyfunc_scores_pd_read_csv_of_the_real_file(bigml):
    source, X, pipeline, experiment = bigml
    table = pd.read_csv(source)
    assert table["Account length"].dtype == np.int64 and table["Area code"].dtype == np.int64
    with mlflow.start_run(experiment_id=experiment):
        info = log_pipeline(pipeline, X)
    model = mlflow.pyfunc.load_model(info.model_uri)
    scored = np.asarray(model.predict(table))
    assert scored.shape == (len(table), 2)
    expected = pipeline.predict_proba(X)[:, 1]
    assert len(X) == len(table)
    np.testing.assert_allclose(scored[:, 1], expected, atol=1e-12)
    # The registered Pipeline (mlflow.sklearn) starts with the casting step and scores alike.
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert isinstance(loaded.steps[0][1], TableInput)
    np.testing.assert_allclose(loaded.predict_proba(table)[:, 1], expected, atol=1e-12)


def test_mlflow_scoring_server_takes_ints_and_floats_alike(bigml):
    from fastapi.testclient import TestClient
    from mlflow.pyfunc import scoring_server

    source, X, pipeline, experiment = bigml
    with mlflow.start_run(experiment_id=experiment):
        info = log_pipeline(pipeline, X)
    client = TestClient(scoring_server.init(mlflow.pyfunc.load_model(info.model_uri)))
    table = pd.read_csv(source).head(3).drop(columns=["Churn"])
    payload = {"dataframe_split": json.loads(table.to_json(orient="split", index=False))}
    as_ints = client.post("/invocations", json=payload)
    assert as_ints.status_code == 200, as_ints.text
    payload["dataframe_split"]["data"] = [
        [float(v) if isinstance(v, int) else v for v in row]
        for row in payload["dataframe_split"]["data"]
    ]
    as_floats = client.post("/invocations", json=payload)
    assert as_floats.status_code == 200, as_floats.text
    assert as_ints.json() == as_floats.json()


def test_the_inferred_signature_alone_refuses_the_file(bigml):
    """Why the step and the signature exist: the old way fails on the same table."""
    source, X, pipeline, experiment = bigml
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="plain",
            signature=infer_signature(X.head(5), pipeline.predict_proba(X.head(5))),
            pyfunc_predict_fn="predict_proba",
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    with pytest.raises(MlflowException, match="Incompatible input types"):
        mlflow.pyfunc.load_model(info.model_uri).predict(pd.read_csv(source))


def test_a_non_numeric_value_names_its_column(bigml):
    _, X, pipeline, _ = bigml
    step = TableInput(numeric=["Account length"], categorical=["State"]).fit(X)
    bad = pd.DataFrame({"Account length": ["12", "twelve"], "State": ["KS", 7]})
    with pytest.raises(ValueError, match="column 'Account length': value 'twelve'"):
        step.transform(bad)
    ok = step.transform(pd.DataFrame({"Account length": ["12", ""], "State": [415.0, " KS "]}))
    assert ok["Account length"].tolist()[0] == 12.0 and np.isnan(ok["Account length"].iloc[1])
    assert ok["State"].tolist() == ["415", "KS"]


def test_a_calibrated_model_round_trips_through_skops(bigml):
    """A calibrated model is logged as one (the casting step added, the map kept) and loads
    back through skops with only the trusted types, scoring as it did."""
    from churn_assets.ml.models.calibration import (
        CalibratedPipeline,
        ScoreCalibrator,
        with_calibrator,
    )

    source, X, pipeline, experiment = bigml
    y = pd.read_csv(source)["Churn"].astype(str).eq("True").astype(int).to_numpy()
    scores = pipeline.predict_proba(X)[:, 1]
    model = with_calibrator(pipeline, ScoreCalibrator.fit("isotonic", scores, y))
    expected = model.predict_proba(X)[:, 1]
    assert np.abs(expected - scores).max() > 0.05  # the map moves the scores
    with mlflow.start_run(experiment_id=experiment):
        info = log_pipeline(model, X)
    table = pd.read_csv(source)
    loaded = mlflow.sklearn.load_model(info.model_uri)
    assert isinstance(loaded, CalibratedPipeline) and isinstance(loaded.steps[0][1], TableInput)
    assert loaded.calibrator.method == "isotonic"
    np.testing.assert_allclose(loaded.predict_proba(table)[:, 1], expected, atol=1e-12)
    scored = np.asarray(mlflow.pyfunc.load_model(info.model_uri).predict(table))
    np.testing.assert_allclose(scored[:, 1], expected, atol=1e-12)
