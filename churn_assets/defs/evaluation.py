"""Group training: every candidate scored on the same holdout, with pictures and a comparison."""

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, asset
from joblib import cpu_count

from churn_assets.constants import OWNERS
from churn_assets.defs.decisions import decision_metadata, log_decisions
from churn_assets.defs.lineage import input_data_version, run_tags
from churn_assets.defs.metadata import png, table_md
from churn_assets.ml.evaluation import (
    compare_candidates,
    feature_importance_table,
    holdout_metrics,
    plot_calibration,
    plot_confusion_matrix,
    plot_feature_importance,
    plot_pr_curves,
    plot_roc_curves,
    select_by_oof,
    selection_table,
)
from churn_assets.ml.evaluation.decisions import decision_report
from churn_assets.ml.features import FeatureSpec, split_xy
from churn_assets.ml.models import FAMILIES
from churn_assets.ml.scoring import churn_proba
from churn_assets.resources.git import GitResource
from churn_assets.resources.mlflow_tracking import MlflowResource

IMPORTANCE_ROWS = 2_000  # permutation importance on a seeded sample keeps 1M-row holdouts cheap
RECORD_KEYS = (
    "threshold",
    "threshold_rationale",
    "model_uri",
    "mlflow_run_id",
    "cv_metrics",
    "best_params",
    "train_rows",
)


def _plots(curves: dict, best: str, threshold: float, model, sample, y_sample, importance):
    """The PNGs a person compares candidates by: ROC, PR, calibration, the best one's confusion
    matrix at its threshold, and its permutation importance."""
    y_test, best_proba = curves[best]
    return {
        "roc_curves": plot_roc_curves(curves),
        "pr_curves": plot_pr_curves(curves),
        "calibration": plot_calibration(curves),
        "confusion_matrix": plot_confusion_matrix(
            y_test, (best_proba >= threshold).astype(int), f"{best} on the holdout"
        ),
        "feature_importance": plot_feature_importance(model, sample, y_sample, table=importance),
    }


@asset(
    ins={
        "features": AssetIn(key="features"),
        "feature_spec": AssetIn(key="feature_spec"),
        **{family: AssetIn(key=["trained_models", family]) for family in FAMILIES},
    },
    group_name="training",
    kinds={"sklearn", "mlflow"},
    owners=OWNERS,
    description="All candidates on the same holdout: metrics, curves, calibration, importance.",
)
def model_evaluation(
    context: AssetExecutionContext,
    mlflow_tracking: MlflowResource,
    git: GitResource,
    features: pd.DataFrame,
    feature_spec: dict,
    **candidates: dict,
) -> Output[dict]:
    """Load each candidate from MLflow, score the holdout at its out-of-fold threshold, compare.

    Returns a JSON record with every candidate's metrics and the best one: the highest
    out-of-fold ROC AUC over the training rows (`select_by_oof`; the holdout ROC AUC breaks
    ties), so the choice does not rest on the small holdout alone. The holdout is never used to
    choose a threshold, and no candidate is scored on rows it was fitted on.
    """
    X_test, y_test = split_xy(features, FeatureSpec.from_dict(feature_spec), "test")
    results, curves, models = {}, {}, {}
    for family, record in candidates.items():
        model = mlflow_tracking.load_model(record["model_uri"])
        proba = churn_proba(model, X_test)
        results[family] = holdout_metrics(y_test, proba, record["threshold"])
        curves[family] = (y_test.to_numpy(), proba)
        models[family] = model
    table = compare_candidates(results)
    cv = {family: record["cv_metrics"] for family, record in candidates.items()}
    best = select_by_oof(cv, results)
    selection = selection_table(cv, results)
    sample = X_test.sample(min(IMPORTANCE_ROWS, len(X_test)), random_state=0)
    y_sample = y_test.loc[sample.index]
    # Columns in parallel (the same table on any number of processes): otherwise one core.
    importance = feature_importance_table(models[best], sample, y_sample, n_jobs=cpu_count())
    threshold = candidates[best]["threshold"]
    plots = _plots(curves, best, threshold, models[best], sample, y_sample, importance)
    decisions = decision_report(feature_spec, X_test, y_test, curves[best][1], threshold)
    data_version = input_data_version(context, "features")
    tags = run_tags(context, data_version, git.commit_sha())
    with mlflow_tracking.start_run("model_evaluation", tags) as run:
        run.log_table(table, "comparison.json")
        run.log_table(selection, "selection.json")
        run.log_table(importance, "feature_importance.json")
        run.log_metrics({f"{f}_test_{k}": v for f, m in results.items() for k, v in m.items()})
        run.set_tag("best_family", best)
        for name, image in plots.items():
            run.log_png(image, f"plots/{name}.png")
        log_decisions(run, decisions)
    context.log.info(
        f"best candidate: {best} (out-of-fold ROC AUC {cv[best]['cv_roc_auc_mean']:.4f}, "
        f"holdout {results[best]['roc_auc']:.4f})"
    )
    record = {
        "best": best,
        "candidates": {
            family: {
                "metrics": results[family],
                "random_state": candidates[family].get("random_state", 42),
                # The map the final fit applies too (absent in records before calibration).
                "calibration": candidates[family].get("calibration", {}),
                **{k: candidates[family][k] for k in RECORD_KEYS},
            }
            for family in candidates
        },
        "holdout_rows": len(X_test),
        "selected_by": "out-of-fold ROC AUC on the training rows (holdout ROC AUC breaks ties)",
        "data_version": data_version,
        "evaluation_run_id": run.run_id,
        "features": list(X_test.columns),
        **decisions.record(),
    }
    return Output(
        record,
        metadata={
            "best": best,
            "best_roc_auc": results[best]["roc_auc"],
            "best_oof_roc_auc": cv[best]["cv_roc_auc_mean"],
            "selection": table_md(selection),
            "comparison": table_md(table.reset_index() if table.index.name else table),
            "feature_importance_table": table_md(importance.head(15)),
            **{name: png(image, name) for name, image in plots.items()},
            "mlflow_run_id": run.run_id,
            "holdout_rows": len(X_test),
            "metrics": MetadataValue.json(results),
            **decision_metadata(decisions),
        },
    )
