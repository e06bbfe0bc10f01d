"""Promotion statistics: the paired champion/challenger comparison, the gate and the model card.

A challenger is compared with the champion on the same holdout rows: both models' ROC AUC are
computed on the same bootstrap resamples, so the interval is of the paired difference and the
noise shared by both models (which rows happen to be in the holdout) cancels out.

AUC per resample is computed from ranks (the Mann-Whitney statistic, ties counted one half),
which equals `sklearn.metrics.roc_auc_score` and is vectorised over resamples with
`scipy.stats.rankdata(axis=1)`, in chunks so memory stays bounded on large holdouts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

# Bootstrap work is done in chunks of about this many (resample x row) cells (~16 MB of floats).
_CHUNK_CELLS = 2_000_000

DEFAULT_KNOWN_LIMITS = (
    "The holdout comes from the same source and period as the training rows; it does not "
    "measure performance on future customers, so watch the drift report.",
    "Probabilities come from class-weighted training and may overstate churn risk; use the "
    "chosen threshold, not 0.5, and recalibrate before reading them as frequencies.",
    "Permutation importance shows what the model uses, not what causes churn.",
)


@dataclass(frozen=True)
class AucComparison:
    """Paired bootstrap comparison of two models' ROC AUC on the same rows.

    `diff` is `auc_challenger - auc_champion` on all rows; `ci_low`/`ci_high` are the
    percentile interval of the resampled differences at `confidence`; `skipped_resamples`
    counts resamples with a single class (AUC undefined), which are left out.
    """

    auc_challenger: float
    auc_champion: float
    diff: float
    ci_low: float
    ci_high: float
    n_resamples: int
    skipped_resamples: int
    confidence: float = 0.95
    n_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-able dict."""
        return asdict(self)


