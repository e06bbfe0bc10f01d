"""Plain checks on what a registered model returns and on registry tag values."""

import numpy as np


def check_scores(proba: np.ndarray) -> None:
    """Raise ValueError unless the probabilities are finite, within [0, 1] and not constant."""
    if not np.all(np.isfinite(proba)):
        raise ValueError("the model returned non-finite probabilities")
    if proba.min() < 0 or proba.max() > 1:
        raise ValueError(f"probabilities out of [0, 1]: {proba.min():.3g}..{proba.max():.3g}")
    if len(proba) > 1 and np.ptp(proba) == 0:
        raise ValueError(f"the model gives every row the same probability {proba[0]:.3g}")


def is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True
