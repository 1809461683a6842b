"""lab.stats against independent references: SciPy's binomial test and Wilson interval, and
the Wilson bounds solved as the roots of their defining quadratic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, norm

from lab.stats import (
    PairedComparison,
    accuracy_interval,
    mcnemar_exact,
    ratio_verdict,
    same_within_noise,
)

ALLOWED_WORDS = ("must", "allowed")


def _names_what_is_allowed(exc: BaseException) -> bool:
    return any(word in str(exc) for word in ALLOWED_WORDS)


# ------------------------------------------------------------------ Wilson interval


def _wilson_by_quadratic(correct: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson bounds are the p solving (p̂ − p)² = z² p (1 − p) / n."""
    z = norm.ppf(0.5 + confidence / 2)
    p_hat = correct / n
    k = z * z / n
    # (1 + k) p² − (2 p̂ + k) p + p̂² = 0
    roots = np.roots([1 + k, -(2 * p_hat + k), p_hat**2])
    low, high = sorted(float(np.real(r)) for r in roots)
    return low, high


@pytest.mark.parametrize(
    ("correct", "n", "confidence"),
    [
        (912, 1000, 0.95),
        (9, 10, 0.95),
        (0, 20, 0.95),
        (20, 20, 0.9),
        (1, 1, 0.5),
        (5000, 10000, 0.99),
    ],
)
def test_wilson_matches_the_quadratic_and_scipy(correct, n, confidence):
    low, high = accuracy_interval(correct, n, confidence)
    assert (low, high) == pytest.approx(_wilson_by_quadratic(correct, n, confidence), abs=1e-9)
    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_hand_computed_value():
    # 9 of 10, 95 %: z = 1.959964, centre = (0.9 + z²/20)/(1 + z²/10), half-width by hand
    z = 1.959963984540054
    centre = (0.9 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.9 * 0.1 / 10 + z * z / 400) / (1 + z * z / 10)
    assert accuracy_interval(9, 10) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert accuracy_interval(0, 7)[0] == 0.0 and accuracy_interval(7, 7)[1] == 1.0


@given(
    n=st.integers(1, 100_000),
    fraction=st.floats(0, 1),
    confidence=st.floats(0.01, 0.999),
)
def test_wilson_agrees_with_scipy_everywhere(n, fraction, confidence):
    correct = round(fraction * n)
    low, high = accuracy_interval(correct, n, confidence)
    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert low == pytest.approx(ci.low, abs=1e-9) and high == pytest.approx(ci.high, abs=1e-9)
    assert 0.0 <= low <= correct / n <= high <= 1.0


def test_wilson_widens_with_confidence_and_narrows_with_n():
    assert np.diff(accuracy_interval(90, 100, 0.99)) > np.diff(accuracy_interval(90, 100, 0.9))
    assert np.diff(accuracy_interval(900, 1000)) < np.diff(accuracy_interval(90, 100))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((5.0, 10), TypeError, "correct must be an integer"),
        ((5, "10"), TypeError, "n must be an integer"),
        ((True, 10), TypeError, "correct must be an integer"),
        ((5, 0), ValueError, r"n must be an integer ≥ 1"),
        ((11, 10), ValueError, "from 0 to n = 10"),
        ((-1, 10), ValueError, "from 0 to n = 10"),
        ((5, 10, 1.0), ValueError, "strictly between 0 and 1"),
        ((5, 10, 0.0), ValueError, "strictly between 0 and 1"),
        ((5, 10, float("nan")), ValueError, "strictly between 0 and 1"),
        ((5, 10, "95%"), TypeError, "strictly between 0 and 1"),
    ],
)
def test_wilson_rejects_bad_input_naming_what_is_allowed(args, error, match):
    with pytest.raises(error, match=match):
        accuracy_interval(*args)


