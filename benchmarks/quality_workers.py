"""Measured code of the quality benchmark: one table per fresh process.

`champion` follows the platform's own path with a spec naming only source, target and positive
label: validate, feature spec, the seeded internal split, every family tuned with the default
budget, the choice on out-of-fold evidence (`select_by_oof`), the final refit on every labeled
row (`refit_all_rows`), then ROC AUC on the separate test file it never saw. `baselines` are
plain scikit-learn defaults (one-hot + median imputation) fitted on the same labeled rows.
The models are calibrated as the platform calibrates them (the map chosen on the out-of-fold
scores, carried to the final fit); the champion's raw scores (the same model without its map)
give the before of Brier, log loss and ROC AUC on the test file.
Also measured, not used by the platform: the choice by holdout alone (the old rule) and a soft
vote of the refitted families.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from joblib import cpu_count
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from benchmarks.common import worker_main


def _tables(params: dict[str, Any]):
    """(validated labeled rows, feature spec, spec, validated test rows) through the platform."""
    from churn_assets.ml.features import feature_spec
    from churn_assets.ml.validation import typed_columns, validate
    from churn_assets.resources.dataset import DatasetResource

    spec_path = Path(params["workdir"]) / f"{params['name']}.yaml"
    spec_path.write_text(
        f"name: {params['name']}\nsource:\n  kind: file\n  path: {params['train_csv']}\n"
        f'target_column: {params["target"]}\npositive_label: "{params["positive"]}"\n'
        + params.get("spec_extra", "")
    )
    dataset = DatasetResource(spec=str(spec_path))
    spec = dataset.load_spec()
    valid = validate(dataset.load_table(spec), spec).valid
    fspec = feature_spec(spec, typed_columns(valid, spec))
    test = validate(dataset.read_location(params["test_csv"], spec.source), spec).valid
    return valid, fspec, spec, test


def _baselines(X: pd.DataFrame, y: pd.Series, X_test, categorical) -> dict[str, np.ndarray]:
    """Test-file churn probabilities of each plain default model fitted on (X, y)."""
    numeric = [c for c in X.columns if c not in categorical]
    models = {
        "logistic_regression": LogisticRegression(max_iter=1000),
        "random_forest_500": RandomForestClassifier(n_estimators=500, random_state=0, n_jobs=1),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=0),
    }
    out = {}
    for name, model in models.items():
        pre = ColumnTransformer(
            [
                ("numeric", SimpleImputer(strategy="median"), numeric),
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    list(categorical),
                ),
            ]
        )
        fitted = make_pipeline(pre, model).fit(X, y)
        out[name] = fitted.predict_proba(X_test)[:, 1]
    return out


def table(params: dict[str, Any]) -> dict[str, Any]:
    """Champion and baselines on one table; ROC AUC (and Brier) on its separate test file."""
    from churn_assets.ml.evaluation import holdout_metrics, select_best, select_by_oof
    from churn_assets.ml.features import build_features, build_preprocessor, split_xy
    from churn_assets.ml.models import FAMILIES, SearchBudget, train_family
    from churn_assets.ml.models.refit import refit_all_rows
    from churn_assets.ml.promotion import bootstrap_auc_difference
    from churn_assets.ml.validation import TARGET

    started = time.perf_counter()
    valid, fspec, spec, test = _tables(params)
    features = build_features(valid, spec, fspec, spec.id_name)
    X_train, y_train = split_xy(features, fspec, "train")
    X_hold, y_hold = split_xy(features, fspec, "test")
    X_all, y_all = valid[fspec.inputs], valid[TARGET].astype(int)
    X_test, y_test = test[fspec.inputs], test[TARGET].astype(int)
    # The platform's default budget (what `TrainingConfig()` hands to training).
    budget = SearchBudget(n_jobs=cpu_count())
    families, cv, holdout, final_proba, evaluated_proba, raw_proba = {}, {}, {}, {}, {}, {}
    for family in FAMILIES:
        result = train_family(family, build_preprocessor(fspec), X_train, y_train, budget)
        cv[family] = result.cv_metrics
        holdout[family] = holdout_metrics(y_hold, result.pipeline.predict_proba(X_hold)[:, 1])
        final = refit_all_rows(
            family,
            result.best_params,
            build_preprocessor(fspec),
            X_all,
            y_all,
            calibration=result.calibration,
        )
        final_proba[family] = final.predict_proba(X_test)[:, 1]
        raw_proba[family] = Pipeline.predict_proba(final, X_test)[:, 1]  # without the map
        evaluated_proba[family] = result.pipeline.predict_proba(X_test)[:, 1]
        families[family] = {
            "oof_roc_auc": result.cv_metrics["cv_roc_auc_mean"],
            "holdout_roc_auc": holdout[family]["roc_auc"],
            "test_roc_auc_evaluated_model": float(roc_auc_score(y_test, evaluated_proba[family])),
            "test_roc_auc_final_model": float(roc_auc_score(y_test, final_proba[family])),
            "test_roc_auc_final_model_raw": float(roc_auc_score(y_test, raw_proba[family])),
            "calibration": _evidence(result.calibration),
            "test_brier_final_model_raw": float(brier_score_loss(y_test, raw_proba[family])),
            "test_brier_final_model": float(brier_score_loss(y_test, final_proba[family])),
            "best_params": result.best_params,
            "oof": result.oof_proba,
            "fit_seconds": round(result.fit_seconds, 1),
        }
    best = select_by_oof(cv, holdout)
    by_holdout = select_best(holdout)
    champion = final_proba[best]
    vote = np.mean([final_proba[f] for f in FAMILIES], axis=0)
    vote_oof = np.mean([families[f]["oof"] for f in FAMILIES], axis=0)
    categorical = [c for c in fspec.inputs if c in fspec.categorical]
    baseline_proba = _baselines(X_all, y_all, X_test, categorical)
    baselines = {n: float(roc_auc_score(y_test, p)) for n, p in baseline_proba.items()}
    best_baseline = max(baselines, key=baselines.get)
    # Is the gap to the best baseline more than the noise of this test file? Paired bootstrap
    # of the AUC difference on the same test rows (the promotion gate's).
    gap = bootstrap_auc_difference(y_test, champion, baseline_proba[best_baseline])
    for f in families.values():
        f.pop("oof")
    return {
        "rows": {"train": len(X_train), "holdout": len(X_hold), "test": len(X_test)},
        "champion_family": best,
        "champion_test_roc_auc": float(roc_auc_score(y_test, champion)),
        "champion_before_refit_test_roc_auc": families[best]["test_roc_auc_evaluated_model"],
        "old_rule_family": by_holdout,
        "old_rule_test_roc_auc": families[by_holdout]["test_roc_auc_evaluated_model"],
        "soft_vote_oof_roc_auc": float(roc_auc_score(y_train, vote_oof)),
        "soft_vote_test_roc_auc": float(roc_auc_score(y_test, vote)),
        "champion_calibration": families[best]["calibration"],
        "champion_raw_test_roc_auc": float(roc_auc_score(y_test, raw_proba[best])),
        "champion_brier_raw": float(brier_score_loss(y_test, raw_proba[best])),
        "champion_brier": float(brier_score_loss(y_test, champion)),
        "champion_log_loss_raw": _log_loss(y_test, raw_proba[best]),
        "champion_log_loss": _log_loss(y_test, champion),
        "champion_mean_score_raw": float(raw_proba[best].mean()),
        "champion_mean_score": float(champion.mean()),
        "test_churn_rate": float(y_test.mean()),
        "baselines": baselines,
        "best_baseline": best_baseline,
        "champion_minus_best_baseline": {
            "diff": gap.diff,
            "ci95": [gap.ci_low, gap.ci_high],
            "n_resamples": gap.n_resamples,
        },
        "families": families,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _evidence(calibration: dict[str, Any]) -> dict[str, Any]:
    """The calibration record without its fitted map (the method and its evidence)."""
    return {k: v for k, v in calibration.items() if k != "calibrator"}


def _log_loss(y, p) -> float:
    return float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))


if __name__ == "__main__":
    worker_main({"table": table})
