"""Human-readable quantities, changes vs a baseline, and parsing what a user types back.

Example:
    >>> format_bytes(884_993), format_si(1.2e-6, "Wh"), format_percent(0.9123)
    ('885.0 kB', '1.20 µWh', '91.2 %')
    >>> ratio_change(100, 8, "smaller", "larger"), points_change(0.912, 0.908)
    ('12.5× smaller', '−0.4 pt')
    >>> parse_percent("50"), parse_percent("50 %"), parse_percent("0.5")
    (0.5, 0.5, 0.5)
    >>> parse_count("5000"), parse_count("1,000,000"), parse_count("2M")
    (5000.0, 1000000.0, 2000000.0)
"""

from __future__ import annotations

import math
import re

from lab.meters.stats import ratio_verdict
from lab.meters.units import format_bytes, format_grams, format_si

__all__ = [
    "format_bytes",
    "format_count",
    "format_grams",
    "format_percent",
    "format_si",
    "parse_count",
    "parse_percent",
    "points_change",
    "ratio_change",
]

MINUS = "−"  # U+2212, typographic minus


def format_percent(fraction: float | None) -> str:
    """0.9123 → ``"91.2 %"``."""
    return "n/a" if fraction is None else f"{100 * fraction:.1f} %"


def points_change(baseline: float | None, value: float | None) -> str:
    """Change of a fraction in percentage points, e.g. ``"+0.4 pt"``, ``"±0.0 pt"``.

    Example:
        >>> points_change(0.90, 0.95), points_change(0.9, 0.9)
        ('+5.0 pt', '±0.0 pt')
    """
    if baseline is None or value is None:
        return ""
    delta = round(100 * (value - baseline), 1)
    if delta == 0:
        return "±0.0 pt"
    return f"{'+' if delta > 0 else MINUS}{abs(delta):.1f} pt"


def ratio_change(
    baseline: float | None, value: float | None, lower: str, higher: str, tolerance: float = 0.0
) -> str:
    """How many times lower or higher ``value`` is than ``baseline``.

    Worded by :func:`lab.stats.ratio_verdict`, like every latency/energy change in the lab.

    Args:
        baseline, value: positive quantities (a cost: bytes, FLOPs, ms, grams).
        lower, higher: words for value < baseline and value > baseline ("smaller", "larger").
        tolerance: relative difference reported as "≈ same" (measurement noise).

    Example:
        >>> ratio_change(10, 10, "less", "more"), ratio_change(10, 40, "faster", "slower")
        ('unchanged', '4.0× slower')
        >>> ratio_change(1.0, 1.04, "faster", "slower", tolerance=0.1)
        '≈ same (within noise)'
    """
    if not baseline or not value or baseline < 0 or value < 0:
        return ""
    if not math.isfinite(baseline) or not math.isfinite(value):
        return ""
    if value == baseline:
        return "unchanged"
    ratio = baseline / value if value < baseline else value / baseline
    return ratio_verdict(baseline, value, ratio - 1 <= tolerance, lower, higher)


_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_PERCENT = re.compile(rf"([+\-−]?)\s*({_NUMBER})\s*(%?)")


def parse_percent(text: str, maximum: float = 1.0, name: str = "Value") -> float:
    """What a user typed as a percentage, as a fraction from 0 to ``maximum``.

    ``"50"``, ``"50%"``, ``"50 %"`` and ``"0.5"`` all mean 50 %: a number with a ``%``
    sign, or from 1 up, is a percentage; a bare number below 1 is a fraction.

    Args:
        text: what was typed.
        maximum: the largest allowed fraction (0.95 for 95 %).
        name: what the value is, for the message ("Pruning").

    Raises:
        ValueError: ``text`` is not a number, or outside 0 – ``maximum``; the message names
            the allowed range and gives examples.

    Example:
        >>> parse_percent("35%", maximum=0.95), parse_percent(".2")
        (0.35, 0.2)
        >>> parse_percent("120", maximum=0.95, name="Pruning")
        Traceback (most recent call last):
        ...
        ValueError: Pruning must be from 0 % to 95 % (type e.g. 50, 50 % or 0.5); got '120'
    """
    allowed = (
        f"{name} must be from 0 % to {100 * maximum:g} % (type e.g. 50, 50 % or 0.5); got {text!r}"
    )
    if not isinstance(text, str):
        raise ValueError(allowed)
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        raise ValueError(allowed)
    sign, number, percent = match.groups()
    value = float(number)
    fraction = value / 100 if percent or value >= 1 else value
    if sign in ("-", "−") and fraction != 0:
        raise ValueError(allowed)
    if not 0 <= fraction <= maximum + 1e-12:
        raise ValueError(allowed)
    return min(fraction, maximum)


_SUFFIXES = {
    "": 1.0,
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "g": 1e9,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_COUNT = re.compile(
    r"([+\-−]?)\s*"
    r"(\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)"  # 1,000,000 or 1000000 or 2.5
    r"(?:e([+\-]?\d{1,3}))?"  # 1e6
    r"\s*([a-z]*)",
    re.IGNORECASE,
)


def parse_count(text: str, low: float = 1.0, high: float = 1e10, name: str = "Value") -> float:
    """What a user typed as a count ("5000", "1e6", "1,000,000", "2M", "3 billion").

    Commas must group thousands (``1,000``; a decimal comma is ambiguous and rejected);
    spaces and underscores between digits are ignored. Suffixes: k (thousand), M or mn
    (million), G, B or bn (billion), or the words; case does not matter.

    Args:
        text: what was typed.
        low, high: the allowed range, inclusive.
        name: what is counted, for the message ("Inferences per day").

    Raises:
        ValueError: not a number, or outside ``low`` – ``high``; the message names both.

    Example:
        >>> parse_count("1.5k"), parse_count("1e6"), parse_count("10 000")
        (1500.0, 1000000.0, 10000.0)
        >>> parse_count("0", low=100, high=1e10, name="Inferences per day")
        Traceback (most recent call last):
        ...
        ValueError: Inferences per day must be a number from 100 to 10 billion (e.g. 5000, 1e6, 1,000,000 or 2M); got '0'
    """
    allowed = (
        f"{name} must be a number from {format_count(low)} to {format_count(high)} "
        f"(e.g. 5000, 1e6, 1,000,000 or 2M); got {text!r}"
    )
    if not isinstance(text, str):
        raise ValueError(allowed)
    compact = re.sub(r"(?<=\d)[ _\u00a0\u202f](?=\d)", "", text.strip())
    match = _COUNT.fullmatch(compact)
    if match is None or match.group(4).lower() not in _SUFFIXES:
        raise ValueError(allowed)
    sign, number, exponent, suffix = match.groups()
    try:
        value = float(number.replace(",", "")) * 10.0 ** int(exponent or 0)
    except OverflowError:
        raise ValueError(allowed) from None
    value *= _SUFFIXES[suffix.lower()]
    if sign in ("-", "−"):
        value = -value
    if not low <= value <= high:  # also rejects inf
        raise ValueError(allowed)
    return value


def format_count(value: float) -> str:
    """A count for reading back: digits grouped by thousands, or "N billion" from 1e9.

    Example:
        >>> format_count(5000), format_count(1778279.41), format_count(1e10)
        ('5,000', '1,778,279', '10 billion')
    """
    if abs(value) >= 1e9 and (value / 1e9) == round(value / 1e9, 3):
        return f"{value / 1e9:g} billion"
    if value == int(value) or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
