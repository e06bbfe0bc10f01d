"""The model registry against a real local MLflow store: the gate, unloadable versions, rollback,
the manual promote/rollback jobs and the CLI.

Versions are small logistic-regression Pipelines fitted here on the `features` asset (one on
shuffled labels is the clearly worse one), logged with the training code's `log_pipeline` and
registered like `promoted_model` does, so each test builds its registry in seconds.
"""

import json
import os
import runpy
import shutil
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    build_output_context,
    load_assets_from_modules,
    materialize,
)
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import churn_assets.definitions
from churn_assets.cli import main
from churn_assets.defs import (
    evaluation,
    features,
    ingestion,
    promotion_jobs,
    registry,
    training,
    validation,
)
from churn_assets.ml.evaluation.segments import label_frame
from churn_assets.ml.features import FeatureSpec, build_preprocessor, split_xy
from churn_assets.ml.promotion import GateConfig
from churn_assets.ml.spec_decisions import SegmentSpec
from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.git import GitResource
from churn_assets.resources.metrics import MetricsResource
from churn_assets.resources.mlflow_models import log_pipeline
from churn_assets.resources.mlflow_tracking import MlflowResource
from churn_assets.resources.model_evidence import EVIDENCE_TAG
from churn_assets.resources.model_registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError
from churn_assets.resources.parquet_io import LocalParquetIOManager

MODEL_NAME = "churn-classifier"
THRESHOLD = 0.5
GATE = registry.GateSettings().gate()


def stored_spec(assets: Path) -> FeatureSpec:
    return FeatureSpec.from_dict(json.loads((assets / "feature_spec.json").read_text()))


def stored_split(assets: Path, side: str) -> tuple[pd.DataFrame, pd.Series]:
    """One side of the stored `features` table, split by the stored `feature_spec`."""
    return split_xy(pd.read_parquet(assets / "features.parquet"), stored_spec(assets), side)


@dataclass
class Home:
    """A local deployment's files, laid out as `build_resources` does for CHURN_HOME."""

    path: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.path}/mlflow.db"

    def tracking(self) -> MlflowResource:
        return MlflowResource(
            tracking_uri=self.uri, artifact_location=str(self.path / "mlartifacts")
        )

    def resources(self) -> dict:
        return {
            "io_manager": LocalParquetIOManager(base_dir=str(self.path / "assets")),
            "dataset": DatasetResource(spec="synthetic", n_rows=2_000),
            "mlflow_tracking": self.tracking(),
            "metrics": MetricsResource(),
            "git": GitResource(),
        }

    def registry(self) -> ModelRegistry:
        return ModelRegistry(MlflowClient(self.uri, self.uri), MODEL_NAME)

    def holdout(self) -> tuple[pd.DataFrame, pd.Series]:
        return stored_split(self.path / "assets", "test")

    def add_version(self, pipeline: Pipeline, X: pd.DataFrame) -> str:
        """Log `pipeline` as the training assets do and register it (no promotion)."""
        with self.tracking().start_run("test_candidate", {"purpose": "registry test"}) as run:
            info = run.log_model(log_pipeline, pipeline, X)
        tags = {"family": "logistic_regression", "threshold": THRESHOLD}
        return self.registry().register(info.model_uri, run.info.run_id, tags)

    def break_version(self, version: str) -> None:
        """Delete the version's model files on disk, as a lost artifact store would."""
        client = MlflowClient(self.uri, self.uri)
        folder = Path(client.get_model_version_download_uri(MODEL_NAME, version))
        assert folder.is_dir() and str(folder).startswith(str(self.path)), folder
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def data_assets(tmp_path_factory) -> Path:
    """raw_dataset -> features materialized once, plus a stored `model_evaluation` record."""
    base = tmp_path_factory.mktemp("registry_data") / "assets"
    result = materialize(
        load_assets_from_modules([ingestion, validation, features]),
        resources={
            "io_manager": LocalParquetIOManager(base_dir=str(base)),
            "dataset": DatasetResource(spec="synthetic", n_rows=2_000),
            "metrics": MetricsResource(),
        },
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    # promote_version takes model_evaluation as an input (lineage) but reads nothing from it.
    LocalParquetIOManager(base_dir=str(base)).handle_output(
        build_output_context(asset_key=AssetKey("model_evaluation")),
        {"best": "logistic_regression", "candidates": {}},
    )
    return base


@pytest.fixture(scope="module")
def pipelines(data_assets) -> dict:
    """A good pipeline, one fitted on shuffled labels (clearly worse), and the training rows."""
    X, y = stored_split(data_assets, "train")
    fspec = stored_spec(data_assets)

    def fit(labels):
        model = LogisticRegression(class_weight="balanced", max_iter=1000)
        return Pipeline([("preprocess", build_preprocessor(fspec)), ("model", model)]).fit(
            X, labels
        )

    shuffled = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), index=y.index)
    return {"good": fit(y), "bad": fit(shuffled), "X": X}


