"""One recipe schema: the configs, the search space, the deep links and the sliders agree.

Each surface is asked about the same values (hypothesis draws them around every edge) and
must accept exactly what :mod:`lab.techniques.schema` allows — no surface may offer a
sparsity, a bit-width or a resolution another one refuses.
"""

from __future__ import annotations

import math

import pytest
import traitlets
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import datasets
from lab.search import SearchSpace
from lab.techniques import schema
from lab.techniques.configs import ConfigError, PruneConfig, QuantConfig, ResolutionConfig
from widgets import deeplink
from widgets.sliders import BIT_CHOICES, SIZES, BitWidthSlider, ResolutionSlider, SparsitySlider

NUMBERS = st.one_of(
    st.floats(-2, 2),
    st.sampled_from([0.0, 1.0, 0.95, 0.99, 0.9999999, 1.0000001, -0.0, math.nan, math.inf]),
    st.integers(-3, 3),
)


def _accepts(make) -> bool:
    try:
        make()
    except (ConfigError, ValueError, traitlets.TraitError):
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(NUMBERS)
def test_sparsity_is_the_schemas_interval_everywhere(value):
    allowed = schema.SPARSITY.contains(value)
    assert _accepts(lambda: PruneConfig(value)) == allowed
    assert _accepts(lambda: PruneConfig(0.5, per_layer={"a": value})) == allowed
    config, problems = deeplink.parse_query(f"sparsity={value!r}")
    assert (config.sparsity is not None) == allowed and (problems == []) == allowed
    assert _accepts(lambda: SearchSpace(sparsity=(0.0, value))) == (allowed and value >= 0)
    # the slider offers a part of the interval, never more
    slider = SparsitySlider()
    if _accepts(lambda: setattr(slider, "value", value)):
        assert allowed and value <= slider.max_sparsity
        assert _accepts(lambda: PruneConfig(slider.value))


def test_the_sliders_range_lies_inside_the_schema():
    slider = SparsitySlider()
    assert slider.max_sparsity == schema.SPARSITY_SLIDER_MAX and slider.step == schema.SPARSITY_STEP
    assert schema.SPARSITY.contains(slider.max_sparsity) and schema.SPARSITY.contains(0.0)
    top = round(slider.max_sparsity / slider.step) * slider.step
    assert math.isclose(top, slider.max_sparsity)  # the top is on the grid
    for bad in (1.0, 1.5, 0.0, -0.1):
        with pytest.raises(ValueError, match="max_sparsity"):
            SparsitySlider(max_sparsity=bad)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(-2, 40), st.sampled_from([4.0, "4", True, None])))
def test_bits_are_the_schemas_everywhere(bits):
    allowed = bits in schema.BITS and isinstance(bits, int) and not isinstance(bits, bool)
    assert _accepts(lambda: QuantConfig(bits=bits)) == allowed
    offered = allowed or (bits == schema.OFF_BITS and type(bits) is int)
    text = str(bits)  # what a link holds: "4" and 4 read alike
    config, _ = deeplink.parse_query(f"bits={text}")
    assert (config.bits is not None) == (text.isdigit() and int(text) in deeplink.BITS)
    assert _accepts(lambda: BitWidthSlider(value=bits)) == offered
    assert _accepts(lambda: SearchSpace(bits=(1, bits))) == allowed


def test_bit_choices_are_the_schemas_plus_off():
    assert set(BIT_CHOICES) == {*schema.BITS, schema.OFF_BITS} == set(deeplink.BITS)
    assert list(schema.BITS) == list(range(min(schema.BITS), max(schema.BITS) + 1))
    assert SearchSpace().bits[0] >= min(schema.BITS) and SearchSpace().bits[1] <= max(schema.BITS)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(-2, 40), st.integers(4000, 5000)))
def test_resolutions_are_the_schemas_everywhere(size):
    allowed = schema.RESOLUTION_MIN <= size <= schema.RESOLUTION_MAX
    assert _accepts(lambda: ResolutionConfig(size)) == allowed
    config, _ = deeplink.parse_query(f"resolution={size}")
    assert (config.resolution is not None) == allowed
    assert _accepts(lambda: ResolutionSlider(sizes=(size,), value=size)) == allowed
    # a search space takes the schema's range; checked against Fashion-MNIST, exactly its range
    assert _accepts(lambda: SearchSpace(resolutions=(size,))) == allowed
    low, high = schema.resolution_range()
    fits = _accepts(lambda: SearchSpace(resolutions=(size,)).check(None))
    assert fits == (low <= size <= high)


def test_data_sets_and_sliders_use_the_schemas_pixel_range():
    assert datasets.MIN_SIZE == schema.RESOLUTION_MIN
    low, high = schema.resolution_range()
    assert (low, high) == (datasets.fashion_mnist().min_size, datasets.fashion_mnist().native_size)
    assert all(low <= s <= high for s in SIZES)
    with pytest.raises(datasets.DataError, match="tabular"):
        schema.resolution_range(datasets.as_data((__import__("numpy").ones((20, 3)), [0, 1] * 10)))
