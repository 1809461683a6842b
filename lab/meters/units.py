"""The one style of every quantity the lab writes: SI prefixes, decimal kB, µg/mg/g/kg/t.

``widgets`` (every panel, table and plot) and ``lab``'s own sentences (``lab.recommend``) use
these, so a file is "71.5 kB" and a mass "42.4 µg" everywhere.

Example:
    >>> format_bytes(884_993), format_si(1.2e-6, "Wh"), format_grams(4.24e-5)
    ('885.0 kB', '1.20 µWh', '42.4 µg')
"""

from __future__ import annotations

import math

__all__ = ["format_bytes", "format_grams", "format_si"]

_PREFIXES = [
    (1e12, "T"),
    (1e9, "G"),
    (1e6, "M"),
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "µ"),
    (1e-9, "n"),
    (1e-12, "p"),
]


def format_si(value: float | None, unit: str, digits: int = 3) -> str:
    """``value`` with an SI prefix and ``digits`` significant figures; "n/a" for None.

    Example:
        >>> format_si(0.000512, "g"), format_si(2_500_000, "FLOPs"), format_si(None, "g")
        ('512 µg', '2.50 MFLOPs', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    magnitude = abs(value)
    scale, prefix = next(((s, p) for s, p in _PREFIXES if magnitude >= s * 0.9995), _PREFIXES[-1])
    scaled = value / scale
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(scaled)))))
    return f"{scaled:.{decimals}f} {prefix}{unit}"


def format_grams(grams: float | None) -> str:
    """A mass in µg/mg/g/kg/t (tonnes rather than "Mg").

    Example:
        >>> format_grams(0.00042), format_grams(7300), format_grams(7.3e6)
        ('420 µg', '7.30 kg', '7.30 t')
    """
    if grams is not None and abs(grams) >= 1e6:
        return format_si(grams / 1e6, "t")
    return format_si(grams, "g")


def format_bytes(n: int | None) -> str:
    """Decimal (kB = 1,000 B) file size with one decimal.

    Example:
        >>> format_bytes(512), format_bytes(1_234_567)
        ('512 B', '1.2 MB')
    """
    if n is None:
        return "n/a"
    for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"
