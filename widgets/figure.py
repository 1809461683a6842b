"""A matplotlib figure as a widget: ipympl's live canvas, or an SVG image drawn in the kernel.

Figures are created once (under ``plt.ioff()``, so nothing is displayed twice) and
then updated in place: change the artists (``set_data``/``set_offsets``), then call
:meth:`FigureView.redraw`: ``draw_idle()`` on ipympl, a fresh SVG otherwise.

The two differ in *when* the browser shows the new figure. ``draw_idle`` asks the browser
to ask the kernel for the image, so the plot trails the widgets updated beside it by one
round trip plus the rendering. An image (``interactive=False``) is rendered at once, in the
calling thread, and sent like any other widget value: updated just before another widget,
both reach the page together. ipympl brings zoom, pan and picking; the image is crisp at any
screen density, needs no matplotlib extension in the page, and cannot be zoomed.

Example:
    >>> view = FigureView((4, 3))
    >>> line, = view.figure.subplots().plot([1, 2], [3, 4])
    >>> line.set_data([1, 2, 3], [3, 4, 5]); view.redraw()
    >>> view.interactive in (True, False)
    True
    >>> still = FigureView((4, 3), interactive=False)  # an SVG image, drawn at each redraw
    >>> _ = still.figure.subplots().plot([1, 2]); still.redraw()
    >>> still.widget.format, bytes(still.widget.value[:5])
    ('svg+xml', b'<svg ')
"""

from __future__ import annotations

import io
import itertools
import warnings
from typing import Any

import ipywidgets as w
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab.decide.plot_style import FONT_SIZES, log_ticks

from .svg_axes import render_axes, supports

__all__ = ["FigureView", "fit_axes", "legend_for", "log_ticks"]

_NUMBERS = itertools.count(1000)  # ipympl manager numbers, kept clear of pyplot's


class FigureView:
    """Owns one Figure and the widget that shows it (``.widget``).

    ``interactive``: ``True`` ipympl's canvas (an error naming the package if it is missing),
    ``False`` an SVG image rendered on each :meth:`redraw`, ``None`` (default) ipympl when
    installed, else the image.
    """

    def __init__(
        self, figsize: tuple[float, float], dpi: int = 96, interactive: bool | None = None
    ) -> None:
        if interactive not in (None, True, False):
            raise TypeError(f"interactive must be True, False or None; got {interactive!r}")
        with plt.ioff():
            self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        try:
            if interactive is False:
                raise ImportError("an image was asked for")
            from ipympl.backend_nbagg import Canvas, FigureManager
        except ImportError:
            if interactive:
                raise ImportError(
                    "FigureView(interactive=True) needs ipympl: pip install ipympl"
                ) from None
            FigureCanvasAgg(self.figure)  # for savefig, when svg_axes cannot draw a figure
            # at its own size in pixels wherever it is placed: a box that stretches its
            # children (an accordion's) would scale the image and its fonts up with the page
            width = round(figsize[0] * dpi)
            self.widget: w.DOMWidget = w.Image(
                format="svg+xml",
                layout={"width": f"{width}px", "max_width": "100%", "height": "auto"},
            )
            self.widget.add_class("lab-figure-image")
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
        # tooltips of an image's scatter points: {collection: one text per point}
        self.point_titles: dict = {}

    def redraw(self) -> None:
        """Show the artists' new data: ``draw_idle`` on ipympl; else a fresh SVG, sent now.

        The SVG comes from :func:`widgets.svg_axes.render_axes` (about a millisecond; the
        browser lays out the text) when it can draw the figure, else from ``savefig``.
        (Rendering ipympl's canvas at once with ``canvas.draw()`` left it at 0×0 px in
        Chromium, so ipympl keeps its round trip; use ``interactive=False`` to avoid it.)
        """
        if self.interactive:
            self.figure.canvas.draw_idle()
            return
        axes = self.figure.axes
        if len(axes) == 1 and supports(axes[0]):
            self.widget.value = render_axes(axes[0], self.point_titles)
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="svg", metadata={"Date": None})
        self.widget.value = buffer.getvalue()


def fit_axes(
    ax,
    xs,
    ys,
    empty_x: tuple[float, float] = (1, 10),
    max_xticks: int | None = None,
    percent: bool = True,
) -> None:
    """Limits for a log-x cost vs accuracy (%) plot: a margin around the points, 0–100 % clipped.

    ``percent=False``: y is in another unit (an error in the target's units, R²): the margin
    is relative to the values and nothing is clipped.

    With ``max_xticks``, the x axis also gets :func:`log_ticks` for its new limits.

    Example:
        >>> ax = Figure().subplots(); ax.set_xscale("log")
        >>> fit_axes(ax, [1e3, 1e7], [90.0, 91.0], max_xticks=5)
        >>> [f"{v:g}" for v in ax.get_xlim()], [f"{v:g}" for v in ax.get_xticks() if 625 <= v < 2e7]
        (['625', '1.6e+07'], ['1000', '10000', '100000', '1e+06', '1e+07'])
    """
    if not len(xs):
        ax.set_xlim(*empty_x)
        ax.set_ylim(0, 100)
    else:
        ax.set_xlim(min(xs) / 1.6, max(xs) * 1.6)
        low, high = min(ys), max(ys)
        if percent:
            pad = max(1.5, 0.12 * (high - low))
            ax.set_ylim(max(0.0, low - pad), min(100.0, high + pad))
        else:
            pad = max(0.12 * (high - low), 0.02 * max(abs(low), abs(high)), 1e-3)
            ax.set_ylim(low - pad, high + pad)
    if max_xticks is not None:
        ax.xaxis.set_major_locator(log_ticks(*ax.get_xlim(), max_ticks=max_xticks))


def legend_for(ax: Any, artists: list, fontsize: float = FONT_SIZES["legend"]) -> None:
    """A legend of exactly ``artists`` (those with something drawn: no entry for a marker the
    plot does not show), placed where it hides the fewest points ("best"); none when empty."""
    if not artists:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        return
    ax.legend(handles=artists, loc="best", fontsize=fontsize, framealpha=0.7)
