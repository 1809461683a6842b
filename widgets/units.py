"""Human-readable quantities and changes vs a baseline, for the metrics panel.

Example:
    >>> format_bytes(884_993), format_si(1.2e-6, "Wh"), format_percent(0.9123)
    ('885.0 kB', '1.20 µWh', '91.2 %')
    >>> ratio_change(100, 8, "smaller", "larger"), points_change(0.912, 0.908)
    ('12.5× smaller', '−0.4 pt')
"""

from __future__ import annotations

import math

__all__ = [
    "format_bytes",
    "format_grams",
    "format_percent",
    "format_si",
    "points_change",
    "ratio_change",
]

MINUS = "−"  # U+2212, typographic minus
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
    if value == baseline:
        return "unchanged"
    ratio = baseline / value if value < baseline else value / baseline
    if ratio - 1 <= tolerance:
        return "≈ same (within noise)" if tolerance else "unchanged"
    word = lower if value < baseline else higher
    return f"{ratio:.2f}× {word}" if ratio < 2 else f"{ratio:.1f}× {word}"
