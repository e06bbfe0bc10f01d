"""The real public BigML telecom table through the training lineage with the default search
budget: the champion reaches the published AUC on the publisher's holdout. Its own module (not
test_training_pipeline.py) so that pytest-xdist, which keeps a module on one worker, can run it
beside that module's shared lineage fixture."""

import pytest
from sklearn.metrics import roc_auc_score

from churn_assets.resources.dataset import DatasetResource
from churn_assets.resources.model_evidence import load_evidence_model
from churn_assets.resources.model_registry import CHAMPION
from churn_assets_tests.defs.test_training_pipeline import (
    TRAINED,
    Store,
    metadata,
    run,
    step_failures,
)


@pytest.mark.slow
def test_real_data_default_config_champion_reaches_the_published_auc(tmp_path, bigml_data):
    store = Store(tmp_path / "real")
    result = run(store, run_config=None, dataset=DatasetResource(spec="bigml_telecom"))
    assert result.success, step_failures(result)
    per_family = {key: metadata(result, key)["holdout_roc_auc"] for key in TRAINED}
    for key in TRAINED:  # the defaults reached the assets by configuration alone
        [tracked] = store.runs(dagster_run_id=result.run_id, dagster_asset_key=key)
        assert tracked.data.params["n_iter"] == "9" and tracked.data.params["cv_folds"] == "3"
    X_test, y_test = store.split("test")
    assert len(X_test) == 667  # the publisher's 20% file
    registry_ = store.registry()
    champion = load_evidence_model(registry_, registry_.alias_version(CHAMPION))
    auc = roc_auc_score(y_test, champion.predict_proba(X_test)[:, 1])
    assert auc >= 0.93, f"champion holdout ROC AUC {auc:.4f}; per family {per_family}"
