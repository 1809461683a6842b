"""Statistics for honest comparisons: is a change of accuracy, latency or energy real or noise?

* :func:`accuracy_interval` — Wilson score interval of an accuracy measured on ``n`` images.
* :func:`mcnemar_exact` — two models scored on the *same* images: exact McNemar test.
* :func:`same_within_noise` — two sets of timing (or energy) samples: Mann–Whitney U test.
* :func:`ratio_verdict` — the one phrasing of a latency/energy change ("1.39× faster").

Everything is the standard library and NumPy (SciPy, ~60 MiB per kernel, serves the tests
as the independent reference).

Example:
    >>> low, high = accuracy_interval(912, 1000)
    >>> round(low, 3), round(high, 3)
    (0.893, 0.928)
    >>> mcnemar_exact([True] * 90 + [False] * 10, [True] * 88 + [False] * 12).verdict
    '−2.0 pt, within noise'
    >>> ratio_verdict(1.39, 1.0, noisy=False)
    '1.39× faster'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "PairedComparison",
    "accuracy_interval",
    "mann_whitney_p",
    "mcnemar_exact",
    "ratio_verdict",
    "same_within_noise",
]

MINUS = "−"  # U+2212, typographic minus
SAME = "≈ same (within noise)"


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_probability(name: str, value: object) -> float:
    """``value`` as a float strictly between 0 and 1, or a TypeError/ValueError naming that."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number strictly between 0 and 1; got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:  # also catches NaN
        raise ValueError(f"{name} must be strictly between 0 and 1; got {value!r}")
    return value


def accuracy_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for an accuracy of ``correct`` out of ``n`` images.

    The Wilson score interval (without continuity correction) stays inside [0, 1] and keeps
    close to its nominal coverage even at accuracies near 100 % or on few images, where the
    textbook "p ± z·√(p(1−p)/n)" (Wald) interval is too narrow.

    Args:
        correct: images classified correctly, an integer from 0 to ``n``.
        n: images evaluated, an integer ≥ 1.
        confidence: coverage of the interval, strictly between 0 and 1.

    Returns:
        ``(low, high)`` as fractions.

    Raises:
        TypeError: ``correct`` or ``n`` is not an integer, ``confidence`` not a number.
        ValueError: a value is outside the ranges above.

    Example:
        >>> [round(x, 4) for x in accuracy_interval(9, 10)]
        [0.5958, 0.9821]
    """
    for name, value in (("correct", correct), ("n", n)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an integer (a count of images); got {value!r}")
    correct, n = int(correct), int(n)
    if n < 1:
        raise ValueError(f"n must be an integer ≥ 1 (images evaluated); got {n}")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be an integer from 0 to n = {n}; got {correct}")
    confidence = _check_probability("confidence", confidence)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = correct / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact ends, no rounding residue
    high = 1.0 if correct == n else min(1.0, centre + half)
    return low, high


def _binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips (``k ≤ n / 2``)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1))  # exact integers: no underflow
    return min(1.0, 2 * tail / 2**n)


def _as_array(allowed: str, values: object) -> np.ndarray:
    """``values`` as a NumPy array; a string or ragged nesting raises, saying what is ``allowed``."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{allowed}; got a string")
    try:
        return np.asarray(values)
    except (ValueError, TypeError) as exc:  # ragged nesting and the like
        raise ValueError(f"{allowed}; got {type(values).__name__} ({exc})") from None


def _as_outcomes(name: str, values: object) -> np.ndarray:
    """``values`` as a 1-D bool array; accepts bools and 0/1 numbers, rejects everything else."""
    allowed = f"{name} must be a 1-D sequence of booleans (or 0/1), one per image"
    array = _as_array(allowed, values)
    if array.ndim != 1:
        raise ValueError(f"{allowed}; got an array of shape {array.shape}")
    if array.dtype == bool:
        return array.copy()
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{allowed}; got elements of type {array.dtype}")
    if not np.isin(array, (0, 1)).all():
        bad = array[~np.isin(array, (0, 1))][0]
        raise ValueError(f"{allowed}; got the value {bad!r}")
    return array == 1


