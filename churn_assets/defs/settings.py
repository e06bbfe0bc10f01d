"""Dagster run config derived from the `ml` dataclasses, so each setting is defined once.

`ml/` holds the settings of a concept as a frozen dataclass (fields, defaults, a description in
each field's metadata, validation in `__post_init__`); `config_from` turns chosen fields of it
into a `dagster.Config` (same names, types, defaults and descriptions, plus any launch-time limits
such as `ge`), and `to_dataclass` builds the dataclass back from a run's config.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from dagster import Config
from pydantic import Field, create_model

T = TypeVar("T")
_SYMBOLS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def config_from(
    source: type,
    fields: Sequence[str],
    limits: Mapping[str, Mapping[str, Any]] | None = None,
) -> type[Config]:
    """Return a `dagster.Config` base class with `fields` of the dataclass `source`.

    Args:
        source: a dataclass whose fields carry `metadata["description"]`.
        fields: the field names to expose as run config (others keep their dataclass default).
        limits: field name -> pydantic constraints checked when a run is launched (`{"ge": 0}`).

    Returns:
        A `Config` subclass; subclass it to add methods or further fields.

    Raises:
        KeyError: if a name in `fields` or `limits` is not a field of `source`.
    """
    hints = typing.get_type_hints(source)
    by_name = {f.name: f for f in dataclasses.fields(source)}
    limits = limits or {}
    for name in [*fields, *limits]:
        if name not in by_name:
            raise KeyError(f"{name!r} is not a field of {source.__name__}")
    definitions: dict[str, Any] = {}
    for name in fields:
        spec = by_name[name]
        if spec.default_factory is not dataclasses.MISSING:
            default: dict[str, Any] = {"default_factory": spec.default_factory}
        else:
            default = {"default": spec.default}
        limit = dict(limits.get(name, {}))
        shown = ", ".join(f"{_SYMBOLS.get(k, k)} {v}" for k, v in limit.items())
        description = spec.metadata.get("description", "")
        if shown:  # the launch-time limit, shown in the launchpad next to the field
            description = f"{description.rstrip('.')} ({shown})."
        definitions[name] = (hints[name], Field(description=description, **default, **limit))
    return create_model(f"{source.__name__}Settings", __base__=Config, **definitions)


def to_dataclass(settings: Config, source: type[T]) -> T:
    """Build `source` from the fields of `settings` it declares (other fields keep defaults).

    Raises:
        ValueError: whatever `source.__post_init__` refuses.
    """
    names = {f.name for f in dataclasses.fields(source)}  # type: ignore[arg-type]
    return source(**{k: v for k, v in settings.model_dump().items() if k in names})
