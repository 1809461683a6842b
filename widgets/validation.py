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
from collections.abc import Iterable, Sequence

import ipywidgets as w
import traitlets as t

__all__ = [
    "CheckedFloatSlider",
    "Checked",
    "CheckedDropdown",
    "CheckedToggleButtons",
    "Choice",
    "WidgetValueError",
    "choice",
    "fraction",
    "integer",
    "name_list",
]


class WidgetValueError(ValueError, t.TraitError):
    """A widget was given a value it does not allow; the message says which and why."""


class Checked(t.Any):
    """A trait of any type, None included, whose owner's ``@validate`` checks every value:
    the owner's message (naming what is allowed) is the one a user sees, not traitlets'
    "expected a float" (``t.Any`` alone lets None through unchecked)."""

    allow_none = False


class Choice(t.Enum):
    """An ``Enum`` trait whose refusal is a :class:`WidgetValueError` in the lab's words
    ("x_axis must be one of 'size', 'latency', 'co2'; got 'nosuch'"), as the constructor
    arguments' (:func:`choice`), not traitlets' "expected any of …"."""

    def validate(self, obj: object, value: object) -> object:
        try:
            return super().validate(obj, value)
        except t.TraitError:
            choice(self.name, value, self.values or ())
            raise


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
    hint = percent_hint(value)
    raise WidgetValueError(
        f"{name} must be a fraction from {low:g} to {high:g}{what}; got {value!r}{hint}"
    )


def percent_hint(value: object, allowed=None) -> str:
    """``" — a percentage? write 0.5 for 50 %"`` for a number from 1 to 100 given where a
    fraction is expected (and, with ``allowed``, only if ``allowed(value / 100)``), else ``""``.
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if (
        real
        and math.isfinite(float(value))
        and 1 < float(value) <= 100
        and (allowed is None or allowed(float(value) / 100))
    ):
        return f" — a percentage? write {float(value) / 100:g} for {float(value):g} %"
    return ""


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


def name_list(name: str, value: object, allowed: Iterable[str]) -> list[str]:
    """``value`` as a list if it is a list (or tuple) of names from ``allowed``; a single
    string is refused (it would be read letter by letter), as is any unknown name."""
    allowed = tuple(allowed)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise WidgetValueError(
            f"{name} must be a list of names from {', '.join(allowed)}; got {value!r}"
        )
    unknown = [v for v in value if not isinstance(v, str) or v not in allowed]
    if unknown:
        raise WidgetValueError(
            f"{name} holds unknown name(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(allowed)}"
        )
    return list(value)


class CheckedFloatSlider(w.FloatSlider):
    """A ``FloatSlider`` whose ``value`` set in code is first checked by ``check`` (a callable
    raising a :class:`WidgetValueError` naming what is allowed): a value the function
    underneath refuses — a percentage such as 90 where a fraction is expected — is refused,
    never clamped to the slider's end. A value ``check`` allows but outside the slider's
    current range is moved to the nearest end, as ipywidgets does.

    Example:
        >>> s = CheckedFloatSlider(lambda v: fraction("floor", v, 0, 1), min=0.5, max=0.9)
        >>> s.value = 0.3; s.value  # allowed, below the range shown: at its end
        0.5
        >>> s.value = 90  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        WidgetValueError: floor must be a fraction from 0 to 1; got 90 — a percentage? ...
    """

    def __init__(self, check, **kwargs) -> None:
        self._check_value = check
        self.checking = True  # False while the owner moves the slider within its range itself
        super().__init__(**kwargs)

    @t.validate("value")
    def _validate_value(self, proposal: dict) -> float:
        check = getattr(self, "_check_value", None)
        if check is not None and getattr(self, "checking", False):
            check(proposal["value"])
        return super()._validate_value(proposal)


class _NamedChoice:
    """A selection widget whose ``value`` set in code must be one of its options' values
    (None too: "nothing chosen" breaks what observes it): a :class:`WidgetValueError`
    naming ``name`` and the values allowed, not ipywidgets' "Invalid selection"."""

    def __init__(self, name: str, **kwargs) -> None:
        self._choice_name = name
        super().__init__(**kwargs)

    @t.validate("value")
    def _validate_value(self, proposal: dict) -> object:
        name = getattr(self, "_choice_name", None)
        if name is not None and proposal["value"] not in self._options_values:
            choice(name, proposal["value"], self._options_values)
        return super()._validate_value(proposal)


class CheckedDropdown(_NamedChoice, w.Dropdown):
    """A ``Dropdown`` that refuses an unknown value by name (see :class:`_NamedChoice`).

    Example:
        >>> d = CheckedDropdown("metric", options=[("Accuracy", "accuracy")])
        >>> d.value = "mae"  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        WidgetValueError: metric must be one of 'accuracy'; got 'mae'
    """

    value = Checked(None, help="Selected value")  # None too is checked (t.Any lets it by)


class CheckedToggleButtons(_NamedChoice, w.ToggleButtons):
    """``ToggleButtons`` that refuse an unknown value by name (see :class:`_NamedChoice`)."""

    value = Checked(None, help="Selected value")  # None too is checked (t.Any lets it by)
