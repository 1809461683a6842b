"""Own data, second round (issue 19): the inputs a new user tries — DataFrames with odd
dtypes, channels-last images, masked and sparse arrays, values float32 cannot hold, seeds
and class names of the wrong kind, Datasets whose own code fails — end in a correct result
or a DataError naming the argument and what is allowed, never a torch/NumPy error or a
silently different data set. The checks share :mod:`lab.meters.checks`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from sklearn.datasets import load_wine
from torch.utils.data import DataLoader, Dataset, TensorDataset

from lab.datasets import DataError, as_data, layout_problem
from lab.meters import checks

WINE = load_wine()
X, Y = WINE.data, WINE.target


class Items(Dataset):
    """A map-style dataset: ``make(i)`` is item i (it may raise)."""

    def __init__(self, n, make):
        self.n, self.make = n, make

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.make(i)


# ---------------------------------------------------------------------- features
def test_a_dataframe_names_its_non_numeric_columns_and_takes_bools_and_nullable_numbers():
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["flag"] = Y == 0
    frame["count"] = pd.Series(Y, dtype="Int64")
    data = as_data((frame, Y), standardize=False)
    assert data.input_shape == (5,)
    assert sorted(data.split("train").images[:, 3].unique().tolist()) == [0.0, 1.0]
    frame["kind"] = np.array(["x", "y", "z"])[Y]
    frame["when"] = pd.to_datetime(Y, unit="D")
    with pytest.raises(DataError, match=r"columns 'kind' \(.*\), 'when' \(datetime"):
        as_data((frame, Y))
    holes = frame[["a", "count"]].copy()
    holes.loc[3, "count"] = pd.NA
    with pytest.raises(DataError, match="NaN"):
        as_data((holes, Y))


def test_channels_last_images_are_refused_with_the_transpose_to_use():
    images = np.random.default_rng(0).random((len(Y), 8, 8, 3))
    with pytest.raises(DataError, match=r"H×W×C.*transpose\(0, 3, 1, 2\)"):
        as_data((images, Y))
    data = as_data((images.transpose(0, 3, 1, 2), Y))
    assert data.input_shape == (3, 8, 8)
    with pytest.raises(DataError, match="H×W×C"):  # the lazy path says the same
        as_data((images.astype(np.uint8), Y), lazy=True)


def test_samples_without_values_are_refused():
    with pytest.raises(DataError, match=r"shape \(0,\) hold no values"):
        as_data((np.zeros((len(Y), 0)), Y))


def test_float64_beyond_float32_is_named_as_such_not_as_nan():
    with pytest.raises(DataError, match="beyond float32's range"):
        as_data((X * 1e300, Y))


def test_masked_and_sparse_arrays():
    masked = np.ma.masked_less(X, 0.5)
    with pytest.raises(DataError, match="masked values"):
        as_data((masked, Y))
    unmasked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    assert as_data((unmasked, Y)).fingerprint == as_data((X, Y)).fingerprint
    with pytest.raises(DataError, match=r"sparse matrix.*toarray\(\)"):
        as_data((scipy.sparse.csr_matrix(X), Y))


# ---------------------------------------------------------------------- arguments
@pytest.mark.parametrize("seed", ["0", 1.5, -1, 2**64, True, None])
def test_a_bad_seed_is_a_data_error_naming_seed(seed):
    with pytest.raises(DataError, match="seed must be a whole number"):
        as_data((X, Y), seed=seed)


@pytest.mark.parametrize(
    ("classes", "match"),
    [("abc", "list of class names"), (["a", "a", "b"], "'a' appears more than once"), (3, "list")],
)
def test_classes_must_be_distinct_names(classes, match):
    with pytest.raises(DataError, match=match):
        as_data((X, Y), classes=classes)


def test_name_and_flags_are_checked():
    with pytest.raises(DataError, match="name must be a str"):
        as_data((X, Y), name=5)
    with pytest.raises(DataError, match="standardize must be True or False or None"):
        as_data((X, Y), standardize="no")


# ---------------------------------------------------------------------- torch Datasets
def test_a_datasets_own_exception_is_named_with_its_length():
    short = Items(100, lambda i: (torch.rand(3), i % 2) if i < 10 else [][i])
    with pytest.raises(DataError, match=r"raised IndexError.*__len__ says 100"):
        as_data(short)

    def boom(i):
        raise KeyError("boom")

    with pytest.raises(DataError, match="raised KeyError") as info:
        as_data(Items(10, boom))
    assert isinstance(info.value.__cause__, KeyError)  # the dataset's traceback is kept


@pytest.mark.parametrize("tensors", [1, 3])
def test_samples_that_are_not_pairs_say_how_many_items_they_hold(tensors):
    dataset = TensorDataset(*[torch.rand(10, 3) for _ in range(tensors)])
    with pytest.raises(DataError, match=f"a tuple of {tensors} item"):
        as_data(dataset)


def test_an_unbatched_dataloader_is_named():
    loader = DataLoader(TensorDataset(torch.rand(10, 3), torch.arange(10) % 2), batch_size=None)
    with pytest.raises(DataError, match="batch_size=None"):
        as_data(loader)


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (lambda i: (Image.new("L", (4, 4)), i % 2), "PIL images"),
        (lambda i: ("text", i % 2), "holds a str"),
        (lambda i: (torch.rand(1, 4 + i % 2, 4), i % 2), "different shapes"),
        (lambda i: (torch.rand(1, 4, 4), "ab"[i % 2]), "text labels"),
        (lambda i: (torch.rand(1, 4, 4), i % 2, 0), "a tuple of 3 items"),
    ],
)
def test_the_lazy_path_names_bad_items_like_the_reading_path(item, match):
    with pytest.raises(DataError, match=match):
        as_data(Items(10, item), lazy=True)


def test_the_lazy_path_keeps_float_labels_of_a_regression():
    values = np.linspace(0.1, 3.7, 12)
    data = as_data(Items(12, lambda i: (torch.rand(1, 4, 4), float(values[i]))), lazy=True)
    assert data.task == "regression"
    kept = sorted(torch.cat([data.split(s).labels for s in ("train", "val", "test")]).tolist())
    np.testing.assert_allclose(kept, values)


# ---------------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True),
        st.text(max_size=3),
        st.booleans(),
        st.none(),
    )
)
def test_seed_takes_exactly_the_whole_numbers_of_the_shared_range(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= checks.MAX_SEED
    if ok:
        assert checks.seed(value, DataError) == value
    else:
        with pytest.raises(DataError, match="seed must be a whole number"):
            checks.seed(value, DataError)


@settings(max_examples=120, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=3).map(tuple))
def test_layout_problem_agrees_with_as_data(shape):
    """Every sample shape is either taken by as_data with that input_shape, or refused with
    the very reason layout_problem gives."""
    n = 12
    x = np.random.default_rng(0).random((n, *shape))
    y = np.arange(n) % 2
    problem = layout_problem((1, *shape) if len(shape) == 2 else shape)
    if problem is None:
        data = as_data((x, y))
        assert data.input_shape == ((1, *shape) if len(shape) == 2 else shape)
    else:
        with pytest.raises(DataError, match="hold no values|H×W×C"):
            as_data((x, y))


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=3, max_side=8),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
)
def test_any_float64_table_is_taken_exactly_or_refused_by_name(x):
    """Finite values float32 holds are taken (standardize=False: the same numbers, as
    float32); NaN/inf and values beyond float32 are a DataError, never a silent inf."""
    y = np.arange(len(x)) % 2
    if not np.isfinite(x).all() or np.abs(x).max() > np.finfo(np.float32).max:
        with pytest.raises(DataError, match="NaN or infinite|beyond float32"):
            as_data((x, y), standardize=False)
        return
    data = as_data((x, y), standardize=False)
    parts = [data.split(s) for s in ("train", "val", "test")]
    got = np.concatenate([p.images.numpy() for p in parts])
    assert np.isfinite(got).all()
    assert sorted(map(tuple, got)) == sorted(map(tuple, x.astype(np.float32)))


@pytest.mark.parametrize(
    "options",
    [{"name": "other"}, {"standardize": False}, {"classes": ["x", "y", "z"]}, {"seed": 5}],
)
@pytest.mark.parametrize("source", ["fashion", "data"])
def test_building_options_on_a_finished_data_set_are_refused_not_ignored(options, source):
    data = None if source == "fashion" else as_data((X, Y))
    with pytest.raises(DataError, match=f"{next(iter(options))}=.*Build it again"):
        as_data(data, **options)
    if data is not None:
        assert as_data(data, task=data.task) is data  # task= is checked, not rebuilt


def test_a_list_of_tensors_of_different_shapes_is_named():
    with pytest.raises(DataError, match=r"different shapes \(\(3,\) and \(4,\)\)"):
        as_data(([torch.rand(3), torch.rand(4)] * 10, [0, 1] * 10))