@pytest.fixture
def home(data_assets) -> Home:
    """An empty MLflow store at the test's CHURN_HOME (set by conftest), with the data assets."""
    home = Home(Path(os.environ["CHURN_HOME"]))
    shutil.copytree(data_assets, home.path / "assets")
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(home.uri)  # model URIs resolve through MLflow's global URIs
    mlflow.set_registry_uri(home.uri)
    yield home
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry_uri)


def version_with(home: Home, pipelines: dict, kind: str) -> str:
    return home.add_version(pipelines[kind], pipelines["X"])


def champion_of(home: Home, *versions: str) -> str:
    """Register and promote each version in turn (every one passes the gate); the last wins."""
    reg, (X, y) = home.registry(), home.holdout()
    for version in versions:
        outcome = reg.promote(version, X, y, THRESHOLD, GATE)
        assert outcome.promoted, outcome.reason
    return reg.alias_version(CHAMPION)


def test_a_worse_challenger_is_refused_with_metric_value_and_threshold(home, pipelines):
    reg, (X, y) = home.registry(), home.holdout()
    good = version_with(home, pipelines, "good")
    first = reg.promote(good, X, y, THRESHOLD, GATE)
    assert first.promoted and first.previous_champion is None
    bad = version_with(home, pipelines, "bad")
    outcome = reg.promote(bad, X, y, THRESHOLD, GATE)
    assert not outcome.promoted
    auc = outcome.metrics["roc_auc"]
    assert auc < 0.65  # shuffled labels: close to chance
    assert f"roc_auc {auc:.4f} is below the minimum 0.7500" in outcome.reason
    assert outcome.evidence["thresholds"]["roc_auc"] == {
        "observed": auc,
        "min": 0.75,
        "passed": False,
    }
    comparison = outcome.evidence["champion_comparison"]
    assert comparison["n_resamples"] >= 1000 and comparison["ci_high"] < 0
    assert "may be worse than the champion" in outcome.reason
    assert reg.alias_version(CHAMPION) == good and reg.alias_version(CHALLENGER) == bad
    assert {r["version"]: r["aliases"] for r in reg.versions()} == {
        good: [CHAMPION],
        bad: [CHALLENGER],
    }
    assert outcome.champion_version == good and outcome.previous_champion == good
    tags = reg.version_tags(bad)
    assert tags["promotion_decision"] == "refused" and tags["previous_champion"] == good
    assert float(tags["holdout_roc_auc"]) == pytest.approx(auc, abs=1e-6)


def refitted_version(home: Home, final: Pipeline, evidence: Pipeline, X: pd.DataFrame) -> str:
    """Register `final` as promoted_model does after a refit: `evidence` named by its tag."""
    with home.tracking().start_run("final_fit", {"purpose": "registry test"}) as run:
        judged = run.log_model(log_pipeline, evidence, X, name="evaluated")
        served = run.log_model(log_pipeline, final, X)
    tags = {"family": "logistic_regression", "threshold": THRESHOLD, EVIDENCE_TAG: judged.model_uri}
    return home.registry().register(served.model_uri, run.info.run_id, tags)


def test_the_gate_judges_a_refitted_version_by_its_evidence_model(home, pipelines):
    reg, (X_hold, y_hold) = home.registry(), home.holdout()
    X_train, y_train = stored_split(home.path / "assets", "train")
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(stored_spec(home.path / "assets"))),
            ("model", LogisticRegression(class_weight="balanced", max_iter=1000)),
        ]
    )
    # Fitted on the holdout itself: its holdout scores would flatter it.
    seen_holdout = model.fit(pd.concat([X_train, X_hold]), pd.concat([y_train, y_hold]))
    # Served: the good model; evidence: the shuffled-label one. Judged by the evidence, refused.
    masked = refitted_version(home, pipelines["good"], pipelines["bad"], pipelines["X"])
    outcome = reg.promote(masked, X_hold, y_hold, THRESHOLD, GATE)
    assert not outcome.promoted and outcome.metrics["roc_auc"] < 0.65, outcome.reason
    # The champion is compared by its evidence model too, not by a fit that saw the holdout.
    champion = refitted_version(home, seen_holdout, pipelines["good"], pipelines["X"])
    assert reg.promote(champion, X_hold, y_hold, THRESHOLD, GATE).promoted
    challenger = version_with(home, pipelines, "good")
    outcome = reg.promote(challenger, X_hold, y_hold, THRESHOLD, GATE)
    assert outcome.evidence["champion_comparison"]["diff"] == 0.0  # the very same evidence
    assert outcome.promoted and reg.alias_version(CHAMPION) == challenger
    assert float(reg.version_tags(champion)["holdout_roc_auc"]) == pytest.approx(
        outcome.metrics["roc_auc"], abs=1e-6
    )


