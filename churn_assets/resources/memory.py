"""Freed memory handed back to the system, so a long run's resident size follows what it holds.

One `churn-assets run` process executes every step of `training_job`. Without this, what a step
freed stays in the process: cyclic garbage (a step's frames and contexts) until the collector's
next full pass, pages of Arrow's memory pool (mimalloc keeps about 0.8 GiB after reading the 5M-row
features table; nothing but Arrow reuses them), and free pages of glibc's malloc arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache

import pyarrow as pa


@cache
def _malloc_trim():
    """glibc's `malloc_trim`, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_arrow_pool() -> None:
    """Return the free pages of Arrow's default memory pool to the system."""
    pa.default_memory_pool().release_unused()


def release_memory() -> None:
    """Collect cyclic garbage, then return Arrow's and malloc's free pages to the system."""
    gc.collect()
    release_arrow_pool()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
