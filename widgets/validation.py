"""How widgets refuse what they are given: one error naming the argument and what is allowed.

:class:`WidgetValueError` is a ``ValueError`` (what the lab's functions raise for the same
mistake) and a ``traitlets.TraitError`` (what code that sets a widget's traits expects), so
a value is refused alike by a widget and by the function underneath it.

Example:
    >>> choice("objective", "size", ("bytes", "latency", "co2"))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    WidgetValueError: objective must be one of 'bytes', 'latency', 'co2'; got 'size'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import traitlets as t

__all__ = ["Checked", "WidgetValueError", "choice", "fraction", "integer"]


class WidgetValueError(ValueError, t.TraitError):
    """A widget was given a value it does not allow; the message says which and why."""


class Checked(t.Any):
    """A trait of any type, None included, whose owner's ``@validate`` checks every value:
    the owner's message (naming what is allowed) is the one a user sees, not traitlets'
    "expected a float" (``t.Any`` alone lets None through unchecked)."""

    allow_none = False


def choice(name: str, value: object, allowed: Iterable) -> object:
    """``value`` if it is one of ``allowed``, else a :class:`WidgetValueError` listing them."""
    allowed = tuple(allowed)
    if not any(value is a or (type(value) is type(a) and value == a) for a in allowed):
        raise WidgetValueError(
            f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )
    return value


def fraction(name: str, value: object, low: float, high: float, what: str = "") -> float:
    """A finite real number in [low, high] (a percentage such as 50 is refused with a hint)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if real and math.isfinite(float(value)) and low <= float(value) <= high:
        return float(value)
    hint = ""
    if real and math.isfinite(float(value)) and 1 < float(value) <= 100:
        hint = f" — a percentage? write {float(value) / 100:g} for {float(value):g} %"
    raise WidgetValueError(
        f"{name} must be a fraction from {low:g} to {high:g}{what}; got {value!r}{hint}"
    )


def integer(name: str, value: object, low: int, high: int, what: str = "") -> int:
    """An int (or NumPy integer) in [low, high]; bools, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WidgetValueError(
            f"{name} must be an integer from {low} to {high}{what}; got {value!r} "
            f"({type(value).__name__})"
        )
    if not low <= int(value) <= high:
        raise WidgetValueError(
            f"{name} must be an integer from {low} to {high}{what}; got {value!r}"
        )
    return int(value)
