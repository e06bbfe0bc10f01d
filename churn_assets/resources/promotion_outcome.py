"""What one promotion decision returns: the decision, its reason and evidence, and the scores."""

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class PromotionOutcome:
    version: str
    promoted: bool
    reason: str
    champion_version: str | None  # the champion after the decision
    previous_champion: str | None  # the champion before it
    forced: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    # The challenger's holdout probabilities, so callers need not load and score it again.
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able record (without the scores)."""
        record = asdict(self)
        record.pop("scores")
        return record