def test_a_version_whose_evidence_model_is_gone_is_refused(home, pipelines):
    reg, (X, y) = home.registry(), home.holdout()
    version = refitted_version(home, pipelines["good"], pipelines["good"], pipelines["X"])
    reg.tag_version(version, {EVIDENCE_TAG: "models:/m-doesnotexist"})
    outcome = reg.promote(version, X, y, THRESHOLD, GATE, force=True)
    assert not outcome.promoted
    assert f"the evidence model of version {version} of '{MODEL_NAME}'" in outcome.reason


def test_an_unloadable_champion_leaves_thresholds_only_and_never_an_unloadable_champion(
    home, pipelines
):
    reg, (X, y) = home.registry(), home.holdout()
    good = champion_of(home, version_with(home, pipelines, "good"))

    # A challenger whose files are gone is refused, even forced; the champion does not move.
    missing = version_with(home, pipelines, "good")
    home.break_version(missing)
    outcome = reg.promote(missing, X, y, THRESHOLD, GATE, force=True)
    assert not outcome.promoted and f"version {missing} of '{MODEL_NAME}' does not load" in (
        outcome.reason
    )
    assert reg.alias_version(CHAMPION) == good

    # The champion's files are gone: the next challenger is judged on the thresholds alone.
    home.break_version(good)
    with pytest.raises(RegistryError, match="does not load"):
        reg.load(good)
    challenger = version_with(home, pipelines, "good")
    outcome = reg.promote(challenger, X, y, THRESHOLD, GATE)
    assert outcome.promoted and outcome.previous_champion == good
    assert f"(champion v{good} does not load; judged on thresholds only)" in outcome.reason
    assert "does not load" in outcome.evidence["champion_unloadable"]
    assert outcome.evidence["champion_comparison"] is None
    assert reg.alias_version(CHAMPION) == challenger
    assert reg.load(challenger).predict_proba(X.head()).shape == (5, 2)


def test_rollback_skips_versions_that_do_not_load_and_fails_when_none_does(home, pipelines):
    reg = home.registry()
    v1, v2, v3, v4 = (version_with(home, pipelines, "good") for _ in range(4))
    assert champion_of(home, v1, v2, v3, v4) == v4

    home.break_version(v3)
    assert reg.rollback() == (v4, v2)  # v3 does not load: skipped
    assert reg.alias_version(CHAMPION) == v2
    assert reg.version_tags(v2)["rolled_back_from"] == v4

    home.break_version(v1)
    with pytest.raises(
        RegistryError, match=f"no earlier champion that loads; champion stays at v{v2}"
    ):
        reg.rollback()
    assert reg.alias_version(CHAMPION) == v2


def test_promote_and_rollback_jobs(home, pipelines):
    reg = home.registry()
    defs = Definitions(
        assets=load_assets_from_modules([ingestion, validation, features, training, evaluation]),
        jobs=[promotion_jobs.promote_model, promotion_jobs.rollback_model],
        resources=home.resources(),
    )

    def execute(job_name: str, run_config: dict | None = None):
        return defs.resolve_job_def(job_name).execute_in_process(
            run_config=run_config, instance=DagsterInstance.ephemeral(), raise_on_error=False
        )

    def promote(version: str, force: bool = False):
        config = {"version": version, "force": force}
        return execute("promote_model", {"ops": {"promote_version": {"config": config}}})

    first = champion_of(home, version_with(home, pipelines, "good"))
    good = version_with(home, pipelines, "good")
    bad = version_with(home, pipelines, "bad")

    result = promote(good)
    assert result.success
    assert result.output_for_node("promote_version")["promoted"] is True
    assert reg.alias_version(CHAMPION) == good and reg.version_tags(good)["forced"] == "False"

    result = promote(bad)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failure.event_specific_data.error)
    assert f"v{bad} was not promoted" in message and "is below the minimum 0.7500" in message
    assert reg.alias_version(CHAMPION) == good

    result = promote(bad, force=True)
    assert result.success
    assert reg.alias_version(CHAMPION) == bad
    tags = reg.version_tags(bad)
    assert tags["forced"] == "True" and tags["promotion_reason"].startswith("forced by operator")

    result = execute("rollback_model")
    assert result.success and result.output_for_node("rollback_champion") == {
        "from": bad,
        "to": good,
    }
    assert reg.alias_version(CHAMPION) == good != first


