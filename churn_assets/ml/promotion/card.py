"""The markdown model card of a registered model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_KNOWN_LIMITS = (
    "The holdout comes from the same source and period as the training rows; it does not "
    "measure performance on future customers, so watch the drift report.",
    "Unless the MLflow run's parameters show `class_weight` None (XGBoost: "
    "`scale_pos_weight` 1.0), probabilities come from class-weighted training and overstate "
    "churn risk; use the chosen threshold, not 0.5, and recalibrate before reading them as "
    "frequencies.",
    "Permutation importance shows what the model uses, not what causes churn.",
)
# Replaces the second limit when the card says how the probabilities were calibrated.
CALIBRATED_LIMIT = (
    "Probabilities are calibrated on the training rows (see Calibration above): they are churn "
    "frequencies for customers like those rows; drift undoes that, so watch the drift report."
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
    sections: Mapping[str, str] | None = None,
    calibration: str | None = None,
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
        sections: further titled markdown sections (quality by segment, expected profit).
        calibration: how the probabilities were calibrated, in words; when given (and
            `known_limits` is None) it replaces the default limit asking to recalibrate.
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
    if calibration:
        lines.append(f"- Calibration: {calibration}")
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
    for title, body in (sections or {}).items():
        lines += ["", f"## {title}", "", body]
    lines += ["", f"## Features ({len(features)})", ""]
    lines.append(", ".join(f"`{f}`" for f in features) if features else unknown)
    lines += ["", "## Known limits", ""]
    limits = DEFAULT_KNOWN_LIMITS if known_limits is None else known_limits
    if calibration and known_limits is None:
        limits = (limits[0], CALIBRATED_LIMIT, *limits[2:])
    lines += [f"- {limit}" for limit in limits] if limits else ["none recorded"]
    if extra:
        lines += ["", "## Other details", ""]
        lines += [f"- {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"
