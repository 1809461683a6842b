"""One vocabulary for the recipe's ranges: every surface that takes a sparsity, a bit-width
or a resolution reads its bounds from here.

The configs (:class:`~lab.techniques.configs.PruneConfig`, ``QuantConfig``,
``ResolutionConfig``), the search space (:class:`lab.search.SearchSpace`), the deep links
(``widgets/deeplink.py``) and the dashboard's sliders (``widgets/sliders.py``) derive their
checks from these constants, so their ranges cannot drift apart (``tests/test_schema.py``
asserts that they agree).

=============== ========================================================================
knob            allowed
=============== ========================================================================
sparsity        a fraction in [0, 1): 1.0 would remove every weight; the dashboard's slider
                offers 0 to :data:`SPARSITY_SLIDER_MAX` in :data:`SPARSITY_STEP` steps
bits            an integer from 1 to 8 (:data:`BITS`); the dashboard's "off" is
                :data:`OFF_BITS` (fp32 weights, no quantization)
resolution      an integer number of pixels per side from :data:`RESOLUTION_MIN` to
                :data:`RESOLUTION_MAX`; a data set narrows it (:func:`resolution_range`:
                4–28 px for Fashion-MNIST, 2 px up to the native size for your own images)
=============== ========================================================================

Example:
    >>> SPARSITY.contains(0.9), SPARSITY.contains(1.0)
    (True, False)
    >>> SPARSITY.describe()
    '[0, 1)'
    >>> resolution_range()
    (4, 28)
"""

from __future__ import annotations

from lab.datasets import DataError, as_data
from lab.meters.checks import Interval

__all__ = [
    "BITS",
    "OFF_BITS",
    "RESOLUTION_MAX",
    "RESOLUTION_MIN",
    "SPARSITY",
    "SPARSITY_SLIDER_MAX",
    "SPARSITY_STEP",
    "Interval",
    "resolution_range",
]


# Fraction of weights (or output channels) removed. 1.0 is excluded: a model with every
# weight removed computes a constant.
SPARSITY = Interval(0.0, 1.0, high_open=True)
SPARSITY_STEP = 0.05  # the dashboard slider's grid
SPARSITY_SLIDER_MAX = 0.95  # the most the dashboard's slider offers (within SPARSITY)

# Weight bit-widths a QuantConfig takes; OFF_BITS is the sliders' and links' "off" (fp32).
BITS = (1, 2, 3, 4, 5, 6, 7, 8)
OFF_BITS = 32

# Pixels per side of a ResolutionConfig; a data set's native size is the real upper bound.
RESOLUTION_MIN = 2
RESOLUTION_MAX = 4096


def resolution_range(data: object = None) -> tuple[int, int]:
    """``(smallest, largest)`` px the resolution knob allows on ``data`` (default
    Fashion-MNIST: 4–28); a :class:`lab.datasets.DataError` when the knob does not apply
    (tabular data, non-square images)."""

    dataset = as_data(data)
    problem = dataset.resolution_problem()
    if problem is not None:
        raise DataError(f"the resolution knob does not apply to {dataset.name!r}: {problem}")
    return dataset.min_size, dataset.native_size
