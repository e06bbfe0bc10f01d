"""Matplotlib figures without pyplot, and their PNG bytes.

Figures use the object-oriented `Figure` with the Agg canvas and never touch pyplot, so no global
backend is switched, nothing is drawn on screen and no figure outlives the call (safe in threads
and in a notebook that uses another backend).
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(width: float, height: float, dpi: int = 100) -> Figure:
    """Return an empty figure of `width` x `height` inches with an Agg canvas attached."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)  # attaches itself: tight_layout and savefig render with Agg
    return fig


def new_axes(title: str, size: tuple[float, float] = (6.0, 5.0)) -> tuple[Figure, Axes]:
    """Return a new figure with one titled axes."""
    fig = new_figure(*size)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def png_bytes(fig: Figure, **savefig: Any) -> bytes:
    """Render `fig` as PNG; `savefig` keywords (dpi, bbox_inches) go to `Figure.savefig`."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    return buffer.getvalue()