@dataclass(frozen=True)
class PairedComparison:
    """Two models scored on the same ``n`` images, and the exact McNemar test of the change.

    Attributes:
        n: images compared.
        base_accuracy, new_accuracy: fractions correct.
        difference_pt: new − base in percentage points.
        only_base: images only the base model got right (b).
        only_new: images only the new model got right (c).
        p_value: exact two-sided binomial test of b against c (1.0 when b + c = 0).
        significant: ``p_value < alpha``.
        alpha: the significance level used.
    """

    n: int
    base_accuracy: float
    new_accuracy: float
    difference_pt: float
    only_base: int
    only_new: int
    p_value: float
    significant: bool
    alpha: float = 0.05

    @property
    def verdict(self) -> str:
        """E.g. ``"−0.4 pt, within noise"`` or ``"−2.1 pt, significant (p = 0.003)"``."""
        delta = round(self.difference_pt, 1)
        if delta == 0:
            change = "±0.0 pt"
        else:
            change = f"{'+' if delta > 0 else MINUS}{abs(delta):.1f} pt"
        if not self.significant:
            return f"{change}, within noise"
        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        return f"{change}, significant ({p})"


def mcnemar_exact(
    base_correct: Sequence[bool] | np.ndarray,
    new_correct: Sequence[bool] | np.ndarray,
    alpha: float = 0.05,
) -> PairedComparison:
    """Exact McNemar test: is the new model's accuracy different from the base's, or noise?

    Only the discordant images count: ``b`` that only the base model got right and ``c``
    that only the new one got right. Under "no difference" each discordant image is a fair
    coin flip, so the two-sided p-value is ``min(1, 2 · BinomCDF(min(b, c); b + c, ½))``.

    Args:
        base_correct, new_correct: per-image correctness (bools or 0/1), same images, same order.
        alpha: significance level, strictly between 0 and 1.

    Raises:
        TypeError: an input is not boolean-like (strings, objects, …).
        ValueError: inputs of different lengths, empty, not 1-D, or numbers other than 0/1.

    Example:
        >>> base = [True] * 95 + [False] * 5
        >>> new = [False] * 12 + [True] * 83 + [False] * 5
        >>> result = mcnemar_exact(base, new)
        >>> result.only_base, result.only_new, result.verdict
        (12, 0, '−12.0 pt, significant (p < 0.001)')
    """
    base = _as_outcomes("base_correct", base_correct)
    new = _as_outcomes("new_correct", new_correct)
    if len(base) != len(new):
        raise ValueError(
            "base_correct and new_correct must have the same length (one entry per image); "
            f"got {len(base)} and {len(new)}"
        )
    if len(base) == 0:
        raise ValueError("base_correct and new_correct must hold at least one image; got none")
    alpha = _check_probability("alpha", alpha)
    n = len(base)
    b = int(np.count_nonzero(base & ~new))
    c = int(np.count_nonzero(new & ~base))
    p_value = _binomial_two_sided(min(b, c), b + c)
    base_accuracy = int(base.sum()) / n
    new_accuracy = int(new.sum()) / n
    return PairedComparison(
        n=n,
        base_accuracy=base_accuracy,
        new_accuracy=new_accuracy,
        difference_pt=100 * (c - b) / n,
        only_base=b,
        only_new=c,
        p_value=p_value,
        significant=p_value < alpha,
        alpha=alpha,
    )


def _as_samples(name: str, values: object) -> np.ndarray:
    allowed = f"{name} must be a non-empty 1-D sequence of finite numbers (per-run measurements)"
    array = _as_array(allowed, values)
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise TypeError(f"{allowed}; got elements of type {array.dtype}")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{allowed}; got an array of shape {array.shape}")
    array = array.astype(float)
    if not np.isfinite(array).all():
        raise ValueError(f"{allowed}; got {array[~np.isfinite(array)][0]!r}")
    return array


