"""One look for every cost-vs-quality plot: one font scale, one tick style, one set of labels.

The dashboard's Pareto plot and its recommendation view (``widgets``), the search view and
notebook 05's three-panel chart (:func:`lab.decide.recommend.plot_tradeoffs`) all call
:func:`style_axes`, so a tick reads "10 kB" or "500 µs" in the same size everywhere, with
the units of the metrics panel (:mod:`lab.meters.units`) and the axis labels of the one
objectives table (:mod:`lab.decide.objectives`); :func:`log_ticks` keeps the labels of a
log axis apart.

Example:
    >>> from matplotlib.figure import Figure
    >>> ax = Figure(figsize=(5.6, 3.4)).subplots()
    >>> ax.set_xscale("log"); _ = ax.set_xlim(2e3, 9e5)
    >>> style_axes(ax, "size")
    >>> ax.get_xlabel(), ax.xaxis.get_ticklabels()[0].get_fontsize() == FONT_SIZES["tick"]
    ('size on disk (log scale)', True)
    >>> tick_text("size")(20_000, None), tick_text("latency")(0.5, None), tick_text("co2")(1.5e-5, None)
    ('20 kB', '500 µs', '15 µg')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from lab.decide import objectives
from lab.meters.units import format_bytes, format_grams, format_si

__all__ = [
    "FONT_SIZES",
    "LABEL_OFFSETS",
    "MAX_XTICKS",
    "axis_label",
    "log_ticks",
    "style_axes",
    "tick_text",
]

# points; one scale in every view (the dashboard's plots are 5.6 × 3.4 in at 96 dpi)
FONT_SIZES = {
    "tick": 8.0,  # tick labels
    "axis": 9.0,  # axis labels
    "title": 9.0,  # an axes' title
    "legend": 7.0,  # legend entries
    "point": 7.0,  # a point's label ("cnn [4-bit channel]")
    "figure_title": 10.0,  # a figure's title above several axes
}
MAX_XTICKS = 6  # labels such as "200 kB" stay apart on a 5-inch-wide axes
# where a point's label may go, tried in order: (dx, dy) in points from the point to the
# text's anchor, and its horizontal alignment (right/left of the point, above/below)
LABEL_OFFSETS = (
    (7, 3, "left"),
    (7, -11, "left"),
    (-7, 3, "right"),
    (-7, -11, "right"),
    (7, 12, "left"),
    (-7, -20, "right"),
    (7, -20, "left"),
    (-7, 12, "right"),
)

# Tick mantissas per decade, densest first: 1-2-5, 1-3, decades only.
_SUBS = ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))
_TRAILING_ZEROS = re.compile(r"^(-?\d+)\.0+(?=\s)|^(-?\d+\.\d*?)0+(?=\s)")


def _compact(text: str) -> str:
    """ "10.0 kB" → "10 kB", "2.50 ms" → "2.5 ms": a tick needs no trailing zeros."""
    return _TRAILING_ZEROS.sub(lambda m: m.group(1) or m.group(2), text, count=1)


_TICKS: dict[str, Callable[[float], str]] = {
    "size": lambda v: format_bytes(int(round(v))),
    "latency": lambda v: format_si(v / 1000, "s"),  # the field is in ms
    "co2": format_grams,
    "energy": lambda v: format_si(v * 1e3, "Wh"),  # the field is in kWh
}


def tick_text(objective: str) -> Callable[[float, Any], str]:
    """A matplotlib tick formatter ``f(value, position)`` for ``objective``'s values, in the
    metrics panel's units without trailing zeros ("10 kB", "500 µs", "15 µg"); counts
    (operations, parameters) as the objectives table writes them."""
    found = objectives.get(objective)
    write = _TICKS.get(found.name, found.format)
    return lambda value, _position=None: _compact(write(value)) if value > 0 else ""


def axis_label(objective: str) -> str:
    """The objectives table's axis label, less its unit where the ticks carry theirs
    (:func:`tick_text`): ``"latency, batch 1 p50 (log scale)"`` under "10 µs", "1 ms".

    Example:
        >>> axis_label("latency"), axis_label("operations") == objectives.get("operations").axis_label
        ('latency, batch 1 p50 (log scale)', True)
    """
    found = objectives.get(objective)
    if found.name not in _TICKS:
        return found.axis_label
    return re.sub(r"\([^(),]+, log scale\)", "(log scale)", found.axis_label)


def _ticks_between(low: float, high: float, subs: tuple[float, ...]) -> int:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return sum(low <= s * 10.0**e <= high for e in range(first, last + 1) for s in subs)


def log_ticks(low: float, high: float, max_ticks: int = MAX_XTICKS):
    """A locator for a log axis from ``low`` to ``high`` with at most ``max_ticks`` labels.

    Uses 1-2-5 ticks per decade where they fit, then 1-3, then decades only, then every
    k-th decade, so labels such as "200 kB" never run into each other on wide ranges.
    Below one decade with fewer than two 1-2-5 ticks it adds 3, 4, 6, 7, 8, 9 as needed.

    Example:
        >>> locator = log_ticks(1e3, 1e8)
        >>> [f"{v:g}" for v in locator.tick_values(1e3, 1e8) if 1e3 <= v <= 1e8]
        ['1000', '10000', '100000', '1e+06', '1e+07', '1e+08']
    """
    from matplotlib.ticker import LogLocator

    if not 0 < low < high:
        raise ValueError(f"log_ticks needs 0 < low < high; got low={low!r}, high={high!r}")
    if max_ticks < 2:
        raise ValueError(f"max_ticks must be an integer ≥ 2; got {max_ticks!r}")
    if _ticks_between(low, high, _SUBS[0]) < 2:
        for subs in (
            (1.0, 2.0, 3.0, 5.0),
            (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0),
            tuple(range(1, 10)),
        ):
            subs = tuple(float(s) for s in subs)
            if _ticks_between(low, high, subs) >= 2:
                break
        return LogLocator(subs=subs, numticks=max_ticks + 2)
    for subs in _SUBS:
        if _ticks_between(low, high, subs) <= max_ticks:
            return LogLocator(subs=subs, numticks=max_ticks + 2)
    decades = math.ceil(math.log10(high)) - math.floor(math.log10(low))
    return LogLocator(subs=(1.0,), numticks=max(2, min(max_ticks, decades)))


def style_axes(ax: Any, objective: str | None = None, max_xticks: int = MAX_XTICKS) -> None:
    """Give ``ax`` the one look: :data:`FONT_SIZES` for ticks, axis labels and title; with
    ``objective`` (a name of :mod:`lab.decide.objectives`) also its :func:`axis_label` and, on a log
    x axis whose limits are set, :func:`log_ticks` with :func:`tick_text` labels (minor
    ticks unlabelled). Call it after the limits are set (again after they change)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.tick_params(axis="both", which="both", labelsize=FONT_SIZES["tick"])
    ax.xaxis.label.set_fontsize(FONT_SIZES["axis"])
    ax.yaxis.label.set_fontsize(FONT_SIZES["axis"])
    ax.title.set_fontsize(FONT_SIZES["title"])
    if objective is None:
        return
    ax.set_xlabel(axis_label(objective), fontsize=FONT_SIZES["axis"])
    if ax.get_xscale() != "log":
        return
    low, high = ax.get_xlim()
    if 0 < low < high:
        ax.xaxis.set_major_locator(log_ticks(low, high, max_ticks=max_xticks))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_text(objective)))
    ax.xaxis.set_minor_formatter(NullFormatter())
