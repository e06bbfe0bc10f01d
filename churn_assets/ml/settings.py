"""Fields of the settings dataclasses (`GateConfig`, `DriftConfig`) with their descriptions.

A description is kept in the field's metadata, so the dataclass stays the one place that defines a
setting: `churn_assets.defs.settings.config_from` reads names, types, defaults and descriptions
from it to build the Dagster run config.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def setting(
    default: Any = dataclasses.MISSING,
    description: str = "",
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
) -> Any:
    """Return a dataclass field with `default` (or `default_factory`) and a description."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"description": description}
    )
