"""The non-dominated (Pareto) frontier of cost/quality points — a pure function.

:func:`tradeoff` computes what every quality-vs-cost plot shows (points, frontier, its
staircase) in one place; the widgets and :func:`lab.decide.recommend.plot_tradeoffs` draw it.

Example:
    >>> pareto_front([(1, 0.80), (2, 0.90), (3, 0.85), (4, 0.95)])
    [0, 1, 3]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab.decide import objectives

__all__ = ["Tradeoff", "dominates", "pareto_front", "tradeoff"]


def dominates(a: Sequence[float], b: Sequence[float], maximize_y: bool = True) -> bool:
    """True when ``a`` is at least as good as ``b`` on both axes and strictly better on one.

    x is a cost (lower is better); y is better higher (``maximize_y``) or lower.

    Example:
        >>> dominates((1, 0.9), (2, 0.9)), dominates((1, 0.9), (1, 0.9))
        (True, False)
    """
    (ax, ay), (bx, by) = a, b
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
    sign = 1.0 if maximize_y else -1.0
    valid = [
        (float(x), sign * float(y), i)
        for i, (x, y) in enumerate(points)
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
    (:mod:`lab.decide.objectives`) over ``rows`` (Measurements or dicts). Rows without a
    finite, non-negative cost or a finite quality are left out.

    Example:
        >>> t = tradeoff([{"artifact_bytes": 10, "accuracy": 0.9},
        ...               {"artifact_bytes": 5, "accuracy": 0.8},
        ...               {"artifact_bytes": 20, "accuracy": 0.85}])
        >>> t.front, t.step_x, t.step_y
        ([1, 0], [5.0, 10.0, 20.0], [0.8, 0.9, 0.9])
    """
    cost = objectives.get(objective)
    kept, xs, ys = [], [], []
    for row in rows:
        x = cost.value(row)
        raw = row.get(quality) if isinstance(row, dict) else getattr(row, quality, None)
        y = None if raw is None or isinstance(raw, bool) else float(raw)
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