def same_within_noise(
    base_samples: Sequence[float] | np.ndarray,
    new_samples: Sequence[float] | np.ndarray,
    alpha: float = 0.05,
) -> bool:
    """True when a timing (or energy) change is inside the measurement noise.

    Uses the two-sided Mann–Whitney U test (:func:`mann_whitney_p`, SciPy's default method
    without loading SciPy: ~60 MiB per kernel): the change is noise unless ``p < alpha``. It compares whole distributions of
    per-run samples, needs no normality, and is robust to the odd slow outlier run. With fewer
    than 4 samples on a side no difference can reach p < 0.05, so everything counts as noise:
    collect more runs for a verdict.

    Args:
        base_samples, new_samples: per-run measurements (ms, Wh, …), finite, at least one each.
        alpha: significance level, strictly between 0 and 1.

    Raises:
        TypeError: samples that are not numbers.
        ValueError: empty, not 1-D, or non-finite samples; ``alpha`` out of range.

    Example:
        >>> same_within_noise([1.00, 1.02, 0.99, 1.01, 1.03], [1.01, 0.98, 1.02, 1.00, 1.04])
        True
        >>> same_within_noise([1.00, 1.02, 0.99, 1.01, 1.03], [1.40, 1.38, 1.45, 1.41, 1.39])
        False
    """
    base = _as_samples("base_samples", base_samples)
    new = _as_samples("new_samples", new_samples)
    alpha = _check_probability("alpha", alpha)
    if np.ptp(np.concatenate([base, new])) == 0:
        return True  # every sample identical: nothing changed
    p_value = mann_whitney_p(base, new)
    return not p_value < alpha  # NaN (degenerate) counts as noise


def _average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties averaged, and the sizes of the tie groups."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(values)])
    group_rank = starts + (sizes + 1) / 2.0  # mean of 1-based ranks start+1 … start+size
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(group_rank, sizes)
    return ranks, sizes


def _exact_u_cdf(u: int, n1: int, n2: int) -> float:
    """P(U ≤ u) under the null hypothesis (no ties), by counting arrangements."""
    # counts[i][j][k]: arrangements of i and j samples with U = k, built row by row
    size = n1 * n2 + 1
    previous = [[1] + [0] * (size - 1) for _ in range(n2 + 1)]  # i = 0: U = 0
    for _ in range(n1):
        current = [[1] + [0] * (size - 1)]  # j = 0: U = 0
        for j in range(1, n2 + 1):
            row = [0] * size
            for k in range(size):  # the largest value is from sample 1 (adds j) or sample 2
                row[k] = (previous[j][k - j] if k >= j else 0) + current[j - 1][k]
            current.append(row)
        previous = current
    counts = previous[n2]
    return sum(counts[: u + 1]) / math.comb(n1 + n2, n1)


def mann_whitney_p(base: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U test, as SciPy's ``mannwhitneyu`` computes it by
    default: exact when both samples have fewer than 8 values and there are no ties, else the
    normal approximation with tie correction and continuity correction.

    Example:
        >>> round(mann_whitney_p([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]), 4)
        0.0286
    """
    x, y = _as_samples("base", base), _as_samples("new", new)
    n1, n2 = len(x), len(y)
    ranks, ties = _average_ranks(np.concatenate([x, y]))
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2)
    u = max(u1, n1 * n2 - u1)  # the larger U: two-sided
    if n1 < 8 and n2 < 8 and np.all(ties == 1):
        return min(1.0, 2 * (1 - _exact_u_cdf(int(round(u)) - 1, n1, n2)))
    n = n1 + n2
    tie_term = float(np.sum(ties**3 - ties)) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / sigma
    return min(1.0, 2 * (1 - NormalDist().cdf(z)))


def ratio_verdict(
    base: float, new: float, noisy: bool, lower: str = "faster", higher: str = "slower"
) -> str:
    """The one phrasing of a change of a cost (latency, energy, …) from ``base`` to ``new``.

    Args:
        base, new: positive finite quantities, e.g. median milliseconds.
        noisy: True when the change is inside the measurement noise (see
            :func:`same_within_noise`); the result is then ``"≈ same (within noise)"``.
        lower, higher: words for ``new < base`` and ``new > base`` ("less", "more" for energy).

    Returns:
        ``"≈ same (within noise)"``, ``"unchanged"`` (exactly equal), or the ratio with two
        decimals below 2× and one from 2× on: ``"1.39× faster"``, ``"2.0× slower"``.

    Raises:
        TypeError, ValueError: ``base`` or ``new`` is not a positive finite number.

    Example:
        >>> ratio_verdict(10.0, 5.0, noisy=False), ratio_verdict(1.0, 1.1, noisy=True)
        ('2.0× faster', '≈ same (within noise)')
    """
    for name, value in (("base", base), ("new", new)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a positive finite number; got {value!r}")
        if not 0 < float(value) < math.inf:
            raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    if noisy:
        return SAME
    if new == base:
        return "unchanged"
    ratio = base / new if new < base else new / base
    word = lower if new < base else higher
    return f"{ratio:.2f}× {word}" if ratio < 2 else f"{ratio:.1f}× {word}"
