"""The last table a step stored, handed to the next step of the same process without decoding it.

When a run executes its steps in one process (`make run`, `churn-assets run`, `materialize`),
the step that loads a table right after another step stored it would decode the Parquet file it
was just given (0.3-0.6 s CPU per million rows). The IO manager keeps the stored frame here
instead, and the loader takes it when, and only when, the frame is what decoding would give:

- the file still holds the bytes written from this frame (their hash is checked on load);
- the loader asks for text as Arrow (`ARROW_TEXT`), and every column has a dtype that a Parquet
  round trip gives back unchanged (numpy bool, integers, float32/64, and Arrow text `TEXT`);
- a default RangeIndex, unique string column names, no `attrs`.

Only the tables of the last step that stored one are kept (`validate_dataset` stores two), each
taken once: a load of the same file that decodes drops it, and the next step's first table
drops them all, so a process never holds more than what the step before wrote. With a process
per step (`--step-processes`, a pod per step), nothing is kept across steps: every load decodes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_assets.ml.validation_types import TEXT

# dtypes a Parquet file written by pandas reads back as exactly, with the Arrow-text mapper
_ROUND_TRIP = {
    np.dtype(t)
    for t in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float32",
        "float64",
    )
}


@dataclass
class _Kept:
    digest: str
    frame: pd.DataFrame


_lock = threading.Lock()
_step: str | None = None  # the step whose tables are kept
_kept: dict[str, _Kept] = {}  # stored file -> its frame


def round_trips(frame: pd.DataFrame) -> bool:
    """Whether decoding this frame's Parquet file with Arrow text gives this very frame."""
    index = frame.index
    if not isinstance(index, pd.RangeIndex) or index.start != 0 or index.step != 1:
        return False
    names = list(frame.columns)
    if frame.attrs or not all(type(n) is str for n in names) or len(set(names)) != len(names):
        return False
    return all(d == TEXT or d in _ROUND_TRIP for d in frame.dtypes)


def keep(step: str, location: str, digest: str, frame: pd.DataFrame) -> None:
    """Remember `frame`, which `step` (a run's step) just wrote to `location` as bytes hashing to
    `digest`; the tables of any earlier step are forgotten."""
    global _step
    with _lock:
        if step != _step:
            _kept.clear()
            _step = step
        _kept.pop(location, None)
        if round_trips(frame):
            _kept[location] = _Kept(digest, frame)


def take(location: str, arrow_text: bool, digest: Callable[[], str]) -> pd.DataFrame | None:
    """The frame kept for `location` when the loader asks for Arrow text and `digest()` (the hash
    of the file's bytes now) is the one written from it; else None. Either way nothing stays kept
    for `location`: a loader that decodes has its own copy."""
    with _lock:
        kept = _kept.pop(location, None)
    if kept is not None and arrow_text and digest() == kept.digest:
        return kept.frame
    return None


def clear() -> None:
    global _step
    with _lock:
        _kept.clear()
        _step = None
