"""Realized performance: a scored batch judged on the churn outcomes that arrived after scoring.

Metrics are those of the holdout (`holdout_metrics`: ROC AUC, PR AUC, Brier, lift in the top
decile, recall at the promoted threshold) with percentile bootstrap intervals, the reliability
curve, and the share of the batch with an outcome so far. The decay rule compares the realized
ROC AUC with the model card's holdout AUC, and only decides once enough outcomes of both classes
exist, so a handful of early labels never raises an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve

from churn_assets.ml.evaluation.metrics import holdout_metrics
from churn_assets.ml.promotion.bootstrap import bootstrap_auc_recall, bootstrap_metric_intervals
from churn_assets.ml.promotion.resampling import interval, resample_chunks

REPORTED = ("roc_auc", "pr_auc", "brier", "lift_top_decile", "recall", "precision")


@dataclass(frozen=True)
class DecayRule:
    """When realized performance counts as decayed.

    `margin`: how far the realized ROC AUC may fall below the holdout AUC; `min_outcomes` and
    `min_per_class`: outcomes needed before the rule decides at all."""

    margin: float = field(
        default=0.05, metadata={"description": "Allowed drop of realized AUC below holdout AUC."}
    )
    min_outcomes: int = field(
        default=200, metadata={"description": "Outcomes needed before the rule decides."}
    )
    min_per_class: int = field(
        default=20, metadata={"description": "Churners and non-churners needed, each."}
    )

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        if self.min_outcomes < 2 or self.min_per_class < 1:
            raise ValueError("min_outcomes must be >= 2 and min_per_class >= 1")


@dataclass
class Realized:
    """What a batch's outcomes say so far. `metrics`/`intervals` are empty until both classes
    have arrived; `status` is 'decayed', 'ok' or 'not enough outcomes', with `reason` in words."""

    rows_scored: int
    rows_with_outcome: int
    churners: int
    status: str
    reason: str
    holdout_auc: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    reliability: pd.DataFrame | None = None

    @property
    def outcome_share(self) -> float:
        return self.rows_with_outcome / self.rows_scored if self.rows_scored else 0.0

    @property
    def auc_gap(self) -> float | None:
        """Holdout AUC minus realized AUC (positive: worse than promised)."""
        if self.holdout_auc is None or "roc_auc" not in self.metrics:
            return None
        return self.holdout_auc - self.metrics["roc_auc"]


def realized_performance(
    y_true: np.ndarray,
    proba: np.ndarray,
    rows_scored: int,
    threshold: float,
    holdout_auc: float | None,
    rule: DecayRule = DecayRule(),
    n_resamples: int = 500,
    random_state: int = 42,
) -> Realized:
    """Judge the rows of a batch that have an outcome.

    Args:
        y_true: 0/1 outcomes of the rows that have one.
        proba: the churn probabilities those rows were scored with.
        rows_scored: rows in the scored batch (with or without an outcome).
        threshold: the promoted threshold the batch was decided at.
        holdout_auc: the model card's holdout ROC AUC of the version that scored; None unknown.
        rule: the decay rule.
        n_resamples, random_state: the bootstrap.

    Returns:
        `Realized`. Raises ValueError on mismatched lengths or more outcomes than rows.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if len(y) != len(p) or len(y) > rows_scored:
        raise ValueError(f"{len(y)} outcomes, {len(p)} scores, {rows_scored} rows scored")
    churners = int(y.sum())
    out = Realized(rows_scored, len(y), churners, "", "", holdout_auc)
    minority = min(churners, len(y) - churners)
    if minority == 0:
        out.status = "not enough outcomes"
        out.reason = f"{len(y)} outcomes so far, not both churners and non-churners"
        return out
    metrics = holdout_metrics(y, p, threshold)
    out.metrics = {k: metrics[k] for k in REPORTED}
    out.intervals = _intervals(y, p, threshold, n_resamples, random_state)
    bins = min(10, max(2, len(y) // 20))
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    out.reliability = pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})
    out.status, out.reason = _decide(out, rule)
    return out


