"""Request bodies to scoring arrays: the model's columns only, checked field by field.

Only the model's input columns are read from each record (extra keys are never copied, so no
frame is built from what a client invents), numbers become one float matrix and categories one
object matrix laid out as the model expects. Bad input raises `BadRequest` naming the row and
the field; nothing here ever unpickles or evaluates request data.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

FEW_ROWS = 16  # up to this many rows, plain Python loops beat numpy calls
_STRUCTURE = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


class BadRequest(ValueError):
    """The request cannot be scored as sent; `status` and the message go back to the client."""

    def __init__(self, message: str, status: int = 422, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class InputSchema:
    """The raw columns a model takes, with what is known about their training values."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    categories: dict[str, frozenset] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass
class Rows:
    """Parsed rows: `numeric` (n x len(schema.numeric)) float, `categorical` object, flags."""

    numeric: np.ndarray
    categorical: np.ndarray
    flags: list[list[str]]

    def __len__(self) -> int:
        return len(self.flags)

    def frame(self, schema: InputSchema) -> pd.DataFrame:
        """The rows as the DataFrame the Pipeline takes (its raw columns, validated types)."""
        data: dict[str, Any] = {c: self.numeric[:, j] for j, c in enumerate(schema.numeric)}
        for j, c in enumerate(schema.categorical):
            data[c] = self.categorical[:, j]
        return pd.DataFrame(data, columns=schema.columns)


def _reject_constant(name: str) -> float:
    raise BadRequest(f"{name} is not a number JSON allows; send null for a missing value", 400)


def check_depth(body: bytes, limit: int) -> None:
    """Raise BadRequest (400) when arrays/objects nest deeper than `limit` (strings skipped)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return  # cannot nest deeper than the number of openings
    depth, in_string = 0, False
    for match in _STRUCTURE.finditer(body):
        char = match.group()
        if char[0:1] == b"\\":
            continue  # an escaped character inside a string
        if char == b'"':
            in_string = not in_string
        elif not in_string:
            depth += 1 if char in (b"[", b"{") else -1
            if depth > limit:
                raise BadRequest(f"the JSON body nests deeper than {limit} levels", 400)


def load_json(body: bytes, max_depth: int) -> Any:
    """The decoded body; BadRequest (400) for bad JSON, NaN/Infinity or too deep nesting."""
    check_depth(body, max_depth)
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except RecursionError as exc:
        raise BadRequest(f"the JSON body nests deeper than {max_depth} levels", 400) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", 400) from exc


def records(payload: Any) -> list:
    """One record, a list of records, or `{"rows": [...]}` -> the list of records."""
    if isinstance(payload, dict) and "rows" in payload and isinstance(payload["rows"], list):
        payload = payload["rows"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        raise BadRequest("expected a JSON object (one record) or a list of records", 422)
    if not payload:
        raise BadRequest("no rows to score: the list of records is empty", 422)
    return payload


def _category(value: Any, row: int, col: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    raise BadRequest(
        f"row {row}: field '{col}' must be text, a number or null, not {type(value).__name__}",
        field=col,
    )


def parse_rows(payload: Any, schema: InputSchema) -> Rows:
    """Validate the records against `schema` and lay them out; flags mark suspicious rows."""
    items = records(payload)
    n, numeric, categorical = len(items), schema.numeric, schema.categorical
    num = np.empty((n, len(numeric)), dtype=float)
    cat = np.empty((n, len(categorical)), dtype=object)
    for i, record in enumerate(items):
        if not isinstance(record, dict):
            raise BadRequest(f"row {i}: expected an object {{column: value}}", 422)
        for j, col in enumerate(numeric):
            if col not in record:
                raise BadRequest(f"row {i}: field '{col}' is missing", field=col)
            value = record[col]
            kind = type(value)
            if kind is float or (kind is int and abs(value) < 2**63):
                num[i, j] = value
            elif value is None:
                num[i, j] = math.nan
            else:
                raise BadRequest(
                    f"row {i}: field '{col}' must be a number or null, not {kind.__name__}",
                    field=col,
                )
        for j, col in enumerate(categorical):
            if col not in record:
                raise BadRequest(f"row {i}: field '{col}' is missing", field=col)
            cat[i, j] = _category(record[col], i, col)
    return Rows(num, cat, flag_rows(num, cat, schema))


def flag_rows(num: np.ndarray, cat: np.ndarray, schema: InputSchema) -> list[list[str]]:
    """Per row: `out_of_range:<col>`, `unseen_category:<col>`, `all_features_missing`."""
    if len(num) <= FEW_ROWS:
        return [_flags(r, c, schema) for r, c in zip(num.tolist(), cat.tolist(), strict=True)]
    flags: list[list[str]] = [[] for _ in range(len(num))]
    for j, col in enumerate(schema.numeric):
        bounds = schema.ranges.get(col)
        if bounds is None:
            continue
        with np.errstate(invalid="ignore"):
            outside = (num[:, j] < bounds[0]) | (num[:, j] > bounds[1])
        for i in np.flatnonzero(outside):
            flags[i].append(f"out_of_range:{col}")
    for j, col in enumerate(schema.categorical):
        known = schema.categories.get(col)
        if known is None:
            continue
        for i in range(len(cat)):
            value = cat[i, j]
            if value is not None and value not in known:
                flags[i].append(f"unseen_category:{col}")
    empty = np.isnan(num).all(axis=1) if num.shape[1] else np.ones(len(num), dtype=bool)
    if cat.shape[1]:
        empty &= np.array([all(v is None for v in row) for row in cat], dtype=bool)
    for i in np.flatnonzero(empty):
        flags[i].append("all_features_missing")
    return flags


def _flags(numbers: list[float], categories: list, schema: InputSchema) -> list[str]:
    """`flag_rows` of one row in plain Python (numpy's per-call cost dominates a few rows)."""
    found = []
    for value, col in zip(numbers, schema.numeric, strict=True):
        bounds = schema.ranges.get(col)
        if bounds is not None and (value < bounds[0] or value > bounds[1]):  # NaN: neither
            found.append(f"out_of_range:{col}")
    for value, col in zip(categories, schema.categorical, strict=True):
        known = schema.categories.get(col)
        if known is not None and value is not None and value not in known:
            found.append(f"unseen_category:{col}")
    if all(v != v for v in numbers) and all(v is None for v in categories):
        found.append("all_features_missing")
    return found


def rows_from_frame(frame: pd.DataFrame, schema: InputSchema) -> Rows:
    """Rows from a DataFrame (cast as `TableInput` does), for tests and the benchmark."""
    from churn_assets.ml.table_input import TableInput

    cast = TableInput(numeric=schema.numeric, categorical=schema.categorical).transform(frame)
    num = cast[list(schema.numeric)].to_numpy(dtype=float)
    cat = cast[list(schema.categorical)].to_numpy(dtype=object)
    return Rows(num, cat, flag_rows(num, cat, schema))