ANYTHING = st.one_of(
    st.integers(-5, 50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.just(np.int64(3)),
    st.just(np.float32(0.5)),
)


@given(correct=ANYTHING, n=ANYTHING, confidence=ANYTHING)
def test_wilson_input_validation_property(correct, n, confidence):
    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    valid = (
        is_int(correct)
        and is_int(n)
        and n >= 1
        and 0 <= correct <= n
        and isinstance(confidence, (float, int, np.floating))
        and not isinstance(confidence, bool)
        and 0 < confidence < 1
    )
    try:
        low, high = accuracy_interval(correct, n, confidence)
    except (ValueError, TypeError) as exc:
        assert not valid, f"valid input rejected: {exc}"
        assert _names_what_is_allowed(exc), str(exc)
    else:
        assert valid and 0 <= low <= high <= 1


# ------------------------------------------------------------------ McNemar


def _paired(b: int, c: int, both: int, neither: int, seed: int = 0):
    """Correctness vectors with the given contingency counts, in shuffled image order."""
    base = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    new = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    order = np.random.default_rng(seed).permutation(len(base))
    return base[order], new[order]


@pytest.mark.parametrize(
    ("b", "c", "expected_p"),
    [
        (10, 2, 158 / 4096),  # 2 · (C(12,0) + C(12,1) + C(12,2)) / 2¹²
        (12, 0, 2 / 4096),
        (0, 12, 2 / 4096),
        (5, 5, 1.0),
        (0, 0, 1.0),
        (1, 0, 1.0),
    ],
)
def test_mcnemar_hand_made_cases(b, c, expected_p):
    base, new = _paired(b, c, both=80, neither=8)
    result = mcnemar_exact(base, new)
    assert result.p_value == pytest.approx(expected_p, rel=1e-12)
    if b + c:
        assert result.p_value == pytest.approx(binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
    assert (result.only_base, result.only_new, result.n) == (b, c, b + c + 88)
    assert result.difference_pt == pytest.approx(100 * (c - b) / result.n)
    assert result.significant == (expected_p < 0.05)


@given(
    b=st.integers(0, 300),
    c=st.integers(0, 300),
    both=st.integers(0, 500),
    neither=st.integers(0, 100),
    seed=st.integers(0, 2**32 - 1),
    alpha=st.floats(0.001, 0.2),
)
def test_mcnemar_agrees_with_scipy_binomtest(b, c, both, neither, seed, alpha):
    assume(b + c + both + neither > 0)
    base, new = _paired(b, c, both, neither, seed)
    kept = (base.copy(), new.copy())
    result = mcnemar_exact(base.astype(int) if seed % 2 else base, new, alpha=alpha)
    reference = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert result.p_value == pytest.approx(reference, rel=1e-9, abs=1e-300)
    assert result.significant == (result.p_value < alpha)
    assert result.base_accuracy == pytest.approx(base.mean())
    assert result.new_accuracy == pytest.approx(new.mean())
    assert result.difference_pt == pytest.approx(100 * (new.mean() - base.mean()))
    assert np.array_equal(base, kept[0]) and np.array_equal(new, kept[1])  # inputs untouched


def test_mcnemar_verdicts_use_the_real_minus_and_show_p():
    noise = PairedComparison(1000, 0.912, 0.908, -0.4, 9, 5, 0.42, False)
    assert noise.verdict == "−0.4 pt, within noise"
    real = PairedComparison(1000, 0.912, 0.891, -2.1, 30, 9, 0.003, True)
    assert real.verdict == "−2.1 pt, significant (p = 0.003)"
    tiny = PairedComparison(10000, 0.5, 0.6, 10.0, 0, 1000, 1e-300, True)
    assert tiny.verdict == "+10.0 pt, significant (p < 0.001)"
    assert PairedComparison(10, 0.5, 0.5, 0.0, 1, 1, 1.0, False).verdict == "±0.0 pt, within noise"
    base, new = _paired(40, 10, both=900, neither=50)
    assert mcnemar_exact(base, new).verdict == "−3.0 pt, significant (p < 0.001)"
    with pytest.raises(AttributeError):
        noise.p_value = 0.0  # frozen


@pytest.mark.parametrize(
    ("base", "new", "error", "match"),
    [
        ([True, False], [True], ValueError, "same length"),
        ([], [], ValueError, "at least one image"),
        ([True, 0.5], [True, True], ValueError, "booleans"),
        ([2, 1], [1, 1], ValueError, "0/1"),
        (["yes", "no"], [True, False], TypeError, "booleans"),
        ("10", [True, False], TypeError, "booleans"),
        ([[True], [False]], [True, False], ValueError, "1-D"),
        (True, [True], ValueError, "1-D"),
        ([True, None], [True, True], TypeError, "booleans"),
        ([[True], [False, True]], [True, False], ValueError, "1-D"),
        ([float("nan")], [True], ValueError, "0/1"),
    ],
)
def test_mcnemar_rejects_bad_input_naming_what_is_allowed(base, new, error, match):
    with pytest.raises(error, match=match):
        mcnemar_exact(base, new)


ELEMENT = st.one_of(
    st.booleans(),
    st.integers(-2, 3),
    st.floats(allow_nan=True),
    st.none(),
    st.text(max_size=2),
)


@given(
    base=st.one_of(st.lists(ELEMENT, max_size=6), ELEMENT),
    new=st.one_of(st.lists(ELEMENT, max_size=6), ELEMENT),
)
def test_mcnemar_input_validation_property(base, new):
    def ok(values):
        return isinstance(values, list) and all(
            v is not None and not isinstance(v, str) and v in (0, 1) for v in values
        )

    valid = ok(base) and ok(new) and len(base) == len(new) > 0
    try:
        result = mcnemar_exact(base, new)
    except (ValueError, TypeError) as exc:
        assert not valid, f"valid input rejected: {exc}"
        assert _names_what_is_allowed(exc), str(exc)
    else:
        assert valid and 0 <= result.p_value <= 1


# ------------------------------------------------------------------ timings


def test_clearly_different_timings_are_not_noise_and_overlapping_ones_are():
    rng = np.random.default_rng(1)
    base = 1.0 + 0.02 * rng.standard_normal(30)
    assert not same_within_noise(base, base * 1.3)
    assert not same_within_noise(base, base / 1.3)
    assert same_within_noise(base, 1.0 + 0.02 * rng.standard_normal(30))
    assert same_within_noise([2.0] * 5, [2.0] * 5)


@given(
    base=st.lists(st.floats(0.1, 10), min_size=1, max_size=3),
    new=st.lists(st.floats(0.1, 10), min_size=1, max_size=3),
)
def test_three_samples_or_fewer_are_always_called_noise(base, new):
    assert same_within_noise(base, new)


@given(
    base=st.lists(st.floats(0.1, 10), min_size=4, max_size=20),
    gap=st.floats(0.01, 100),
    k=st.integers(4, 20),
)
def test_separated_samples_are_never_noise_and_order_does_not_matter(base, gap, k):
    new = list(np.linspace(max(base) + gap, max(base) + 2 * gap, k))
    assert not same_within_noise(base, new)
    assert not same_within_noise(new[::-1], base[::-1])


@pytest.mark.parametrize(
    ("base", "new", "error"),
    [
        ([], [1.0], ValueError),
        ([1.0, float("nan")], [1.0], ValueError),
        ([1.0, float("inf")], [1.0], ValueError),
        (["1.0"], [1.0], TypeError),
        ("12", [1.0], TypeError),
        ([True, False], [1.0], TypeError),
        ([[1.0, 2.0]], [1.0], ValueError),
    ],
)
def test_timing_samples_are_validated(base, new, error):
    with pytest.raises(error, match="must be a non-empty 1-D sequence of finite numbers"):
        same_within_noise(base, new)
    with pytest.raises(ValueError, match="alpha must be strictly between 0 and 1"):
        same_within_noise([1.0], [1.0], alpha=1.5)


@pytest.mark.parametrize(
    ("base", "new", "noisy", "expected"),
    [
        (1.39, 1.0, False, "1.39× faster"),
        (1.0, 2.0, False, "2.0× slower"),
        (1.0, 1.05, True, "≈ same (within noise)"),
        (3.0, 3.0, False, "unchanged"),
        (10.0, 40.0, False, "4.0× slower"),
    ],
)
def test_ratio_verdict_phrasing(base, new, noisy, expected):
    assert ratio_verdict(base, new, noisy) == expected


@given(a=st.floats(1e-6, 1e6), b=st.floats(1e-6, 1e6))
def test_ratio_verdict_is_symmetric_in_its_words(a, b):
    assume(a != b)
    forward, backward = ratio_verdict(a, b, False), ratio_verdict(b, a, False)
    assert forward.split("×")[0] == backward.split("×")[0]
    assert {forward.split()[-1], backward.split()[-1]} == {"faster", "slower"}
    assert ratio_verdict(a, b, False, lower="less", higher="more").split()[-1] in ("less", "more")


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", None, True])
def test_ratio_verdict_rejects_non_positive_or_non_numbers(bad):
    with pytest.raises((TypeError, ValueError), match="must be a positive finite number"):
        ratio_verdict(bad, 1.0, noisy=False)
    with pytest.raises((TypeError, ValueError), match="must be a positive finite number"):
        ratio_verdict(1.0, bad, noisy=True)


@settings(max_examples=200, deadline=None)
@given(
    base=st.lists(st.integers(0, 12).map(lambda v: v / 4), min_size=1, max_size=20),
    new=st.lists(st.integers(0, 12).map(lambda v: v / 4), min_size=1, max_size=20),
)
def test_mann_whitney_matches_scipy(base, new):
    from scipy.stats import mannwhitneyu

    from lab.stats import mann_whitney_p

    if len(set(base + new)) == 1:
        return  # SciPy returns NaN; same_within_noise answers "identical" before testing
    expected = float(mannwhitneyu(base, new, alternative="two-sided").pvalue)
    assert mann_whitney_p(base, new) == pytest.approx(expected, rel=1e-9, abs=1e-12)
