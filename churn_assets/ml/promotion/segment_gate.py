"""The gate's segment rule: no segment of at least N rows may lose more than a margin of ROC AUC
against the champion on the same holdout rows.

Off by default (`GateConfig.segment_rule`). It compares point estimates per segment, not
intervals: segments are small, and an interval rule would refuse nearly every challenger; the
`segment_min_rows` floor keeps noisy slices out instead. Single-class segments have no AUC and
are listed as not compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def compare_segments(
    y_true: Any,
    proba_challenger: Any,
    proba_champion: Any,
    labels: pd.DataFrame,
    min_rows: int,
    max_auc_drop: float,
) -> dict[str, Any]:
    """Per-segment ROC AUC of challenger and champion on the same rows, and the verdict.

    Args:
        y_true: 0/1 holdout labels.
        proba_challenger, proba_champion: both models' probabilities for those rows.
        labels: segment labels of the rows (`segments.label_frame`), one column per segment.
        min_rows: segments with fewer rows are not judged (counted in `skipped_small`).
        max_auc_drop: the largest allowed `AUC(champion) - AUC(challenger)` in a segment.

    Returns:
        JSON-able evidence: `segments` (one entry per judged segment with both AUCs, the drop and
        `passed`), `skipped_small`, `failures` (sentences) and `passed`.
    """
    y = np.asarray(y_true).astype(int)
    new, old = np.asarray(proba_challenger, float), np.asarray(proba_champion, float)
    judged, failures, skipped = [], [], 0
    for column in labels.columns:
        codes = labels[column].to_numpy()
        for value in sorted(pd.unique(codes), key=str):
            mask = codes == value
            rows = int(mask.sum())
            if rows < min_rows:
                skipped += 1
                continue
            entry: dict[str, Any] = {"segment": column, "value": str(value), "rows": rows}
            if len(np.unique(y[mask])) < 2:
                judged.append({**entry, "passed": None, "note": "single class: not compared"})
                continue
            auc_new = float(roc_auc_score(y[mask], new[mask]))
            auc_old = float(roc_auc_score(y[mask], old[mask]))
            passed = auc_old - auc_new <= max_auc_drop
            judged.append(
                {
                    **entry,
                    "auc_challenger": auc_new,
                    "auc_champion": auc_old,
                    "drop": auc_old - auc_new,
                    "passed": passed,
                }
            )
            if not passed:
                failures.append(
                    f"segment {column} = {value} ({rows} rows): ROC AUC {auc_new:.4f} vs "
                    f"champion {auc_old:.4f}, a drop of {auc_old - auc_new:.4f} beyond the "
                    f"allowed {max_auc_drop:.4f}"
                )
    return {
        "min_rows": min_rows,
        "max_auc_drop": max_auc_drop,
        "segments": judged,
        "skipped_small": skipped,
        "failures": failures,
        "passed": not failures,
    }


def segment_rule(
    gate, y_true: Any, proba: Any, champion_proba: Any, labels: pd.DataFrame | None
) -> dict[str, Any] | None:
    """The segment rule's evidence, or None when the rule is off or there is no champion to
    compare with (`gate`: a `GateConfig`)."""
    if not gate.segment_rule or champion_proba is None:
        return None
    if labels is None or labels.empty:
        note = "the dataset spec names no segments: nothing to compare"
        return {"segments": [], "failures": [], "passed": True, "note": note}
    return compare_segments(
        y_true, proba, champion_proba, labels, gate.segment_min_rows, gate.segment_max_auc_drop
    )
