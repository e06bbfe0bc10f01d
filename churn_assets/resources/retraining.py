"""The retraining policy the drift sensor follows, configured per deployment."""

from dagster import ConfigurableResource
from pydantic import Field

DEFAULT_COOLDOWN_HOURS = 24.0


class RetrainingPolicy(ConfigurableResource):
    """How often dataset drift may request `training_job`."""

    cooldown_hours: float = Field(
        DEFAULT_COOLDOWN_HOURS,
        ge=0,
        description="Minimum hours between two drift-triggered retraining requests.",
    )

    @property
    def cooldown_seconds(self) -> float:
        return self.cooldown_hours * 3600
