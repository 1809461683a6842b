"""A matplotlib figure as a widget: ipympl's live canvas when installed, else a PNG image.

Figures are created once (under ``plt.ioff()``, so nothing is displayed twice) and
then updated in place: change the artists (``set_data``/``set_offsets``), then call
:meth:`FigureView.redraw`, which is ``draw_idle()`` on ipympl.

Example:
    >>> view = FigureView((4, 3))
    >>> line, = view.figure.subplots().plot([1, 2], [3, 4])
    >>> line.set_data([1, 2, 3], [3, 4, 5]); view.redraw()
    >>> view.interactive in (True, False)
    True
"""

from __future__ import annotations

import io
import itertools
import warnings

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["FigureView", "fit_axes"]

_NUMBERS = itertools.count(1000)  # ipympl manager numbers, kept clear of pyplot's


class FigureView:
    """Owns one Figure and the widget that shows it (``.widget``)."""

    def __init__(self, figsize: tuple[float, float], dpi: int = 96) -> None:
        with plt.ioff():
            self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        try:
            from ipympl.backend_nbagg import Canvas, FigureManager
        except ImportError:  # plain matplotlib: re-render a PNG on each redraw
            FigureCanvasAgg(self.figure)
            self.widget: w.DOMWidget = w.Image(format="png")
            self.interactive = False
        else:
            canvas = Canvas(self.figure)
            with warnings.catch_warnings():  # ipympl's Toolbar passes traitlets an extra argument
                warnings.filterwarnings(
                    "ignore", "Passing unrecognized arguments", DeprecationWarning
                )
                FigureManager(canvas, next(_NUMBERS))  # wires canvas.manager for frontend messages
            canvas.header_visible = False
            canvas.footer_visible = False
            canvas.toolbar_visible = "fade-in-fade-out"
            canvas.resizable = False
            self.widget = canvas
            self.interactive = True

    def redraw(self) -> None:
        """Show the artists' new data (``draw_idle`` on ipympl; a fresh PNG otherwise)."""
        if self.interactive:
            self.figure.canvas.draw_idle()
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        self.widget.value = buffer.getvalue()


def fit_axes(ax, xs, ys, empty_x: tuple[float, float] = (1, 10)) -> None:
    """Limits for a log-x cost vs accuracy (%) plot: a margin around the points, 0–100 % clipped."""
    if not len(xs):
        ax.set_xlim(*empty_x)
        ax.set_ylim(0, 100)
        return
    ax.set_xlim(min(xs) / 1.6, max(xs) * 1.6)
    low, high = min(ys), max(ys)
    pad = max(1.5, 0.12 * (high - low))
    ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
