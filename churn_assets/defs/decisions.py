"""Dagster metadata and MLflow artifacts of the per-segment report and the profit curve.

Thin: `ml/evaluation/decisions.py` computes the report; this turns it into what a person reads in
the UI (tables, plots, numbers) and what the evaluation's MLflow run keeps.
"""

from dagster import MetadataValue

from churn_assets.defs.metadata import png, table_md
from churn_assets.ml.drift.segments import segment_drift
from churn_assets.ml.evaluation.decisions import DecisionReport
from churn_assets.ml.evaluation.profit import Economics, batch_profit
from churn_assets.ml.evaluation.segments import labels_for_ids, segment_metrics, segments_markdown
from churn_assets.ml.jsonable import jsonable
from churn_assets.ml.scoring import PREDICTED, SCORE


def log_decisions(run, report: DecisionReport) -> None:
    """Log the report's plots, segment table and profit table to the MLflow `run`."""
    for name, image in report.plots.items():
        run.log_png(image, f"plots/{name}.png")
    if report.segments is not None:
        run.log_table(report.segments, "segments.json")
    if report.profit is not None:
        run.log_text(report.profit_table, "profit_curve.md")


def decision_metadata(report: DecisionReport) -> dict:
    """The report as Dagster metadata: `segment_metrics` table and plot, `expected_profit`,
    the profit curve table and plot; empty when the report is."""
    metadata: dict = {name: png(image, name) for name, image in report.plots.items()}
    if report.segments is not None:
        metadata["segment_metrics_table"] = MetadataValue.md(segments_markdown(report.segments))
    if report.profit is not None:
        metadata["expected_profit"] = report.profit["expected_profit"]
        metadata["profit_offers"] = report.profit["offers"]
        metadata["profit_curve_table"] = MetadataValue.md(report.profit_table)
        metadata["profit_summary"] = MetadataValue.json(report.record()["profit"])
    return metadata


def batch_profit_metadata(spec, proba, threshold: float) -> dict:
    """`expected_profit` of the offers to a scored batch when the spec has `economics`."""
    if spec.economics is None:
        return {}
    economics = Economics(**spec.economics.model_dump())
    out = batch_profit(proba, threshold, economics)
    money = economics.money
    return {
        "expected_profit": out["expected_profit"],
        "retention_offers": out["offers"],
        "expected_profit_detail": MetadataValue.md(
            f"{out['offers']} offers cost {money(out['offer_cost'])} and are expected to keep "
            f"{money(out['expected_saved'])} of customers: expected profit "
            f"**{money(out['expected_profit'])}** (churn scores read as probabilities)"
        ),
    }


def segment_drift_metadata(spec, reference, current, predictions, target: str) -> dict:
    """The per-segment drift summary as a markdown table when the spec names segments
    (`current`: the batch with its scores; `predictions`: `batch_predictions`, same rows)."""
    if not spec.segments:
        return {}
    current = current.assign(**{PREDICTED: predictions[PREDICTED].to_numpy()})
    table = segment_drift(reference, current, spec.segments, SCORE, PREDICTED, target)
    return {"segment_drift": table_md(table, floatfmt=".3f")}


def realized_segment_metadata(spec, joined, batch, threshold: float) -> tuple[dict, list]:
    """Per-segment realized quality of a batch on its outcomes (`joined`: scored rows with
    `churned`; `batch`: the validated batch holding the segment columns); metadata and the
    JSON rows for the record, both empty without segments or outcomes."""
    if not spec.segments or joined.empty:
        return {}, []
    ids = joined[spec.id_name]
    labels = labels_for_ids(batch, ids, spec.segments, spec.id_name)
    table = segment_metrics(joined["churned"], joined[SCORE], threshold, labels, n_resamples=500)
    return {"segment_metrics_table": MetadataValue.md(segments_markdown(table))}, jsonable(
        table.to_dict("records")
    )