def _decide(out: Realized, rule: DecayRule) -> tuple[str, str]:
    n, minority = out.rows_with_outcome, min(out.churners, out.rows_with_outcome - out.churners)
    if n < rule.min_outcomes or minority < rule.min_per_class:
        return "not enough outcomes", (
            f"{n} outcomes ({out.churners} churners) so far; the rule needs {rule.min_outcomes} "
            f"with {rule.min_per_class} of each class"
        )
    auc = out.metrics["roc_auc"]
    if out.holdout_auc is None:
        return "ok", f"realized AUC {auc:.3f}; the model card has no holdout AUC to compare"
    gap = out.holdout_auc - auc
    verdict = "decayed" if gap > rule.margin else "ok"
    word = "more than" if verdict == "decayed" else "within"
    return verdict, (
        f"realized AUC {auc:.3f} vs holdout {out.holdout_auc:.3f}: {gap:+.3f} below, "
        f"{word} the margin {rule.margin:.3f} ({n} outcomes)"
    )


def _intervals(
    y: np.ndarray, p: np.ndarray, threshold: float, n_resamples: int, seed: int
) -> dict[str, tuple[float, float]]:
    """Bootstrap intervals: ROC/PR AUC from the promotion bootstrap, recall at the threshold from
    the segment bootstrap (one implementation of each), Brier and lift vectorised here over the
    same seeded resamples (single-class resamples skipped, as there)."""
    found = bootstrap_metric_intervals(y, p, threshold, n_resamples, seed)
    recall = bootstrap_auc_recall(y, p, threshold, n_resamples, seed)["recall"]
    brier, lift = [], []
    n_top = max(1, int(np.ceil(len(y) / 10)))
    for idx in resample_chunks(len(y), n_resamples, seed):
        labels, scores = y[idx], p[idx]
        n_pos = labels.sum(axis=1)
        ok = (n_pos > 0) & (n_pos < len(y))
        brier.append(((scores - labels) ** 2).mean(axis=1)[ok])
        top = np.take_along_axis(labels, np.argsort(-scores, axis=1, kind="stable"), axis=1)
        rate = labels.mean(axis=1)
        lift.append((top[:, :n_top].mean(axis=1) / np.where(rate > 0, rate, 1))[ok])
    return {
        "roc_auc": found["roc_auc"],
        "pr_auc": found["pr_auc"],
        "brier": interval(np.concatenate(brier), 0.95),
        "recall": recall,
        "lift_top_decile": interval(np.concatenate(lift), 0.95),
    }


def join_outcomes(
    scored: pd.DataFrame, outcomes: pd.DataFrame, id_column: str, outcome_id: str = "id"
) -> pd.DataFrame:
    """The scored rows that have an outcome, with the outcome as `churned` (ids compared as
    text, so '007' and 7 differ as they do in the source)."""
    keys = scored[id_column].astype("string").str.strip()
    labels = outcomes.set_index(outcomes[outcome_id].astype("string"))["churned"]
    matched = keys.isin(labels.index)
    return scored.loc[matched.to_numpy()].assign(
        churned=keys[matched].map(labels).astype(int).to_numpy()
    )


def observed_after(
    outcomes: pd.DataFrame, scored_at: pd.Timestamp | None, observed: str = "observed_at"
) -> tuple[pd.DataFrame, int]:
    """The outcomes observed at or after the batch was scored, and how many were not.

    An outcome observed before scoring was already known when the batch was scored (the
    customer had left, or the label was set), so it is no test of the model's forecast; it is
    left out of the realized metrics and counted. `scored_at` None (the scoring time is
    unknown) keeps every outcome. Naive times are read as UTC.
    """
    if scored_at is None or not len(outcomes):
        return outcomes, 0
    when = pd.to_datetime(outcomes[observed], utc=True)
    cut = pd.Timestamp(scored_at)
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    after = (when >= cut).to_numpy()
    return outcomes.loc[after], int((~after).sum())
