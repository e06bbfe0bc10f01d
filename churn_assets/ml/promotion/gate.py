"""The promotion gate: absolute thresholds plus non-inferiority against the champion."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from churn_assets.ml.promotion.bootstrap import AucComparison
from churn_assets.ml.promotion.resampling import check_resampling
from churn_assets.ml.settings import setting


@dataclass(frozen=True)
class GateConfig:
    """What a challenger must achieve to be promoted.

    Each field's `metadata["description"]` says what it is; the Dagster run config of the gate
    (`defs/registry.py`) is derived from these fields, so defaults live only here. `min_metrics`
    defaults pass a useful churn model (ROC AUC ~0.85 at ~25% churn) and fail a random or
    constant one; `max_auc_drop` is the non-inferiority margin of `decide_promotion`.
    """

    min_metrics: dict[str, float] = setting(
        description="Holdout metric -> minimum (roc_auc, pr_auc, f1, precision, recall, ...).",
        default_factory=lambda: {"roc_auc": 0.75, "f1": 0.45, "accuracy": 0.70},
    )
    max_metrics: dict[str, float] = setting(
        description="Holdout metric -> maximum, for lower-is-better brier/log_loss.",
        default_factory=dict,
    )
    max_auc_drop: float = setting(0.01, "Non-inferiority margin on ROC AUC.")
    n_resamples: int = setting(2000, "Bootstrap resamples of the paired comparison.")
    random_state: int = setting(42, "Seed of the bootstrap.")
    confidence: float = setting(0.95, "Coverage of the comparison interval.")
    segment_rule: bool = setting(False, "Refuse a challenger worse than the champion in a segment.")
    segment_min_rows: int = setting(200, "Segment rule: only segments with at least these rows.")
    segment_max_auc_drop: float = setting(0.05, "Segment rule: largest allowed ROC AUC drop.")

    def __post_init__(self) -> None:
        if self.max_auc_drop < 0:
            raise ValueError(f"max_auc_drop must be >= 0, got {self.max_auc_drop}")
        if self.segment_min_rows < 1 or self.segment_max_auc_drop < 0:
            raise ValueError(
                f"segment_min_rows must be >= 1 and segment_max_auc_drop >= 0, got "
                f"{self.segment_min_rows} and {self.segment_max_auc_drop}"
            )
        check_resampling(self.n_resamples, self.confidence)


@dataclass(frozen=True)
class PromotionDecision:
    """The gate's verdict.

    Attributes:
        promote: whether the challenger becomes champion.
        reason: one or more sentences naming every failed rule with the observed value and its
            threshold, or why it passed.
        failed_thresholds: names of the metrics that missed their threshold.
        evidence: JSON-able record of every value the decision used.
    """

    promote: bool
    reason: str
    failed_thresholds: list[str]
    evidence: dict[str, Any]


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def decide_promotion(
    challenger_metrics: Mapping[str, float],
    gate: GateConfig,
    comparison: AucComparison | None = None,
    segments: dict[str, Any] | None = None,
) -> PromotionDecision:
    """Decide whether a challenger is promoted.

    Rules, all of which must pass:
    1. every metric in `gate.min_metrics` is >= its minimum and every metric in
       `gate.max_metrics` is <= its maximum (a missing or NaN metric fails);
    2. if a champion exists (`comparison` given), the challenger is non-inferior: the lower
       bound of the paired interval of `AUC(challenger) - AUC(champion)` is >= `-max_auc_drop`.

    Rule 2 is a non-inferiority test rather than "must be significantly better": a retrained
    model on fresh data that is as good as the champion should replace it (it has seen newer
    customers), while one that is worse beyond the margin with `confidence` is refused. A
    challenger whose interval is too wide to rule out a larger drop is also refused, so a
    small holdout errs on keeping the champion. With no champion (`comparison` is None) the
    first model is promoted on rule 1 alone. 3. with `segments` (the evidence of
    `segment_gate.segment_rule`, when `gate.segment_rule` is on), no judged segment failed.

    Args:
        challenger_metrics: holdout metrics of the challenger (`holdout_metrics`).
        gate: thresholds and margin.
        comparison: paired comparison with the champion on the same holdout, or None.
        segments: per-segment comparison with the champion, or None (rule off).

    Returns:
        A `PromotionDecision`.
    """
    failed: list[str] = []
    failures: list[str] = []
    thresholds: dict[str, dict[str, Any]] = {}
    rules = [(m, v, "min") for m, v in gate.min_metrics.items()]
    rules += [(m, v, "max") for m, v in gate.max_metrics.items()]
    for metric, limit, kind in rules:
        raw = challenger_metrics.get(metric)
        observed = _json_float(raw)
        if observed is None:
            passed = False
            failures.append(f"{metric} is missing from the challenger's metrics")
        elif kind == "min":
            passed = observed >= limit
            if not passed:
                failures.append(f"{metric} {observed:.4f} is below the minimum {limit:.4f}")
        else:
            passed = observed <= limit
            if not passed:
                failures.append(f"{metric} {observed:.4f} is above the maximum {limit:.4f}")
        if not passed:
            failed.append(metric)
        thresholds[metric] = {"observed": observed, kind: float(limit), "passed": passed}

    champion_evidence = None
    if comparison is not None:
        non_inferior = comparison.ci_low >= -gate.max_auc_drop
        pct = f"{comparison.confidence:.0%}"
        champion_evidence = {
            **{k: _json_float(v) for k, v in comparison.to_dict().items()},
            "n_resamples": comparison.n_resamples,
            "skipped_resamples": comparison.skipped_resamples,
            "n_rows": comparison.n_rows,
            "required_ci_low": -gate.max_auc_drop,
            "passed": non_inferior,
        }
        interval = (
            f"ROC AUC {comparison.auc_challenger:.4f} vs champion {comparison.auc_champion:.4f}, "
            f"difference {comparison.diff:+.4f} with {pct} interval "
            f"[{comparison.ci_low:+.4f}, {comparison.ci_high:+.4f}]"
        )
        if not non_inferior:
            failures.append(
                f"the challenger may be worse than the champion: {interval}, whose lower bound "
                f"is below the allowed drop of -{gate.max_auc_drop:.4f}"
            )

    if segments is not None:
        failures += segments["failures"]
    promote = not failures
    if promote and comparison is None:
        reason = "Promoted as the first model: every threshold passed (no champion to compare)."
    elif promote:
        reason = (
            f"Promoted: every threshold passed and it is not worse than the champion: {interval}."
        )
    else:
        reason = "Not promoted: " + "; ".join(failures) + "."
    evidence = {
        "thresholds": thresholds,
        "champion_comparison": champion_evidence,
        "max_auc_drop": gate.max_auc_drop,
        "segments": segments,
        "rule": "all thresholds pass and, with a champion, ci_low(AUC challenger - champion) "
        ">= -max_auc_drop",
    }
    return PromotionDecision(
        promote=promote, reason=reason, failed_thresholds=failed, evidence=evidence
    )
