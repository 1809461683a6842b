"""Objectives: one table of what the lab trades quality against, used everywhere.

Each :class:`Objective` names a :class:`~lab.measure.Measurement` field, its direction, unit,
axis label and wording. The recommendation (:mod:`lab.recommend`), the recipe search
(:mod:`lab.search`), the plots and the widgets all read this table: an objective is added
in one place, and every view speaks of it the same way.

The canonical names are ``size``, ``latency``, ``co2``, ``energy``, ``operations``,
``memory`` (planned peak of one inference), ``activations`` (its activation part: a
microcontroller's RAM) and ``parameters``; the older spellings (``bytes``, ``artifact_bytes``, ``latency_ms_p50``,
``co2_g_per_1k``) are accepted by :func:`get` as aliases.

Example:
    >>> get("bytes").field, get("size").axis_label
    ('artifact_bytes', 'size on disk (bytes, log scale)')
    >>> get("latency").format(0.0423)
    '42.3 µs'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lab.meters.units import format_bytes, format_grams, format_si

__all__ = ["OBJECTIVES", "Objective", "check_cost", "get", "names"]


def _bytes(value: float) -> str:
    return format_bytes(int(round(value)))


def _ms(value: float) -> str:
    return format_si(value / 1000, "s")


def _kwh(value: float) -> str:
    return format_si(value * 1e3, "Wh")


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Objective:
    """A cost the lab minimizes, as every view names and formats it."""

    name: str  # canonical name: "size", "latency", …
    field: str  # the Measurement field it reads
    unit: str  # unit of the field's values
    axis_label: str  # a plot axis (log scale)
    cheapest: str  # a plot's wording: "smallest file"
    superlative: str  # the recommendation's wording: "the smallest of the 3 models on par"
    better: str  # "smaller" (than)
    worse: str  # "larger" (than)
    format: Callable[[float], str]  # a value in words, with its unit
    per_country: bool = False  # priced per country (rows must share one)
    aliases: tuple[str, ...] = ()

    def value(self, row: object) -> float | None:
        """This objective's finite, non-negative value in a Measurement or a row (dict), or
        None when it is missing or not a number."""
        raw = row.get(self.field) if isinstance(row, dict) else getattr(row, self.field, None)
        if raw is None or isinstance(raw, bool):
            return None
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) and number >= 0 else None

    def checked_value(self, row: object, who: str = "a row") -> float | None:
        """:meth:`value`, but a ValueError for a cost that cannot be real (negative,
        infinite, a bool or text): only a missing value (None or NaN) is None."""
        raw = row.get(self.field) if isinstance(row, Mapping) else getattr(row, self.field, None)
        check_cost(raw, self.field, who)
        return self.value(dict(row) if isinstance(row, Mapping) else row)

    def compare(self, a: float, b: float) -> str:
        """How ``a`` compares with ``b``: "42× smaller than", "6% faster than", "about as
        small as" (ratios under 1.1 in percent)."""
        if a <= 0 or b <= 0 or math.isclose(a, b, rel_tol=0.005):
            return f"about as {'small' if self.name == 'size' else 'cheap'} as"
        ratio, word = (b / a, self.better) if a < b else (a / b, self.worse)
        if ratio < 1.1:
            return f"{(ratio - 1) * 100:.0f}% {word} than"
        return f"{ratio:.0f}× {word} than" if ratio >= 10 else f"{ratio:.1f}× {word} than"


def check_cost(value: object, column: str, who: str = "a row") -> None:
    """A ValueError unless ``value`` is a cost that can have been measured: None or NaN
    (unknown), or a finite real number ≥ 0 (> 0 for a file's bytes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if real else math.nan
    if real and math.isnan(number):
        return
    if not real or not math.isfinite(number):
        problem = "not a finite number"
    elif number < 0 or (column == "artifact_bytes" and number == 0):
        problem = "negative" if number < 0 else "an empty file"
    else:
        return
    lowest = "> 0" if column == "artifact_bytes" else "≥ 0"
    raise ValueError(
        f"{who} has {column}={value!r}, which cannot be a measured cost ({problem}); costs "
        f"must be finite numbers {lowest}, or None when unknown: fix or drop that row"
    )


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective(
            "size",
            "artifact_bytes",
            "B",
            "size on disk (bytes, log scale)",
            "smallest file",
            "smallest",
            "smaller",
            "larger",
            _bytes,
            aliases=("bytes", "artifact_bytes"),
        ),
        Objective(
            "latency",
            "latency_ms_p50",
            "ms",
            "latency, batch 1 p50 (ms, log scale)",
            "fastest",
            "fastest",
            "faster",
            "slower",
            _ms,
            aliases=("latency_ms_p50",),
        ),
        Objective(
            "co2",
            "co2_g_per_1k",
            "g per 1,000 inferences",
            "CO₂-eq per 1,000 inferences (g, log scale)",
            "least CO₂",
            "lowest-CO₂",
            "less CO₂",
            "more CO₂",
            lambda v: f"{format_grams(v)} CO₂ per 1,000 inferences",
            per_country=True,
            aliases=("co2_g_per_1k",),
        ),
        Objective(
            "energy",
            "energy_kwh_per_1k",
            "kWh per 1,000 inferences",
            "energy per 1,000 inferences (kWh, log scale)",
            "least energy",
            "lowest-energy",
            "less energy",
            "more energy",
            lambda v: f"{_kwh(v)} per 1,000 inferences",
            aliases=("energy_kwh_per_1k",),
        ),
        Objective(
            "operations",
            "macs",
            "operations per item",
            "operations per item (MACs or comparisons, log scale)",
            "fewest operations",
            "cheapest in operations",
            "fewer operations",
            "more operations",
            lambda v: f"{_count(v)} operations per item",
            aliases=("macs",),
        ),
        Objective(
            "memory",
            "peak_memory_bytes",
            "B",
            "peak memory of one inference (bytes, log scale)",
            "least memory",
            "leanest",
            "less memory",
            "more memory",
            lambda v: f"{_bytes(v)} peak memory",
            aliases=("peak_memory_bytes", "ram"),
        ),
        Objective(
            "activations",
            "peak_activation_bytes",
            "B",
            "peak activation memory (bytes, log scale)",
            "least activation memory",
            "leanest in activations",
            "less activation memory",
            "more activation memory",
            lambda v: f"{_bytes(v)} of activations at the peak",
            aliases=("peak_activation_bytes",),
        ),
        Objective(
            "parameters",
            "parameters",
            "parameters",
            "parameters (log scale)",
            "fewest parameters",
            "cheapest in parameters",
            "fewer parameters",
            "more parameters",
            lambda v: f"{_count(v)} parameters",
        ),
    )
}
_BY_ALIAS = {alias: o for o in OBJECTIVES.values() for alias in (o.name, *o.aliases)}


def names() -> tuple[str, ...]:
    """The canonical objective names."""
    return tuple(OBJECTIVES)


def get(name: object) -> Objective:
    """The objective called ``name`` (or one of its aliases); a ValueError lists the names."""
    if isinstance(name, Objective):
        return name
    if not isinstance(name, str) or name not in _BY_ALIAS:
        allowed = ", ".join(f"{o.name!r} ({o.field})" for o in OBJECTIVES.values())
        raise ValueError(f"objective must be one of {allowed}; got {name!r}")
    return _BY_ALIAS[name]
