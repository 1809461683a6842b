"""The validation vocabulary every layer shares: ranges, whole numbers, flags, seeds.

Each check returns the value in its plain Python form or raises the caller's error class
(``DataError``, ``ConfigError``, ``ValueError``…) with one message shape: *argument* must be
*what is allowed*; got *what was given*. :mod:`lab.techniques.schema` builds the recipe's
ranges from :class:`Interval`; the data, the quality helpers, the recommendation and the
Pareto functions check their arguments with the functions here, so the wording and the
bounds cannot drift apart.

Example:
    >>> whole("seed", 3, 0), flag("use_cache", False)
    (3, False)
    >>> Interval(0.0, 1.0, high_open=True).describe()
    '[0, 1)'
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

__all__ = ["MAX_SEED", "Interval", "flag", "real", "seed", "whole"]

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed and numpy's SeedSequence both take it


@dataclass(frozen=True)
class Interval:
    """A range of real numbers, each end closed or open."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: object) -> bool:
        """True for a finite real number (not a bool) inside the interval."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        x = float(value)
        if not math.isfinite(x):
            return False
        above_low = x > self.low if self.low_open else x >= self.low
        below_high = x < self.high if self.high_open else x <= self.high
        return above_low and below_high

    def describe(self) -> str:
        """``"[0, 1)"``: the interval in the usual notation."""
        return (
            f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
            f"{')' if self.high_open else ']'}"
        )


def _bad(error: type[Exception], argument: str, allowed: str, value: object) -> Exception:
    return error(f"{argument} must be {allowed}; got {value!r} ({type(value).__name__})")


def whole(
    argument: str,
    value: object,
    low: int,
    high: float = math.inf,
    error: type[Exception] = ValueError,
) -> int:
    """``value`` as an ``int`` from ``low`` to ``high`` (NumPy integers too; never a bool,
    a float or a string), else ``error`` naming ``argument`` and the range."""
    allowed = f"a whole number from {low:,}" + ("" if high == math.inf else f" to {int(high):,}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _bad(error, argument, allowed, value)
    if not low <= int(value) <= high:
        raise _bad(error, argument, allowed, value)
    return int(value)


def seed(value: object, error: type[Exception] = ValueError, argument: str = "seed") -> int:
    """A random seed: a whole number from 0 to :data:`MAX_SEED`."""
    return whole(argument, value, 0, MAX_SEED, error)


def flag(
    argument: str, value: object, error: type[Exception] = ValueError, none: bool = False
) -> bool | None:
    """``value`` if it is True or False (or None when ``none``), else ``error``: a string
    such as ``"no"`` is never read as true."""
    if value is None and none:
        return None
    if not isinstance(value, bool):
        raise _bad(error, argument, "True or False" + (" or None" if none else ""), value)
    return value


def real(
    argument: str,
    value: object,
    interval: Interval,
    error: type[Exception] = ValueError,
    hint: str = "",
) -> float:
    """``value`` as a ``float`` inside ``interval`` (finite, not a bool or a string), else
    ``error`` naming ``argument``, the interval and ``hint`` (e.g. "0.9 for 90 %")."""
    if not interval.contains(value):
        allowed = f"a number in {interval.describe()}" + (f" ({hint})" if hint else "")
        raise _bad(error, argument, allowed, value)
    return float(value)