def _labels_and_scores(y_true: Any, *scores: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    y = np.asarray(y_true)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_true must be a non-empty 1-D array; got shape {y.shape}")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise ValueError(f"y_true must be 0/1 (or bool); found labels {sorted(map(repr, labels))}")
    if len(labels) < 2:
        raise ValueError(
            f"y_true has only one class ({len(y)} rows, all {sorted(labels)}); AUC needs both"
        )
    arrays = []
    for s in scores:
        a = np.asarray(s, dtype=float)
        if a.shape != y.shape:
            raise ValueError(f"probabilities of shape {a.shape} do not match y_true {y.shape}")
        if np.isnan(a).any():
            raise ValueError(f"probabilities contain {int(np.isnan(a).sum())} NaN values")
        arrays.append(a)
    return y.astype(np.int8), arrays


def _check_resampling(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")


def _resample_chunks(n_rows: int, n_resamples: int, random_state: int) -> Iterator[np.ndarray]:
    """Yield (chunk, n_rows) index arrays drawn with replacement, `n_resamples` rows in all."""
    rng = np.random.default_rng(random_state)
    chunk = max(1, _CHUNK_CELLS // n_rows)
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        yield rng.integers(0, n_rows, size=(size, n_rows))
        done += size


def _rank_auc(scores: np.ndarray, labels: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of `scores` (resamples x rows); NaN where a class is absent."""
    ranks = rankdata(scores, axis=1)
    n_neg = labels.shape[1] - n_pos
    rank_sum = (ranks * labels).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def bootstrap_auc_difference(
    y_true: Any,
    proba_challenger: Any,
    proba_champion: Any,
    n_resamples: int = 2000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> AucComparison:
    """Paired bootstrap interval of `AUC(challenger) - AUC(champion)` on the same holdout.

    Each resample draws row indices with replacement and scores both models on those same rows.
    Resamples with a single class are skipped and counted.

    Args:
        y_true: 0/1 holdout labels.
        proba_challenger: challenger churn probabilities for those rows.
        proba_champion: champion churn probabilities for the same rows.
        n_resamples: bootstrap resamples drawn (including any skipped).
        random_state: seed of the resampling.
        confidence: coverage of the percentile interval.

    Returns:
        An `AucComparison`.

    Raises:
        ValueError: mismatched shapes, NaN probabilities, non-0/1 or single-class labels, bad
            `n_resamples`/`confidence`, or every resample had a single class.
    """
    _check_resampling(n_resamples, confidence)
    y, (challenger, champion) = _labels_and_scores(y_true, proba_challenger, proba_champion)
    diffs = []
    for idx in _resample_chunks(len(y), n_resamples, random_state):
        labels = y[idx]
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        diffs.append(
            _rank_auc(challenger[idx], labels, n_pos) - _rank_auc(champion[idx], labels, n_pos)
        )
    all_diffs = np.concatenate(diffs)
    valid = all_diffs[~np.isnan(all_diffs)]
    if valid.size == 0:
        raise ValueError(
            f"all {n_resamples} bootstrap resamples had a single class; the holdout has too "
            "few rows of the minority class to compare AUCs"
        )
    ci_low, ci_high = _interval(valid, confidence)
    auc_challenger = float(roc_auc_score(y, challenger))
    auc_champion = float(roc_auc_score(y, champion))
    return AucComparison(
        auc_challenger=auc_challenger,
        auc_champion=auc_champion,
        diff=auc_challenger - auc_champion,
        ci_low=ci_low,
        ci_high=ci_high,
        n_resamples=n_resamples,
        skipped_resamples=int(all_diffs.size - valid.size),
        confidence=confidence,
        n_rows=len(y),
    )


def bootstrap_metric_intervals(
    y_true: Any,
    proba: Any,
    threshold: float,
    n_resamples: int = 1000,
    random_state: int = 42,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of `roc_auc`, `pr_auc` and `f1` of one model.

    F1 uses the fixed `threshold` (predict churn when probability >= threshold). Resamples with
    a single class are skipped.

    Args:
        y_true: 0/1 holdout labels.
        proba: churn probabilities for those rows.
        threshold: the decision threshold.
        n_resamples: bootstrap resamples drawn.
        random_state: seed of the resampling.
        confidence: coverage of the intervals.

    Returns:
        `{"roc_auc": (low, high), "pr_auc": (low, high), "f1": (low, high)}`.

    Raises:
        ValueError: on invalid inputs or when every resample had a single class.
    """
    _check_resampling(n_resamples, confidence)
    y, (p,) = _labels_and_scores(y_true, proba)
    predicted = (p >= threshold).astype(np.int8)
    aucs, aps, f1s = [], [], []
    for idx in _resample_chunks(len(y), n_resamples, random_state):
        labels = y[idx]
        n_pos = labels.sum(axis=1, dtype=np.int64).astype(float)
        auc = _rank_auc(p[idx], labels, n_pos)
        valid = ~np.isnan(auc)
        pred = predicted[idx]
        tp = (labels & pred).sum(axis=1, dtype=np.int64)
        fp = pred.sum(axis=1, dtype=np.int64) - tp
        fn = n_pos - tp
        denom = 2 * tp + fp + fn
        f1 = np.divide(2.0 * tp, denom, out=np.zeros(len(idx)), where=denom > 0)
        aucs.append(auc[valid])
        f1s.append(f1[valid])
        # Average precision has no cheap rank form with ties; sklearn per resample is fast enough.
        aps.extend(average_precision_score(labels[i], p[idx[i]]) for i in np.flatnonzero(valid))
    all_aucs = np.concatenate(aucs)
    if all_aucs.size == 0:
        raise ValueError(f"all {n_resamples} bootstrap resamples had a single class")
    return {
        "roc_auc": _interval(all_aucs, confidence),
        "pr_auc": _interval(np.asarray(aps, dtype=float), confidence),
        "f1": _interval(np.concatenate(f1s), confidence),
    }


@dataclass(frozen=True)
class GateConfig:
    """What a challenger must achieve to be promoted.

    Attributes:
        min_metrics: holdout metric -> minimum value (inclusive); the defaults pass a useful
            churn model (ROC AUC ~0.85 at ~25% churn) and fail a random or constant one.
        max_metrics: holdout metric -> maximum value (inclusive), for lower-is-better metrics
            such as `brier` or `log_loss`; none by default.
        max_auc_drop: how much worse than the champion's ROC AUC a challenger may be (the
            non-inferiority margin); see `decide_promotion`.
        n_resamples: bootstrap resamples of the paired comparison.
        random_state: seed of the resampling.
        confidence: coverage of the comparison interval.
    """

    min_metrics: Mapping[str, float] = field(
        default_factory=lambda: {"roc_auc": 0.75, "f1": 0.45, "accuracy": 0.70}
    )
    max_metrics: Mapping[str, float] = field(default_factory=dict)
    max_auc_drop: float = 0.01
    n_resamples: int = 2000
    random_state: int = 42
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.max_auc_drop < 0:
            raise ValueError(f"max_auc_drop must be >= 0, got {self.max_auc_drop}")
        _check_resampling(self.n_resamples, self.confidence)


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
    first model is promoted on rule 1 alone.

    Args:
        challenger_metrics: holdout metrics of the challenger (`holdout_metrics`).
        gate: thresholds and margin.
        comparison: paired comparison with the champion on the same holdout, or None.

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
        "rule": "all thresholds pass and, with a champion, ci_low(AUC challenger - champion) "
        ">= -max_auc_drop",
    }
    return PromotionDecision(
        promote=promote, reason=reason, failed_thresholds=failed, evidence=evidence
    )


def _format_metric(name: str, value: Any) -> str:
    if isinstance(value, (tuple, list)):
        if len(value) != 3:
            raise ValueError(
                f"metric {name!r} must be a value or (value, low, high); got {value!r}"
            )
        point, low, high = (float(v) for v in value)
        return f"| {name} | {point:.4f} | [{low:.4f}, {high:.4f}] |"
    return f"| {name} | {float(value):.4f} | |"


def _format_balance(class_balance: Any) -> str:
    if class_balance is None:
        return "not recorded"
    if isinstance(class_balance, Mapping):
        total = sum(int(v) for v in class_balance.values())
        parts = [
            f"{label}: {int(count)} ({int(count) / total:.1%})"
            for label, count in class_balance.items()
        ]
        return ", ".join(parts)
    return f"churn rate {float(class_balance):.1%}"


def render_model_card(
    *,
    model_name: str = "churn model",
    family: str | None = None,
    version: str | None = None,
    data_source: str | None = None,
    n_rows: int | Mapping[str, int] | None = None,
    data_version: str | None = None,
    class_balance: Mapping[Any, int] | float | None = None,
    metrics: Mapping[str, float | Sequence[float]] | None = None,
    confidence: float = 0.95,
    threshold: float | None = None,
    threshold_rationale: str | None = None,
    features: Sequence[str] = (),
    known_limits: Sequence[str] | None = None,
    promotion_reason: str | None = None,
    **extra: Any,
) -> str:
    """Render a markdown model card.

    Args:
        model_name: heading of the card.
        family: model family.
        version: model (registry) version.
        data_source: where the training data came from (a description or URI).
        n_rows: total rows, or a mapping such as `{"train": 4000, "holdout": 1000}`.
        data_version: dataset version or hash.
        class_balance: `{label: count}` or the churn rate as a float.
        metrics: holdout metric -> value, or -> `(value, low, high)` for an interval.
        confidence: coverage of the intervals, for the table header.
        threshold: decision threshold.
        threshold_rationale: why that threshold (`choose_threshold`'s sentence).
        features: raw input columns the model takes.
        known_limits: caveats; `DEFAULT_KNOWN_LIMITS` when None.
        promotion_reason: the gate's reason, if decided.
        **extra: further `name=value` pairs listed under "Other details".

    Returns:
        The card as markdown text.

    Raises:
        ValueError: if a metric is a sequence that is not `(value, low, high)`.
    """
    unknown = "not recorded"
    lines = [f"# Model card: {model_name}", ""]
    lines += ["## Model", ""]
    lines.append(f"- Family: {family or unknown}")
    lines.append(f"- Version: {version or unknown}")
    if promotion_reason:
        lines.append(f"- Promotion decision: {promotion_reason}")
    lines += ["", "## Data", ""]
    lines.append(f"- Source: {data_source or unknown}")
    lines.append(f"- Data version: {data_version or unknown}")
    if isinstance(n_rows, Mapping):
        rows = ", ".join(f"{k}: {int(v)}" for k, v in n_rows.items())
    else:
        rows = unknown if n_rows is None else str(int(n_rows))
    lines.append(f"- Rows: {rows}")
    lines.append(f"- Class balance: {_format_balance(class_balance)}")
    lines += ["", "## Holdout metrics", ""]
    if metrics:
        lines += [f"| metric | value | {confidence:.0%} interval |", "|---|---|---|"]
        lines += [_format_metric(name, value) for name, value in metrics.items()]
    else:
        lines.append(unknown)
    lines += ["", "## Decision threshold", ""]
    lines.append(f"- Threshold: {unknown if threshold is None else f'{threshold:.4f}'}")
    lines.append(f"- Rationale: {threshold_rationale or unknown}")
    lines += ["", f"## Features ({len(features)})", ""]
    lines.append(", ".join(f"`{f}`" for f in features) if features else unknown)
    lines += ["", "## Known limits", ""]
    limits = DEFAULT_KNOWN_LIMITS if known_limits is None else known_limits
    lines += [f"- {limit}" for limit in limits] if limits else ["none recorded"]
    if extra:
        lines += ["", "## Other details", ""]
        lines += [f"- {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"
