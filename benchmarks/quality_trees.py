"""How much a forest's seed moves its test ROC AUC, by tree count (issue 12, the tree budget).

On the BigML files the forest is refitted on all 2,666 labeled rows of the 80% file with 8
seeds, at 100, 300 and 500 trees, for the configuration the search chose there (leaves of 4,
80% of the features) and scikit-learn's (leaves of 1, `sqrt`), both with the platform's balanced
weights, and scored on the publisher's 20% file; and the same configurations' out-of-fold ROC
AUC on the 2,132-row training split (3 folds, 4 seeds), the evidence the choice reads. Not part
of `benchmarks.run` (no result file): `python -m benchmarks.quality_trees` prints it.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from benchmarks.quality import BIGML_TABLE

CONFIGS = {
    "chosen (leaves 4, 80% features)": {
        "model__min_samples_leaf": 4,
        "model__max_features": 0.8,
        "model__max_depth": None,
    },
    "scikit-learn's (leaves 1, sqrt)": {
        "model__min_samples_leaf": 1,
        "model__max_features": "sqrt",
        "model__max_depth": None,
    },
}


def _data(workdir: str):
    from benchmarks.quality_workers import _tables
    from churn_assets.ml.features import build_features, split_xy
    from churn_assets.ml.validation import TARGET

    valid, fspec, spec, test = _tables(
        {
            "name": "bigml",
            **BIGML_TABLE,
            "workdir": workdir,
        }
    )
    X_train, y_train = split_xy(build_features(valid, spec, fspec, spec.id_name), fspec, "train")
    return fspec, X_train, y_train, valid[fspec.inputs], valid[TARGET].astype(int), test


def main() -> None:
    from churn_assets.ml.features import build_preprocessor
    from churn_assets.ml.models.search import out_of_fold
    from churn_assets.ml.models.zoo import build_pipeline
    from churn_assets.ml.validation import TARGET

    with tempfile.TemporaryDirectory(prefix="churn-bench-trees-") as tmp:
        fspec, X_train, y_train, X_all, y_all, test = _data(tmp)
    X_test, y_test = test[fspec.inputs], test[TARGET].astype(int)
    X_train, y_train = X_train.reset_index(drop=True), y_train.reset_index(drop=True)
    for name, config in CONFIGS.items():
        for trees in (100, 300, 500):
            aucs, started = [], time.perf_counter()
            for seed in range(8):
                model = build_pipeline("random_forest", build_preprocessor(fspec), y_all, seed)
                model.set_params(**config, model__n_estimators=trees).fit(X_all, y_all)
                aucs.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
            print(
                f"{name}, {trees} trees, refit on 2,666 rows: test ROC AUC over 8 seeds mean "
                f"{np.mean(aucs):.4f} sd {np.std(aucs, ddof=1):.4f} [{min(aucs):.4f}, "
                f"{max(aucs):.4f}], {(time.perf_counter() - started) / 8:.1f} s per fit",
                flush=True,
            )
        for trees in (100, 500):
            oof = []
            for seed in range(4):
                model = build_pipeline("random_forest", build_preprocessor(fspec), y_train, seed)
                model.set_params(**config, model__n_estimators=trees)
                folds = StratifiedKFold(3, shuffle=True, random_state=42)
                _, per_fold, _ = out_of_fold(model, X_train, y_train, folds, 1)
                oof.append(np.mean(per_fold["roc_auc"]))
            print(
                f"{name}, {trees} trees: out-of-fold ROC AUC (3 folds of 2,132 rows) over 4 seeds "
                f"mean {np.mean(oof):.4f} sd {np.std(oof, ddof=1):.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