def test_cli_lists_promotes_and_rolls_back_the_store_under_churn_home(
    home, pipelines, monkeypatch, capsys
):
    # ensure_local_home() sets MLFLOW_TRACKING_URI in os.environ; record its absence to undo it.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    # `defs` binds its resources when churn_assets.definitions is first imported, maybe under
    # another CHURN_HOME; build it again under this one, as a fresh `churn-assets` process would.
    fresh = runpy.run_path(churn_assets.definitions.__file__)["defs"]
    monkeypatch.setattr(churn_assets.definitions, "defs", fresh)
    reg = home.registry()
    first = champion_of(home, version_with(home, pipelines, "good"))
    second = version_with(home, pipelines, "good")
    capsys.readouterr()

    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == {first, second}
    assert "champion" in rows[first] and "promoted" in rows[first]
    assert "champion" not in rows[second]

    assert main(["promote", second]) == 0
    assert "promote_model: SUCCESS" in capsys.readouterr().out
    assert reg.alias_version(CHAMPION) == second

    assert main(["rollback"]) == 0
    assert f"'from': '{second}', 'to': '{first}'" in capsys.readouterr().out
    assert reg.alias_version(CHAMPION) == first

    assert main(["promote", "99"]) == 1
    assert "promote_model failed:" in capsys.readouterr().out
    assert reg.alias_version(CHAMPION) == first


# -- the gate's segment rule -------------------------------------------------------------------

LOOSE_GATE = {"min_metrics": {}, "max_auc_drop": 1.0}


def test_the_segment_rule_refuses_only_when_on(home, pipelines):
    reg, (X, y) = home.registry(), home.holdout()
    segments = label_frame(X, [SegmentSpec(column="contract")])
    good = version_with(home, pipelines, "good")
    assert reg.promote(good, X, y, THRESHOLD, GateConfig(**LOOSE_GATE)).promoted
    bad = version_with(home, pipelines, "bad")
    on = GateConfig(**LOOSE_GATE, segment_rule=True, segment_min_rows=50, segment_max_auc_drop=0.05)
    refused = reg.promote(bad, X, y, THRESHOLD, on, segments=segments)
    assert not refused.promoted
    assert "segment contract = Month-to-month" in refused.reason
    evidence = refused.evidence["segments"]
    assert evidence["passed"] is False and evidence["min_rows"] == 50
    assert reg.alias_version(CHAMPION) == good
    # the same challenger, the same segments, the rule off: the loosened gate lets it through
    off = reg.promote(bad, X, y, THRESHOLD, GateConfig(**LOOSE_GATE), segments=segments)
    assert off.promoted, off.reason
    assert off.evidence["segments"] is None and reg.alias_version(CHAMPION) == bad


def test_a_champion_of_another_table_refuses_the_challenger_unless_forced(home, pipelines):
    """The same home, another dataset: the champion takes a column the new table lacks."""
    reg, (X, y) = home.registry(), home.holdout()
    good = champion_of(home, version_with(home, pipelines, "good"))
    fspec = stored_spec(home.path / "assets")
    dropped = fspec.numeric[0]
    narrow = FeatureSpec.from_dict(
        {**fspec.to_dict(), "numeric": [c for c in fspec.numeric if c != dropped]}
    )
    X_train, y_train = stored_split(home.path / "assets", "train")
    X_train, X = X_train.drop(columns=dropped), X.drop(columns=dropped)
    model = Pipeline(
        [
            ("preprocess", build_preprocessor(narrow)),
            ("model", LogisticRegression(class_weight="balanced", max_iter=1000)),
        ]
    ).fit(X_train, y_train)
    other = home.add_version(model, X_train)
    outcome = reg.promote(other, X, y, THRESHOLD, GATE)
    assert not outcome.promoted and reg.alias_version(CHAMPION) == good
    assert outcome.reason.startswith(
        f"refused: champion v{good} of '{MODEL_NAME}' cannot score this holdout "
        f"(missing input columns: {dropped}): it was trained on another table"
    )
    assert "registered_model_name" in outcome.reason and "CHURN_HOME" in outcome.reason
    forced = reg.promote(other, X, y, THRESHOLD, GATE, force=True)
    assert forced.promoted and reg.alias_version(CHAMPION) == other
    assert forced.reason.startswith("forced by operator; the gate said: refused: champion")


def test_the_champion_check_says_which_columns_a_champion_of_another_table_lacks(home, pipelines):
    reg, (X, _) = home.registry(), home.holdout()
    good = champion_of(home, version_with(home, pipelines, "good"))
    dropped = stored_spec(home.path / "assets").numeric[0]
    result = registry.champion_loads_and_scores(
        mlflow_tracking=home.tracking(),
        validated_dataset=X.drop(columns=dropped),
        promoted_model={},
    )
    assert not result.passed
    assert result.metadata["observed"].value == (
        f"v{good} cannot score these rows: it takes columns they lack ({dropped}); "
        "it was trained on another table"
    )
    assert reg.alias_version(CHAMPION) == good
    passed = registry.champion_loads_and_scores(
        mlflow_tracking=home.tracking(), validated_dataset=X, promoted_model={}
    )
    assert passed.passed
