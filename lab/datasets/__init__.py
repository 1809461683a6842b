"""Your own data: any labelled set of images or feature rows as the lab's four splits.

Every function that needs data — :func:`lab.evaluate`, :func:`lab.apply` (fine-tuning and
int8 calibration), :func:`lab.training.fit`, the sensitivity scan, the thin models and the
dashboard — takes ``data=``, turned into a :class:`Data` by :func:`as_data`:

* ``None``: Fashion-MNIST (:mod:`lab.data`), the default;
* a :class:`Data`;
* ``(X, y)``: NumPy arrays or torch tensors — X is N×D (tabular), N×H×W (grayscale images)
  or N×C×H×W (images, channels first); y holds N labels of any kind (integers, strings,
  booleans) or N numbers to predict;
* a scikit-learn ``Bunch`` (``load_digits()``: its 8×8 ``images``; ``load_wine()``: its
  feature ``data``), class names from ``target_names``;
* a torch ``Dataset`` or ``DataLoader`` yielding ``(x, label)`` (read once, into tensors);
* a dict of splits ``{"train": …, "test": …}`` (optionally ``"val"``, ``"live"``), each
  any of the forms above.

**The task** — ``"binary"``, ``"multiclass"`` or ``"regression"`` — is detected from the
labels (:mod:`lab.tasks`) or given as ``task=``; whole numbers with many distinct values are
ambiguous and raise a :class:`DataError` asking for it. Class labels are encoded once to
0…K−1 (``Data.label_values`` keeps each code's original label, ``Data.classes`` its name);
a regression target stays float64 numbers in its own units (never standardized).

One set given as a whole is split with a fixed seed, stratified by class (by quantile bins
of a regression target), the splits never sharing an item: 70 % ``train``,
10 % ``val``, 20 % ``test``; ``live`` (the dashboard's fast split) is ``test``, or a
stratified 2,000 of it when ``test`` is larger. Arrays and Bunches are standardized with
the training split's mean and standard deviation (per feature, or per channel for images)
unless ``standardize=False`` (pass that when your model expects your own preprocessing);
torch Datasets are taken as they are. The caller's arrays, tensors and datasets are never
modified: the lab keeps float32 copies of small sets.

**Large image sets are kept as given** — a uint8 array, a ``numpy.memmap``, a tensor, a
torch Dataset read item by item — whenever their float32 copy would exceed ``LAZY_BYTES``
(256 MiB), X is a memmap, or ``lazy=True``: each split is then a :class:`lab.lazy.LazyImages`
(positions into your source) converted, standardized and resized batch by batch when read;
the statistics and the fingerprint are computed in one streamed pass.

**Token ids** (text): ``as_data((ids, y), pad_id=0)`` (or ``tokens=True``) with ids an N×L
integer array keeps them int64 — never standardized, never cast to float; ``kind`` is
``"tokens"``, ``vocab_size`` and ``pad_id`` are kept. :mod:`lab.text` turns strings and your
tokenizer into that, and has a synthetic sentiment task.

``Data.example(n)`` gives ``n`` real samples of the live split (what latency is timed on
and FLOPs are counted with).

Bad data — wrong shape, an empty set, mismatched lengths, NaN or infinite values, a task
that does not fit the labels — raises :class:`DataError` naming what was expected.

Example:
    >>> from sklearn.datasets import load_digits
    >>> digits = as_data(load_digits(), name="digits")
    >>> digits
    Data('digits': 1×8×8 images, 10 classes (0, 1, 2, 3, 4, 5, …); train 1258, val 179, test 360, live 360)
    >>> digits.split("live").images.shape
    torch.Size([360, 1, 8, 8])
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from lab.datasets import fashion as fashion
from lab.datasets.errors import DataError
from lab.datasets.lazy import LazyImages, channel_statistics, float32_bytes
from lab.datasets.tasks import check_task, make_target, read_target, strata
from lab.meters import checks

__all__ = [
    "FASHION_MNIST",
    "SPLIT_NAMES",
    "Data",
    "DataError",
    "as_data",
    "layout_problem",
    "fashion_mnist",
]

SPLIT_NAMES = ("train", "val", "test", "live")
FASHION_MNIST = "fashion-mnist"
SPLIT_SEED = 0
SHARES = {"train": 0.7, "val": 0.1, "test": 0.2}  # when one whole set is given
LIVE_MAX = 2_000  # the live split: test, or a stratified 2,000 of it
CLASS_NAMES_SHOWN = 6  # class names a Data's repr lists
MIN_SIZE = 2  # the smallest resolution (px per side) the knob offers for your images
FASHION_MIN_SIZE = 4  # … and for Fashion-MNIST (the README and the deep links say 4–28 px)
# Image sets larger than this as float32 are kept as given and converted batch by batch
# (lab.lazy.LazyImages); smaller ones are converted once, up front.
LAZY_BYTES = 256 * 2**20
_FORMS = (
    "None (Fashion-MNIST), a lab Data, (X, y) arrays or tensors, a scikit-learn Bunch, "
    "a torch Dataset or DataLoader of (x, label), or a dict of splits {'train': …, 'test': …}"
)


@dataclass(frozen=True, eq=False)
class Data:
    """A labelled data set as the lab's splits: ``train``, ``val``, ``test``, ``live``.

    ``input_shape`` is one sample's shape (C×H×W images or D features); ``fingerprint``
    identifies the content (the result store keys evaluations by it).
    """

    name: str
    classes: tuple[str, ...]
    input_shape: tuple[int, ...]
    fingerprint: str
    splits: Mapping[str, fashion.Split] | None = field(default=None, repr=False)
    mean: tuple[float, ...] | None = field(default=None, repr=False)  # standardization applied
    std: tuple[float, ...] | None = field(default=None, repr=False)
    _resized: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    tokens: bool = False  # samples are L integer token ids (never standardized or cast)
    pad_id: int | None = field(default=None, repr=False)  # the padding id of token data
    vocab_size: int | None = field(default=None, repr=False)  # largest id + 1 (tokens)
    task: str = "multiclass"  # "binary", "multiclass" or "regression" (lab.tasks)
    label_values: tuple = field(default=(), repr=False)  # the original label of each code

    @property
    def is_classification(self) -> bool:
        """True for binary and multi-class data; False for regression."""
        return self.task != "regression"

    # ------------------------------------------------------------------ what it is
    @property
    def is_default(self) -> bool:
        """True for the lab's Fashion-MNIST."""
        return self.fingerprint == FASHION_MNIST

    @property
    def kind(self) -> str:
        """``"image"`` (C×H×W samples), ``"tokens"`` (L token ids) or ``"tabular"`` (D features)."""
        if self.tokens:
            return "tokens"
        return "image" if len(self.input_shape) == 3 else "tabular"

    @property
    def n_classes(self) -> int:
        """Classes (0 for regression)."""
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Outputs a model needs: one per class, or 1 for regression."""
        return self.n_classes if self.is_classification else 1

    @property
    def native_size(self) -> int | None:
        """Pixels per side of square images; None for tabular data or non-square images."""
        if self.kind != "image" or self.input_shape[1] != self.input_shape[2]:
            return None
        return self.input_shape[1]

    @property
    def min_size(self) -> int:
        """The smallest resolution offered (px per side)."""
        return FASHION_MIN_SIZE if self.is_default else min(MIN_SIZE, self.native_size or MIN_SIZE)

    def sizes(self) -> tuple[int, ...]:
        """Resolutions (px, largest first) the resolution knob may use; () when it does not apply."""
        if self.native_size is None:
            return ()
        return tuple(range(self.native_size, self.min_size - 1, -1))

    def resolution_problem(self) -> str | None:
        """Why the resolution knob does not apply to this data (None when it does)."""
        if self.kind != "image":
            return f"{self.kind} data has no pixels to downsample"
        if self.native_size is None:
            return f"images are {self.input_shape[1]}×{self.input_shape[2]}, not square"
        return None

    def check_size(self, size: int) -> int:
        """``size`` if the data can be downsampled to it, else a :class:`DataError` saying why."""
        problem = self.resolution_problem()
        if problem is not None:
            raise DataError(f"the resolution knob does not apply to {self.name!r}: {problem}")
        if not self.min_size <= size <= self.native_size:
            raise DataError(
                f"resolution must be {self.min_size} to {self.native_size} px for "
                f"{self.name!r} (its images are {self.native_size}×{self.native_size}); got {size}"
            )
        return size

    def canonical(self, recipe):
        """``recipe`` without a resolution equal to the native size (it changes nothing)."""
        from dataclasses import replace

        if recipe.resolution is not None and recipe.resolution.size == self.native_size:
            return replace(recipe, resolution=None)
        return recipe

    # ------------------------------------------------------------------ its contents
    def split(self, name: str, size: int | None = None) -> fashion.Split:
        """Split ``name`` (train, val, test, live), images area-downsampled to ``size`` px.

        The tensors are cached and shared: treat them as read-only.
        """
        if name not in SPLIT_NAMES:
            raise DataError(f"unknown split {name!r}; choose one of {', '.join(SPLIT_NAMES)}")
        size = self.native_size if size is None else size
        if self.is_default:
            return fashion.load_split(name, size)
        whole = self.splits[name]
        if size is None or size == self.native_size:
            return whole
        self.check_size(size)
        with self._lock:
            if (name, size) not in self._resized:
                images = _resize(whole.images, size)
                self._resized[(name, size)] = fashion.Split(name, images, whole.labels)
            return self._resized[(name, size)]

    def subset(self, name: str, n: int, size: int | None = None) -> fashion.Split:
        """A fixed, stratified ``n`` of split ``name`` (the same images every time; the
        classes in the split's proportions). The whole split when it has ≤ ``n`` images."""
        if self.subset_positions(name, n, size) is None:
            return self.split(name, size)
        return self._part(name, n, size, "part")

    def subset_rest(self, name: str, n: int, size: int | None = None) -> fashion.Split | None:
        """The images of split ``name`` that :meth:`subset` leaves out (None when it leaves
        none): measure a model on both and :meth:`subset_positions` puts the results back in
        the split's order."""
        if self.subset_positions(name, n, size) is None:
            return None
        return self._part(name, n, size, "rest")

    def subset_positions(
        self, name: str, n: int, size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Where :meth:`subset`'s and :meth:`subset_rest`'s images sit in split ``name``
        (two index tensors; None when the subset is the whole split)."""
        whole = self.split(name, size)
        if len(whole) <= n:
            return None
        key = ("positions", name, n)  # the same at every size (labels do not change)
        with self._lock:
            if key not in self._resized:
                share = n / len(whole)
                idx = _stratified(whole.labels, {"part": share, "rest": 1 - share}, SPLIT_SEED)
                self._resized[key] = (torch.tensor(idx["part"]), torch.tensor(idx["rest"]))
            return self._resized[key]

    def _part(self, name: str, n: int, size: int | None, which: str) -> fashion.Split:
        """:meth:`subset`'s images (``which="part"``) or the others (``"rest"``), kept."""
        part, rest = self.subset_positions(name, n, size)
        whole = self.split(name, size)
        key = ("subset", name, n, size, which)
        with self._lock:
            if key not in self._resized:
                chosen = part if which == "part" else rest
                images = _select(whole.images, chosen)
                self._resized[key] = fashion.Split(name, images, whole.labels[chosen])
            return self._resized[key]

    def example(self, batch: int = 1, size: int | None = None) -> torch.Tensor:
        """``batch`` real samples of the live split as the model takes them (the first ones,
        repeated when it has fewer; at ``size`` px for images): float images or features,
        or int64 token ids. What latency is timed on and FLOPs are counted with."""
        live = self.split("live", size if self.kind == "image" else None)
        first = live.images[: min(batch, len(live))]
        return first[torch.arange(batch) % len(first)].clone()

    def describe(self) -> str:
        """One line: the shape of a sample, and the classes (their names) or the regression target."""
        if self.kind == "image":
            c, h, w = self.input_shape
            shape = f"{c}×{h}×{w} images"
        elif self.kind == "tokens":
            shape = (
                f"sequences of {self.input_shape[0]} token ids (vocabulary {self.vocab_size}, "
                f"padding {self.pad_id})"
            )
        else:
            shape = f"{self.input_shape[0]} features"
        if not self.is_classification:
            return f"{shape}, regression target"
        shown = ", ".join(self.classes[:CLASS_NAMES_SHOWN])
        more = ", …" if self.n_classes > CLASS_NAMES_SHOWN else ""
        return f"{shape}, {self.n_classes} classes ({shown}{more})"

    def __repr__(self) -> str:
        if self.is_default:
            sizes = fashion.split_sizes()
        else:
            sizes = {name: len(split) for name, split in self.splits.items()}
        counts = ", ".join(f"{name} {sizes[name]}" for name in SPLIT_NAMES)
        return f"Data({self.name!r}: {self.describe()}; {counts})"


@lru_cache(maxsize=1)
def fashion_mnist() -> Data:
    """The lab's default data: Fashion-MNIST (:mod:`lab.data`), loaded lazily."""
    return Data(
        name=FASHION_MNIST,
        classes=fashion.CLASSES,
        input_shape=(1, fashion.NATIVE_SIZE, fashion.NATIVE_SIZE),
        fingerprint=FASHION_MNIST,
        mean=(fashion.MEAN,),
        std=(fashion.STD,),
    )


# ---------------------------------------------------------------------- conversion
FLOAT32_MAX = float(np.finfo(np.float32).max)
CHANNELS = (1, 3, 4)  # channel counts of grayscale, RGB and RGBA images


def _frame_array(frame: object, what: str) -> np.ndarray:
    """A pandas DataFrame's values as float64 (booleans and nullable numbers included), or a
    DataError naming the columns that are not numbers."""
    from pandas.api import types

    bad = [
        f"{column!r} ({dtype})"
        for column, dtype in frame.dtypes.items()
        if not (types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype))
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataError(
            f"{what} must hold numbers; the DataFrame's columns {shown} do not: encode them "
            "first (e.g. pd.get_dummies for categories, a number per date)"
        )
    # pd.NA → NaN (refused later); a copy: the frame's own buffer may be read-only
    return np.array(frame.to_numpy(dtype=np.float64, na_value=np.nan))


def _tensor(value: object, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], torch.Tensor):
        shapes = sorted({tuple(v.shape) for v in value if isinstance(v, torch.Tensor)})
        if len(shapes) > 1 or not all(isinstance(v, torch.Tensor) for v in value):
            shown = " and ".join(map(str, shapes[:2])) if len(shapes) > 1 else "other objects"
            raise DataError(
                f"{what} is a list of tensors of different shapes ({shown}); the lab needs one "
                "shape: resize or pad them first"
            )
        return torch.stack([v.detach().cpu() for v in value])
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and hasattr(value, "dtypes") and hasattr(value, "columns"):
        return torch.from_numpy(_frame_array(value, what))
    if module == "scipy" and hasattr(value, "toarray"):
        raise DataError(
            f"{what} is a SciPy sparse matrix; the lab needs dense numbers: pass X.toarray() "
            f"({value.shape[0]:,}×{value.shape[1]:,} values)"
        )
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.count_masked(value):
            raise DataError(
                f"{what} is a masked array with {np.ma.count_masked(value):,} masked values; "
                "fill or drop them first (X.filled(value), or X[~X.mask.any(axis=1)])"
            )
        value = value.data
    try:
        array = np.array(value)  # a copy: the caller's array is never touched
    except Exception as exc:  # noqa: BLE001 - any failure means "not array-like"
        raise DataError(f"{what} must be array-like; got {type(value).__name__}") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise DataError(f"{what} must hold numbers; got an array of {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array))


def layout_problem(shape: tuple[int, ...]) -> str | None:
    """Why samples of ``shape`` (one sample, without N) cannot be the lab's features or
    C×H×W images: an axis of length 0, or images with their channels last (more than 4
    "channels" of images 1, 3 or 4 px wide: H×W×C read as C×H×W)."""
    if any(d == 0 for d in shape):
        return f"samples of shape {tuple(shape)} hold no values"
    if len(shape) == 3 and shape[2] in CHANNELS and min(shape[:2]) > max(CHANNELS):
        c, h, w = shape
        return (
            f"samples of shape {tuple(shape)} look like H×W×C images (channels last: {w} "
            f"channels of {c}×{h} px); the lab needs C×H×W: pass X.transpose(0, 3, 1, 2) "
            "(NumPy) or X.permute(0, 3, 1, 2) (torch)"
        )
    return None


def _features(x: object, what: str) -> torch.Tensor:
    x = _tensor(x, what)
    if x.dtype == torch.bool or x.is_complex():
        raise DataError(f"{what} must hold real numbers; got {x.dtype}")
    if x.dtype == torch.float64 and torch.isfinite(x).all() and x.numel():
        if float(x.abs().max()) > FLOAT32_MAX:
            raise DataError(
                f"{what} holds values up to {float(x.abs().max()):.3g}, beyond float32's range "
                f"(±{FLOAT32_MAX:.3g}) that models compute in: rescale them first"
            )
    x = x.float()
    if x.ndim == 3:  # N×H×W grayscale images
        x = x.unsqueeze(1)
    if x.ndim not in (2, 4):
        raise DataError(
            f"{what} must be N×D features, N×H×W or N×C×H×W images; got shape {tuple(x.shape)}"
        )
    if len(x) == 0:
        raise DataError(f"{what} is empty: the lab needs at least one sample per split")
    problem = layout_problem(tuple(x.shape[1:]))
    if problem is not None:
        raise DataError(f"{what}: {problem}")
    if not torch.isfinite(x).all():
        raise DataError(f"{what} holds NaN or infinite values; clean or impute them first")
    return x


def _labels(y: object, n: int, what: str) -> np.ndarray:
    """Raw labels or target values (numbers, strings, booleans): encoded later, once for all
    splits, by :func:`lab.tasks.make_target`."""

    return read_target(y, n, what)


MAX_SAMPLES = 1_000_000  # samples a sized torch Dataset/DataLoader may hold
MAX_UNSIZED_SAMPLES = 100_000  # read at most from one without a length (it may never end)
_TORCH_BATCH = 512


def _sample_tensor(x: object, what: str) -> torch.Tensor:
    """One sample (or a batch) as a float tensor; a DataError naming what it is otherwise."""
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise DataError(f"{what} yields {x.dtype} samples; the lab needs real numbers")
        return x.detach().cpu().float()
    kind = type(x)
    if kind.__module__.split(".")[0] == "PIL":
        raise DataError(
            f"{what} yields PIL images; the lab needs tensors or arrays: add "
            "torchvision.transforms.ToTensor() to the dataset's transform (or np.asarray)"
        )
    if isinstance(x, (str, bytes)):
        raise DataError(
            f"{what} yields text samples ({x[:20]!r}…); the lab needs numbers: turn the text "
            "into features first (e.g. a vectorizer)"
        )
    try:
        array = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - ragged nested lists, odd objects
        raise DataError(
            f"{what} yields samples the lab cannot read as numbers ({kind.__name__}: {exc})"
        ) from None
    if array.dtype.kind in "USa":
        raise DataError(
            f"{what} yields text samples ({kind.__name__} of str); the lab needs numbers: turn "
            "the text into features first (e.g. a vectorizer)"
        )
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise DataError(
            f"{what} yields {kind.__name__} samples holding {array.dtype}; the lab needs "
            "tensors or arrays of numbers"
        )
    return torch.from_numpy(np.array(array, dtype=np.float32))


def _item(item: object) -> str:
    """What a Dataset yielded, for a message: ``"a tuple of 3 items"``, ``"a dict"``."""
    if isinstance(item, (tuple, list)):
        return f"a {type(item).__name__} of {len(item)} item{'s' if len(item) != 1 else ''}"
    return f"a {type(item).__name__}"


def _pair_of(item: object, what: str) -> tuple[object, object]:
    """``(x, label)`` of one Dataset item, or a DataError saying what it yielded instead."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise DataError(
            f"{what} must yield (x, label) pairs; got {_item(item)} (a dict or more items: "
            "wrap the dataset so that __getitem__ returns (x, label))"
        )
    return item[0], item[1]


def _label_value(y: object, what: str) -> object:
    """One label as a number (its range and kind are checked later, with the others)."""
    if isinstance(y, torch.Tensor):
        if y.numel() != 1:
            raise DataError(f"{what} yields a label of shape {tuple(y.shape)}; one number each")
        return y.item()
    if isinstance(y, (str, bytes)):
        raise DataError(
            f"{what} yields text labels ({y!r}); labels must be class numbers 0…K−1: encode "
            "them (e.g. sklearn.preprocessing.LabelEncoder)"
        )
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (int, float, np.integer, np.floating)):
        raise DataError(f"{what} yields labels of type {type(y).__name__}; one number each")
    return y


def _collate(what: str):
    """A DataLoader collate_fn that stacks ``(x, label)`` pairs or says, by type and shape,
    why it cannot (torch's default one fails on text, PIL images and ragged samples)."""

    def collate(batch: list) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for item in batch:
            x, y = _pair_of(item, what)
            xs.append(_sample_tensor(x, what))
            ys.append(_label_value(y, what))
        shapes = sorted({tuple(x.shape) for x in xs})
        if len(shapes) > 1:
            shown = " and ".join("×".join(map(str, s)) or "scalar" for s in shapes[:2])
            raise DataError(
                f"{what} yields samples of different shapes ({shown}); the lab needs one shape: "
                "resize or pad them to one size first"
            )
        return torch.stack(xs), torch.as_tensor(ys)

    return collate


def _from_torch_dataset(dataset: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``(x, label)`` of a torch Dataset or DataLoader, as two tensors.

    A dataset that says it holds more than :data:`MAX_SAMPLES` samples is refused up front;
    one without a length (an ``IterableDataset``, which may never end) is read up to
    :data:`MAX_UNSIZED_SAMPLES` and refused if it goes on. Text, PIL images, ragged samples and text labels are
    :class:`DataError` naming them (torch's collate errors are not)."""
    from torch.utils.data import DataLoader

    source = dataset.dataset if isinstance(dataset, DataLoader) else dataset
    try:
        size = len(source)
    except (TypeError, NotImplementedError):  # no __len__ (an IterableDataset): bounded below
        size = None
    if size is not None and size > MAX_SAMPLES:
        raise DataError(
            f"{what} holds {size:,} samples; the lab reads at most {MAX_SAMPLES:,} "
            "(lab.datasets.MAX_SAMPLES): pass a subset (torch.utils.data.Subset)"
        )
    if isinstance(dataset, DataLoader):
        batches = dataset
    else:
        batches = DataLoader(dataset, batch_size=_TORCH_BATCH, collate_fn=_collate(what))
    bound = MAX_SAMPLES if size is not None else MAX_UNSIZED_SAMPLES
    xs, ys, read = [], [], 0
    iterator = iter(batches)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            break
        except DataError:
            raise
        except (TypeError, ValueError, RuntimeError) as exc:  # the user's DataLoader's collate
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(
                f"{what} could not build a batch ({first}); the lab needs samples that are "
                "tensors or arrays of numbers of one shape, with class-number labels"
            ) from None
        except Exception as exc:  # noqa: BLE001 - the user's __getitem__/__iter__ failed
            raise _reading_failed(exc, what, read, size) from exc
        x_part, y_part = _pair_of(item, what)
        x = _sample_tensor(x_part, what)
        y = y_part if isinstance(y_part, torch.Tensor) else _tensor(y_part, f"{what} labels")
        if y.ndim == 0:
            raise DataError(
                f"{what} yields one sample at a time, not batches (a DataLoader with "
                "batch_size=None?): pass the Dataset itself, or a DataLoader with a batch_size"
            )
        if x.ndim == 0 or len(x) != len(y):
            raise DataError(f"{what} yields batches of {len(y)} labels for {x.shape} samples")
        xs.append(x)
        ys.append(y.detach().cpu())
        read += len(x)
        if read > bound:
            raise DataError(
                f"{what} did not end after {bound:,} samples (an endless IterableDataset?); "
                "the lab reads at most that many from a dataset without a length "
                "(lab.datasets.MAX_UNSIZED_SAMPLES): give it a __len__, or pass a finite "
                "part of it (e.g. itertools.islice in an IterableDataset)"
            )
    if not xs:
        raise DataError(f"{what} is empty: the lab needs at least one sample per split")
    shapes = sorted({tuple(x.shape[1:]) for x in xs})
    if len(shapes) > 1:
        raise DataError(
            f"{what} yields batches of different sample shapes ({shapes[0]} and {shapes[1]}); "
            "the lab needs one shape"
        )
    return torch.cat(xs), torch.cat(ys)


def _reading_failed(exc: Exception, what: str, read: int, size: int | None) -> DataError:
    """A DataError for an exception raised by the user's Dataset while the lab read it."""
    said = " ".join(str(exc).split())[:200] or "no message"
    length = ""
    if isinstance(exc, IndexError) and size is not None:
        length = f" (its __len__ says {size:,} items: does it hold that many?)"
    return DataError(
        f"{what} raised {type(exc).__name__}: {said} while the lab read it, after {read:,} "
        f"samples{length}; the traceback above this error is the dataset's own"
    )


def _pair(value: object, what: str) -> tuple[torch.Tensor, np.ndarray, tuple | None, bool]:
    """``(x, y, class names or None, standardize by default)`` from one form."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(value, (Dataset, DataLoader)):
        x, y = _from_torch_dataset(value, what)
        x = _features(x, what)
        return x, _labels(y, len(x), f"{what} labels"), None, False
    if hasattr(value, "target") and (hasattr(value, "images") or hasattr(value, "data")):
        source = getattr(value, "images", None)
        source = value.data if source is None else source
        x = _features(source, what)
        names = getattr(value, "target_names", None)
        names = tuple(str(n) for n in names) if names is not None else None
        return x, _labels(value.target, len(x), f"{what} labels"), names, True
    if isinstance(value, (tuple, list)) and len(value) == 2:
        x = _features(value[0], f"{what} X")
        return x, _labels(value[1], len(x), f"{what} y"), None, True
    raise DataError(f"{what}: expected {_FORMS}; got {type(value).__name__}")


def _stratified(labels: torch.Tensor, shares: dict[str, float], seed: int) -> dict[str, list]:
    """Disjoint indices per part, each class (or quantile bin of a float target) split in the
    given shares; a part that rounding leaves empty takes one item from the largest part, so
    every part has ≥ 1 item when there are at least as many items as parts."""

    labels = strata(labels)
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list] = {name: [] for name in shares}
    for cls in labels.unique().tolist():
        members = (labels == cls).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)].tolist()
        n, start = len(members), 0
        names = list(shares)
        for i, name in enumerate(names):
            take = n - start if i == len(names) - 1 else int(round(shares[name] * n))
            parts[name] += members[start : start + take]
            start += take
    for name in parts:  # never share items: an empty part takes one from the largest
        largest = max(parts, key=lambda k: len(parts[k]))
        if not parts[name] and len(parts[largest]) > 1:
            parts[name].append(parts[largest].pop())
    return {name: sorted(idx) for name, idx in parts.items()}


def _live(test: fashion.Split, seed: int) -> fashion.Split:
    if len(test) <= LIVE_MAX:
        return fashion.Split("live", test.images, test.labels)
    share = LIVE_MAX / len(test)
    idx = _stratified(test.labels, {"live": share, "rest": 1 - share}, seed)["live"]
    idx = torch.tensor(idx)
    return fashion.Split("live", _select(test.images, idx), test.labels[idx])


def _select(images: torch.Tensor | LazyImages, index: object) -> torch.Tensor | LazyImages:
    """Some samples: a tensor is indexed, lazy images give a lazy view (nothing is read)."""
    return images.take(index) if isinstance(images, LazyImages) else images[index]


def _resize(images: torch.Tensor | LazyImages, size: int) -> torch.Tensor | LazyImages:
    return images.resized(size) if isinstance(images, LazyImages) else fashion.resize(images, size)


def _fingerprint(
    splits: Mapping[str, fashion.Split], classes: tuple[str, ...], task: str, extra: str = ""
) -> str:
    digest = hashlib.sha256((repr(classes) + extra).encode())
    if task == "regression":
        digest.update(b"regression")
    seen: dict[int, str] = {}  # lazy images shared by two splits (live = test) are read once
    for name in SPLIT_NAMES:
        split = splits[name]
        digest.update(f"{name}{tuple(split.images.shape)}".encode())
        if isinstance(split.images, LazyImages) and id(split.images) in seen:
            digest.update(f"same images as {seen[id(split.images)]}".encode())
        elif isinstance(split.images, LazyImages):  # the rows as given, and the conversion
            seen[id(split.images)] = name
            split.images.digest(digest)
            for stat in (split.images.mean, split.images.std):
                digest.update(b"" if stat is None else stat.numpy().tobytes())
        else:
            digest.update(split.images.numpy().tobytes())
        digest.update(split.labels.numpy().tobytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------- images kept as given
def _lazy_source(value: object, what: str) -> tuple[object, object] | None:
    """``(source, labels)`` when ``value`` can be read lazily: ``(X, y)`` with X an N×H×W or
    N×C×H×W array, memmap or tensor of numbers, or a torch Dataset (not a DataLoader)."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(value, Dataset) and not isinstance(value, DataLoader):
        return (
            (value, None) if hasattr(value, "__getitem__") and hasattr(value, "__len__") else None
        )
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        return None
    x = value[0]
    if isinstance(x, torch.Tensor):
        numeric = not (x.dtype == torch.bool or x.is_complex())
    elif isinstance(x, np.ndarray):
        numeric = x.dtype.kind in "iuf"
    else:
        return None
    return (x, value[1]) if numeric and x.ndim in (3, 4) else None


def _dataset_labels(dataset: object, what: str) -> object:
    """A torch Dataset's labels: its ``targets`` / ``labels`` attribute, else read item by item
    (the images are read once and dropped)."""
    for attribute in ("targets", "labels"):
        labels = getattr(dataset, attribute, None)
        if labels is not None and len(labels) == len(dataset):
            return labels
    labels = []
    for i in range(len(dataset)):
        try:
            item = dataset[i]
        except Exception as exc:  # noqa: BLE001 - the user's __getitem__ failed
            raise _reading_failed(exc, what, i, len(dataset)) from exc
        labels.append(_label_value(_pair_of(item, what)[1], what))
    return labels


def _lazy_part(source: object, labels: object, what: str) -> tuple[LazyImages, torch.Tensor]:
    n = len(source)
    if n == 0:
        raise DataError(f"{what} is empty: the lab needs at least one sample per split")
    if labels is None:
        labels = _dataset_labels(source, what)
    y = _labels(labels, n, f"{what} labels")
    images = LazyImages(source, torch.arange(n))
    if len(images.sample_shape) != 3:
        raise DataError(
            f"{what} must hold N×H×W or N×C×H×W images to be read lazily; "
            f"got samples of shape {images.sample_shape}"
        )
    problem = layout_problem(images.sample_shape)
    if problem is not None:
        raise DataError(f"{what}: {problem}")
    if not images.all_finite():
        raise DataError(f"{what} holds NaN or infinite values; clean or impute them first")
    return images, y


def _lazy_wanted(value: object, lazy: bool | None) -> bool:
    """Whether ``value`` (one set or a dict of splits) is kept as given (see ``LAZY_BYTES``)."""
    if lazy is False:
        return False
    parts = list(value.values()) if isinstance(value, Mapping) else [value]
    sources = [_lazy_source(part, "data") for part in parts]
    if lazy is True:
        if any(s is None for s in sources):
            raise DataError(
                "lazy=True needs images as arrays, memmaps or tensors (X, y), or a torch "
                f"Dataset; got {', '.join(type(p).__name__ for p in parts)}"
            )
        return True
    if any(s is None for s in sources):
        return False
    if any(isinstance(s[0], np.memmap) for s in sources):
        return True
    total = 0
    for source, _ in sources:
        if isinstance(source, (np.ndarray, torch.Tensor)):
            total += float32_bytes(len(source), tuple(source.shape[1:]))
        elif len(source):
            if len(source) > MAX_SAMPLES:  # refused by the reading path, before any reading
                return False
            try:
                first = source[0]
            except Exception:  # noqa: BLE001 - the reading path names the dataset's error
                return False
            shape = _image_shape(first)
            if shape is None:  # text, PIL images, objects: the reading path names them
                return False
            total += float32_bytes(len(source), shape)
    return total > LAZY_BYTES


def _image_shape(item: object) -> tuple[int, ...] | None:
    """The shape of a Dataset item's sample when it is an image of numbers (C×H×W or H×W),
    else None."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return None
    x = item[0]
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        return None
    kind = x.dtype.kind if isinstance(x, np.ndarray) else ("f" if x.is_floating_point() else "i")
    if kind not in "iuf" or x.ndim not in (2, 3):
        return None
    return tuple(x.shape)


def _lazy_raw(value: object, what: str) -> tuple[dict, bool]:
    """``{part: (LazyImages, labels)}`` of one set or a dict of splits, and whether arrays
    (standardized by default) rather than Datasets were given."""
    parts = value if isinstance(value, Mapping) else {None: value}
    raw, arrays = {}, True
    for key, part in parts.items():
        source, labels = _lazy_source(part, what)
        arrays = arrays and labels is not None
        raw[key] = _lazy_part(source, labels, what if key is None else f"{what}[{key!r}]")
    return raw, arrays


def _standardized_lazily(raw: dict, what: str) -> tuple[dict, tuple, tuple]:
    """Every split's lazy images reading standardized values (statistics of ``train``)."""
    mean, std, finite = channel_statistics(raw["train"][0])
    if not finite:
        raise DataError(f"{what} holds NaN or infinite values; clean or impute them first")
    out = {}
    for key, (images, y) in raw.items():
        out[key] = (LazyImages(images.source, images.positions, mean, std), y)
    return out, tuple(mean.flatten().tolist()), tuple(std.flatten().tolist())


# ---------------------------------------------------------------------- token sequences
def _token_ids(x: object, what: str) -> torch.Tensor:
    """N×L integer token ids as int64 (never standardized, never cast to float)."""
    ids = _tensor(x, what)
    if ids.is_floating_point():
        if not torch.isfinite(ids).all() or not torch.equal(ids, ids.round()):
            raise DataError(f"{what} must hold integer token ids; got fractional values")
    elif ids.dtype == torch.bool or ids.is_complex():
        raise DataError(f"{what} must hold integer token ids; got {ids.dtype}")
    if ids.ndim != 2:
        raise DataError(
            f"{what} must be N×L token ids (one row per sequence); got shape {tuple(ids.shape)}"
        )
    if len(ids) == 0:
        raise DataError(f"{what} is empty: the lab needs at least one sample per split")
    ids = ids.long()
    if int(ids.min()) < 0:
        raise DataError(f"{what} must hold token ids ≥ 0; found {int(ids.min())}")
    return ids


def _token_pair(value: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise DataError(
            f"{what}: token data is (ids, y) with ids N×L integers (lab.text.text_data turns "
            f"strings and your tokenizer into that); got {type(value).__name__}"
        )
    ids = _token_ids(value[0], f"{what} ids")
    return ids, _labels(value[1], len(ids), f"{what} y")


def _class_names(classes: object) -> tuple[str, ...] | None:
    """``classes=`` as a tuple of distinct names (None stays None)."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise DataError(
            "classes must be a list of class names, one per class (e.g. ['cat', 'dog']); got "
            f"{classes!r} ({type(classes).__name__})"
        )
    names = tuple(str(c) for c in classes)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(
            f"classes must name each class once; {', '.join(map(repr, repeated))} "
            "appears more than once"
        )
    return names


def as_data(
    value: object = None,
    *,
    name: str | None = None,
    classes: tuple[str, ...] | list[str] | None = None,
    standardize: bool | None = None,
    seed: int = SPLIT_SEED,
    lazy: bool | None = None,
    tokens: bool | None = None,
    pad_id: int | None = None,
    task: str | None = None,
) -> Data:
    """``value`` as a :class:`Data` (see the module docstring for the forms accepted).

    Args:
        value: the data; None is Fashion-MNIST.
        name: a label for results and plots (default: ``"your data"``).
        classes: class names, one per distinct label in sorted order (or one per code when
            the labels are 0…K−1). Default: ``target_names`` of a Bunch, else the labels
            as text.
        standardize: subtract the training split's mean and divide by its std (per feature,
            or per channel). Default: True for arrays and Bunches, False for torch Datasets.
            Regression targets are never standardized.
        seed: the seed of the stratified split of one whole set.
        lazy: keep images as given (uint8 arrays, memmaps, tensors, a torch Dataset) and
            convert them batch by batch when read (:class:`lab.lazy.LazyImages`). Default:
            when their float32 copy would exceed ``LAZY_BYTES`` (256 MiB) or X is a memmap.
        tokens: X is N×L integer token ids (text): kept as int64, never standardized.
            Default: True when ``pad_id`` is given.
        pad_id: the padding id of token data (default 0); models see it in the ids and
            build their attention mask from it (see :mod:`lab.text`).
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; None detects it from the
            labels (:func:`lab.tasks.detect_task`: whole numbers with many distinct values
            are ambiguous and need it).

    Raises:
        DataError: the data is not one of the forms above, or is malformed (the message
            says what was expected).
    """

    if value is None or isinstance(value, Data):
        building = {"name": name, "classes": classes, "standardize": standardize, "lazy": lazy,
                    "tokens": tokens, "pad_id": pad_id}  # fmt: skip
        given = [k for k, v in building.items() if v is not None]
        given += ["seed"] if seed != SPLIT_SEED else []
        if given:
            what = "Fashion-MNIST" if value is None else f"already a lab Data ({value.name!r})"
            raise DataError(
                f"{', '.join(f'{k}=' for k in given)} shape a data set as it is built from "
                f"arrays, a Bunch or a Dataset; the data is {what} and would be used unchanged. "
                "Build it again from its source: as_data((X, y), name=…, …)"
            )
    if value is None:
        if task not in (None, "multiclass"):
            raise DataError(f"Fashion-MNIST is a multiclass task; got task={task!r}")
        return fashion_mnist()
    if isinstance(value, Data):
        if task is not None and check_task(task) != value.task:
            raise DataError(f"{value.name!r} is a {value.task} task; got task={task!r}")
        return value
    check_task(task)
    for argument, given in (("standardize", standardize), ("lazy", lazy), ("tokens", tokens)):
        checks.flag(argument, given, DataError, none=True)
    seed = checks.seed(seed, DataError)
    if name is not None and not isinstance(name, str):
        raise DataError(f"name must be a str or None; got {name!r} ({type(name).__name__})")
    classes = _class_names(classes)
    if pad_id is not None and (
        isinstance(pad_id, bool) or not isinstance(pad_id, int) or pad_id < 0
    ):
        raise DataError(f"pad_id must be an integer ≥ 0 or None; got {pad_id!r}")
    tokens = pad_id is not None if tokens is None else tokens
    if tokens and standardize:
        raise DataError("token ids are never standardized: pass standardize=None or False")
    is_dict = isinstance(value, Mapping) and not hasattr(value, "target")
    if is_dict:
        unknown = set(value) - set(SPLIT_NAMES)
        if unknown or not {"train", "test"} <= set(value):
            raise DataError(
                "a dict of splits needs 'train' and 'test' (optionally 'val', 'live'); "
                f"got keys {sorted(map(str, value))}"
            )
    kept = not tokens and _lazy_wanted(value, lazy)
    if tokens:
        pairs = value.items() if is_dict else [(None, value)]
        parsed = {k: _token_pair(v, "data" if k is None else f"data[{k!r}]") for k, v in pairs}
        parts = {k: (x, y, None, False) for k, (x, y) in parsed.items()}
    elif kept:
        lazy_raw, arrays = _lazy_raw(value, "data")
        parts = {k: (x, y, None, arrays) for k, (x, y) in lazy_raw.items()}
    if is_dict:
        if not (tokens or kept):
            parts = {key: _pair(part, f"data[{key!r}]") for key, part in value.items()}
        names = next((p[2] for p in parts.values() if p[2] is not None), None)
        default_standardize = all(p[3] for p in parts.values())
        target = make_target([p[1] for p in parts.values()], task, names, classes)
        raw = {
            key: (p[0], target.encode(p[1], f"data[{key!r}] labels")) for key, p in parts.items()
        }
        if "val" not in raw:  # carve 10 % of train, stratified (≥ 1 item, never shared)
            x, y = raw["train"]
            if len(y) < 2:
                raise DataError(
                    "data['train'] has 1 sample: the lab needs at least 2 to carve a 'val' "
                    "split from it, or pass 'val' yourself"
                )
            idx = _stratified(y, {"val": 0.1, "train": 0.9}, seed)
            raw["val"] = (_select(x, idx["val"]), y[idx["val"]])
            raw["train"] = (_select(x, idx["train"]), y[idx["train"]])
    else:
        x, y, names, default_standardize = parts[None] if tokens or kept else _pair(value, "data")
        if len(x) < 3:
            raise DataError(f"data has {len(x)} samples; the lab needs at least 3 to split it")
        target = make_target([y], task, names, classes)
        y = target.encode(y, "data labels")
        idx = _stratified(y, SHARES, seed)  # disjoint, each part ≥ 1 item
        raw = {part: (_select(x, members), y[members]) for part, members in idx.items()}
    shapes = {key: tuple(x.shape[1:]) for key, (x, _) in raw.items()}
    if len(set(shapes.values())) != 1:
        raise DataError(f"every split must have the same sample shape; got {shapes}")
    standardize = default_standardize if standardize is None else standardize
    mean = std = None
    if standardize and kept:
        raw, mean, std = _standardized_lazily(raw, "data")
    elif standardize:
        train_x = raw["train"][0]
        dims = [0] if train_x.ndim == 2 else [0, 2, 3]
        mean = train_x.mean(dim=dims, keepdim=True)
        single = len(train_x) == 1 and train_x.ndim == 2  # one row: no spread to divide by
        std = train_x.std(dim=dims, keepdim=True, correction=0 if single else 1)
        std = std.clamp_min(1e-8) if not single else torch.ones_like(std)
        raw = {k: ((x - mean) / std, y) for k, (x, y) in raw.items()}
        mean, std = tuple(mean.flatten().tolist()), tuple(std.flatten().tolist())
    splits = {k: fashion.Split(k, x if kept else x.contiguous(), y) for k, (x, y) in raw.items()}
    if "live" not in splits:
        splits["live"] = _live(splits["test"], seed)
    input_shape = shapes["train"]
    if len(input_shape) == 3 and min(input_shape[1:]) < 1:
        raise DataError(f"images must be at least 1×1 px; got {input_shape}")
    vocab_size = None
    if tokens:
        pad_id = 0 if pad_id is None else pad_id
        vocab_size = max(pad_id, *(int(s.images.max()) for s in splits.values())) + 1
    return Data(
        name=name or "your data",
        classes=target.names,
        input_shape=input_shape,
        fingerprint=_fingerprint(
            splits, target.names, target.task, f"|tokens pad {pad_id}" if tokens else ""
        ),
        splits=splits,
        mean=mean,
        std=std,
        tokens=tokens,
        pad_id=pad_id,
        vocab_size=vocab_size,
        task=target.task,
        label_values=target.values,
    )
