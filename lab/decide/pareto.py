"""The non-dominated (Pareto) frontier of cost/quality points — a pure function.

:func:`tradeoff` computes what every quality-vs-cost plot shows (points, frontier, its
staircase) in one place; the widgets and :func:`lab.decide.recommend.plot_tradeoffs` draw it.

Example:
    >>> pareto_front([(1, 0.80), (2, 0.90), (3, 0.85), (4, 0.95)])
    [0, 1, 3]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from lab.decide import objectives
from lab.evaluation.quality import METRICS
from lab.meters import checks

__all__ = ["Tradeoff", "dominates", "pareto_front", "tradeoff"]


def _point(point: object, what: str) -> tuple[object, object]:
    """``point`` as ``(x, y)``: two real numbers, each possibly None or NaN (unknown); a
    TypeError or ValueError naming ``what`` otherwise (a bool or a string is no coordinate)."""
    if isinstance(point, (str, bytes)) or not isinstance(point, Iterable):
        raise TypeError(f"{what} must be an (x, y) pair of numbers; got {point!r}")
    pair = tuple(point)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an (x, y) pair of numbers; got {len(pair)} values")
    for value in pair:
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise TypeError(
                f"{what} must be an (x, y) pair of numbers (None or NaN when unknown); got "
                f"{value!r} ({type(value).__name__})"
            )
    return pair


def dominates(a: Sequence[float], b: Sequence[float], maximize_y: bool = True) -> bool:
    """True when ``a`` is at least as good as ``b`` on both axes and strictly better on one.

    x is a cost (lower is better); y is better higher (``maximize_y``) or lower.

    Example:
        >>> dominates((1, 0.9), (2, 0.9)), dominates((1, 0.9), (1, 0.9))
        (True, False)
    """
    (ax, ay), (bx, by) = _point(a, "a"), _point(b, "b")
    checks.flag("maximize_y", maximize_y)
    if not maximize_y:
        ay, by = -ay, -by
    return ax <= bx and ay >= by and (ax < bx or ay > by)


def pareto_front(points: Sequence[Sequence[float]], maximize_y: bool = True) -> list[int]:
    """Indices of the points no other point dominates, sorted by increasing x.

    x is a cost to minimize (bytes, ms, grams); y is maximized (accuracy) unless
    ``maximize_y`` is False. Of exact duplicates only the first is kept. Points with a
    NaN or None coordinate are ignored. O(n log n).

    Args:
        points: ``(x, y)`` pairs.
        maximize_y: whether larger y is better.

    Example:
        >>> pareto_front([(10, 0.5), (10, 0.7), (5, 0.6)])
        [2, 1]
    """
    checks.flag("maximize_y", maximize_y)
    if isinstance(points, (str, bytes)) or not isinstance(points, Iterable):
        raise TypeError(f"points must be a list of (x, y) pairs; got {type(points).__name__}")
    if hasattr(points, "columns"):
        raise TypeError(
            "points must be a list of (x, y) pairs; got a DataFrame (iterating it gives its "
            "column names): pass frame[[x_column, y_column]].to_numpy()"
        )
    sign = 1.0 if maximize_y else -1.0
    pairs = [_point(point, f"points[{i}]") for i, point in enumerate(points)]
    valid = [
        (float(x), sign * float(y), i)
        for i, (x, y) in enumerate(pairs)
        if x is not None and y is not None and x == x and y == y  # NaN != NaN
    ]
    # by x ascending, then y best-first, then original order (so the first duplicate wins)
    valid.sort(key=lambda p: (p[0], -p[1], p[2]))
    front: list[int] = []
    best_y = float("-inf")
    for _, y, index in valid:
        if y > best_y:
            front.append(index)
            best_y = y
    return front


@dataclass(frozen=True)
class Tradeoff:
    """What a quality-vs-cost plot shows, computed once, drawn by whoever needs it.

    ``rows`` are the measurements with a usable cost and quality (in the input's order),
    ``x``/``y`` their cost and quality, ``front`` the indices (into ``rows``) of the
    non-dominated ones by increasing cost, and ``step_x``/``step_y`` the frontier as a
    staircase (``drawstyle="steps-post"``) that ends at the largest cost shown.
    """

    objective: str
    quality: str
    rows: list
    x: list[float]
    y: list[float]
    front: list[int]
    step_x: list[float] = field(default_factory=list)
    step_y: list[float] = field(default_factory=list)


def tradeoff(
    rows: Sequence[object], objective: str = "size", quality: str = "accuracy"
) -> Tradeoff:
    """The points and Pareto frontier of ``quality`` (maximized) against ``objective``'s cost
    (:mod:`lab.decide.objectives`) over ``rows`` (Measurements, dicts or a DataFrame). Rows
    with a missing cost or quality (None, NaN) are left out; a cost that cannot be real
    (negative, infinite, text), a quality that is not a number, or a fraction metric
    outside 0–1 (a percentage) is a ValueError/TypeError naming the row.

    Example:
        >>> t = tradeoff([{"artifact_bytes": 10, "accuracy": 0.9},
        ...               {"artifact_bytes": 5, "accuracy": 0.8},
        ...               {"artifact_bytes": 20, "accuracy": 0.85}])
        >>> t.front, t.step_x, t.step_y
        ([1, 0], [5.0, 10.0, 20.0], [0.8, 0.9, 0.9])
    """
    cost = objectives.get(objective)
    if quality not in METRICS:
        raise ValueError(f"quality must be one of {', '.join(METRICS)}; got {quality!r}")
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame: its rows
        rows = [{k: v for k, v in r.items()} for r in rows.to_dict("records")]
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise TypeError(
            f"rows must be a list of Measurements or dicts (or a DataFrame); got "
            f"{type(rows).__name__}"
        )
    fraction = METRICS[quality].unit == "fraction"
    kept, xs, ys = [], [], []
    for i, row in enumerate(rows):
        who = f"rows[{i}]"
        x = cost.checked_value(row, who)
        raw = row.get(quality) if isinstance(row, Mapping) else getattr(row, quality, None)
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, numbers.Real)):
            raise TypeError(f"{who} has {quality}={raw!r}: not a number (None when unknown)")
        y = None if raw is None else float(raw)
        if fraction and y is not None and math.isfinite(y) and not 0.0 <= y <= 1.0:
            raise ValueError(
                f"{who} has {quality}={raw!r}; it must be a fraction from 0 to 1 (a percentage?)"
            )
        if x is None or y is None or not math.isfinite(y):
            continue
        kept.append(row)
        xs.append(x)
        ys.append(y)
    front = pareto_front(list(zip(xs, ys, strict=True)))
    step_x = [xs[i] for i in front]
    step_y = [ys[i] for i in front]
    if step_x and max(xs) > step_x[-1]:
        step_x.append(max(xs))
        step_y.append(step_y[-1])
    return Tradeoff(cost.name, quality, kept, xs, ys, front, step_x, step_y)
