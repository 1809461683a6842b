"""The non-dominated (Pareto) frontier of cost/quality points — a pure function.

Used by the widgets' live Pareto plot, and by anyone comparing measurements in code.

Example:
    >>> pareto_front([(1, 0.80), (2, 0.90), (3, 0.85), (4, 0.95)])
    [0, 1, 3]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["dominates", "pareto_front"]


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
