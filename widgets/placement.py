"""Where to put point labels so that they hide no point, no other label and stay inside the axes.

A greedy choice among a few offsets around each point (right/left, above/below), in the
order given; each label takes the first offset that overlaps nothing placed so far, else the
one that overlaps least. Text extents are estimated from the font size (no renderer: this
runs on every redraw, and the SVG path lets the browser lay out the text); the tests check
the result against matplotlib's own measured extents.

Example:
    >>> from matplotlib.figure import Figure
    >>> ax = Figure(figsize=(4, 3), dpi=96).subplots()
    >>> _ = ax.set_xlim(0, 10), ax.set_ylim(0, 10)
    >>> spots = place_labels(ax, [(5, 5), (5.2, 5.1)], ["first label", "second label"], 7)
    >>> spots[0] != spots[1]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lab.decide.plot_style import LABEL_OFFSETS

__all__ = ["OFFSETS", "place_labels", "text_box"]

OFFSETS = LABEL_OFFSETS  # the one list of places a label may go (lab.decide.plot_style)
CHAR_WIDTH = 0.62  # a sans-serif character's mean width, in font sizes (generous)
POINT_RADIUS = 4.0  # points around a marker's centre that a label must leave free


def text_box(x: float, y: float, text: str, fontsize: float, align: str) -> np.ndarray:
    """[x0, y0, x1, y1] (points, y up) of ``text`` anchored at (x, y) on its baseline."""
    width = CHAR_WIDTH * fontsize * len(text)
    x0 = x if align == "left" else x - width if align == "right" else x - width / 2
    return np.array([x0, y - 0.25 * fontsize, x0 + width, y + 0.95 * fontsize])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def place_labels(
    ax: Any,
    points: Sequence[tuple[float, float]],
    texts: Sequence[str],
    fontsize: float,
    *,
    obstacles: Sequence[tuple[float, float]] = (),
) -> list[tuple[float, float, str]]:
    """One ``(dx, dy, align)`` per label (offset in points from its point; align ``"left"`` or
    ``"right"``) for ``texts`` at ``points`` (data coordinates of ``ax``, whose limits and
    scales must be set), avoiding every point, ``obstacles`` (more points, data coordinates)
    and the labels placed before it, and keeping inside the axes when it can.

    Use as ``ax.annotate(text, point, xytext=(dx, dy), textcoords="offset points",
    ha=align)``.
    """
    scale = 72 / ax.figure.dpi  # display px → points
    every = [*points, *obstacles]
    marks = ax.transData.transform(np.asarray(every, dtype=float).reshape(-1, 2)) * scale
    frame = np.asarray(ax.bbox.extents, dtype=float) * scale
    placed: list[np.ndarray] = []
    chosen = []
    for i, text in enumerate(texts):
        px, py = marks[i]
        best, best_cost = OFFSETS[0], float("inf")
        for dx, dy, align in OFFSETS:
            box = text_box(px + dx, py + dy, text, fontsize, align)
            cost = sum(_overlap(box, other) for other in placed) * 10
            for j, (mx, my) in enumerate(marks):
                r = POINT_RADIUS
                cost += _overlap(box, np.array([mx - r, my - r, mx + r, my + r])) * (
                    10 if j != i else 1
                )
            inside = _overlap(box, frame)
            cost += ((box[2] - box[0]) * (box[3] - box[1]) - inside) * 5  # cut off at the edge
            if cost < best_cost:
                best, best_cost = (dx, dy, align), cost
            if cost == 0:
                break
        dx, dy, align = best
        placed.append(text_box(px + dx, py + dy, text, fontsize, align))
        chosen.append(best)
    return chosen
