"""Supervised tasks: what a target is — binary or multi-class classes, or a quantity — and its encoding.

:func:`lab.datasets.as_data` calls :func:`read_target` on each split's labels, then
:func:`make_target` once over all of them:

* **The task** is detected from the values (:func:`detect_task`) unless ``task=`` names it:
  strings and booleans are classes; numbers with a fractional part are a quantity
  (``"regression"``); whole numbers are classes when there are at most
  :data:`MAX_AUTO_CLASSES` distinct values. Whole numbers with more distinct values are
  ambiguous (a count, a price in whole units, or many classes?): a :class:`DataError` asks
  for ``task=``. Two classes are ``"binary"``, more ``"multiclass"``.
* **Classes** of any kind (strings, 1…K, sparse integers such as 3, 17, 1,000,000) are
  encoded once to 0…K−1 in sorted order; :attr:`Target.values` keeps the original value of
  each code and :attr:`Target.names` its display name. Labels that already are 0…K−1 with
  K names (a Bunch's ``target_names``, or ``classes=``) keep their codes, so a class that
  one split lacks keeps its place.
* **Regression targets** stay float64 numbers in their own units: never standardized,
  never taken as classes.

Example:
    >>> target = make_target([np.array(["cat", "dog", "cat"])])
    >>> target.task, target.names, target.encode(np.array(["dog", "cat"])).tolist()
    ('binary', ('cat', 'dog'), [1, 0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lab.datasets.errors import DataError

__all__ = [
    "CLASSIFICATION",
    "MAX_AUTO_CLASSES",
    "TASKS",
    "Target",
    "check_task",
    "detect_task",
    "make_target",
    "read_target",
    "strata",
]

TASKS = ("binary", "multiclass", "regression")
CLASSIFICATION = ("binary", "multiclass")
MAX_AUTO_CLASSES = 30  # whole-number targets with more distinct values need task=
REGRESSION_STRATA = 10  # quantile bins a regression target is stratified by when split


def _error(message: str) -> Exception:

    return DataError(message)


def check_task(task: object) -> str | None:
    """``task`` if it is None or one of :data:`TASKS`, else a DataError naming them."""
    if task is None or (isinstance(task, str) and task in TASKS):
        return task
    if task == "classification":
        raise _error("task='classification' is ambiguous here: say 'binary' or 'multiclass'")
    raise _error(f"task must be one of {', '.join(map(repr, TASKS))} or None; got {task!r}")


def read_target(y: object, n: int, what: str) -> np.ndarray:
    """``y`` as a fresh 1-D NumPy array of ``n`` numbers, strings or booleans (a copy).

    Raises a DataError for another shape or length, missing (NaN/None) or infinite values,
    complex numbers or objects that are neither numbers nor strings.
    """
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    if isinstance(y, (str, bytes)):
        raise _error(f"{what} must be N labels or target values; got a string")
    try:
        array = np.array(y)  # a copy: the caller's labels are never touched
    except Exception as exc:  # noqa: BLE001 - ragged or exotic input
        raise _error(f"{what} must be array-like; got {type(y).__name__}") from exc
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise _error(f"{what} must be N labels or target values; got shape {array.shape}")
    if len(array) != n:
        raise _error(f"{what} has {len(array)} labels for {n} samples; they must match")
    if array.dtype == object:  # e.g. a pandas column: strings, or numbers with None
        kinds = {type(v) for v in array}
        if all(issubclass(k, str) for k in kinds):
            array = array.astype(str)
        else:
            try:
                array = array.astype(float)
            except (TypeError, ValueError):
                raise _error(
                    f"{what} must hold numbers, strings or booleans; got values of type "
                    f"{', '.join(sorted(k.__name__ for k in kinds))}"
                ) from None
    if array.dtype.kind == "c":
        raise _error(f"{what} must hold real numbers, strings or booleans; got {array.dtype}")
    if array.dtype.kind not in "biufUS":
        raise _error(f"{what} must hold numbers, strings or booleans; got {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise _error(f"{what} holds missing (NaN) or infinite values; drop or impute them first")
    return array


def _integral(y: np.ndarray) -> bool:
    return y.dtype.kind in "biu" or bool(np.all(y == np.round(y)))


def detect_task(y: np.ndarray, what: str = "the target") -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"`` for target values ``y`` (all splits).

    Raises a DataError when whole numbers have more than :data:`MAX_AUTO_CLASSES` distinct
    values (pass ``task=``), or when there is one value only.
    """
    distinct = len(np.unique(y))
    if y.dtype.kind in "fiu" and not _integral(y):
        if distinct < 2:
            raise _error(f"{what} is constant: there is nothing to predict")
        return "regression"
    if distinct < 2:
        raise _error("the data has one class only; the lab needs at least 2 classes")
    if y.dtype.kind in "iuf" and distinct > MAX_AUTO_CLASSES:
        raise _error(
            f"{what} holds {distinct} distinct whole numbers (from {y.min():g} to {y.max():g}): "
            "is it a quantity or that many classes? Pass task='regression' for a quantity, or "
            f"task='multiclass' for {distinct} classes"
        )
    return "binary" if distinct == 2 else "multiclass"


def strata(labels: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Groups to stratify a split by: the classes, or quantile bins of a float target."""
    labels = torch.as_tensor(labels)
    if not labels.is_floating_point():
        return labels
    values = labels.double().numpy()
    bins = min(REGRESSION_STRATA, max(1, len(values) // 10))
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return torch.from_numpy(np.searchsorted(edges, values, side="right").astype(np.int64))


def _python(value: object) -> object:
    """A NumPy scalar as the plain Python value (ints for whole floats)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Target:
    """What the data's target is: the task, and for classes their codes' values and names."""

    task: str
    values: tuple = ()  # original label value of each code 0…K−1 (classification)
    names: tuple[str, ...] = ()  # display name of each code

    @property
    def is_classification(self) -> bool:
        return self.task in CLASSIFICATION

    def encode(self, y: np.ndarray, what: str = "labels") -> torch.Tensor:
        """Codes 0…K−1 (int64) for classification, float64 values for regression."""
        if not self.is_classification:
            if y.dtype.kind not in "biuf":
                raise _error(f"{what} must be numbers for regression; got {y.dtype}")
            return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
        lookup = {v: i for i, v in enumerate(self.values)}
        try:
            codes = [lookup[_python(v)] for v in y]
        except KeyError as exc:
            raise _error(
                f"{what} holds {exc.args[0]!r}, not one of the classes {list(self.values)}"
            ) from None
        return torch.tensor(codes, dtype=torch.long)


def make_target(
    ys: list[np.ndarray],
    task: str | None = None,
    names: tuple[str, ...] | None = None,
    classes: tuple[str, ...] | None = None,
) -> Target:
    """The :class:`Target` of all splits' raw labels ``ys`` (see the module docstring).

    Args:
        ys: every split's labels, from :func:`read_target`.
        task: the task, or None to detect it.
        names: class names the data carries (a Bunch's ``target_names``), or None.
        classes: class names the caller gave (``as_data(classes=…)``), or None.
    """
    task = check_task(task)
    kinds = {y.dtype.kind in "US" for y in ys}
    if len(kinds) > 1:
        raise _error("the splits' labels mix strings and numbers; give them one type")
    every = np.concatenate(ys)
    task = task or detect_task(every)
    if task == "regression":
        if every.dtype.kind in "US":
            raise _error("task='regression' needs numeric targets; the labels are strings")
        if classes is not None:
            raise _error("classes= names classes; it does not apply to task='regression'")
        if len(np.unique(every)) < 2:
            raise _error("the target is constant: there is nothing to predict")
        return Target("regression")
    if every.dtype.kind == "f" and not _integral(every):
        raise _error(
            f"task={task!r} needs class labels; the target has fractional values (a quantity? "
            "pass task='regression')"
        )
    values = tuple(_python(v) for v in np.unique(every))
    given = tuple(str(c) for c in classes) if classes is not None else None
    labelled = given or names
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if labelled is not None and whole and min(values) >= 0 and max(values) < len(labelled):
        values = tuple(range(len(labelled)))  # labels already 0…K−1: keep their codes
        result = Target(task, values, tuple(labelled))
    else:
        if given is not None and len(given) != len(values):
            raise _error(
                f"classes= gives {len(given)} names for {len(values)} classes "
                f"({', '.join(map(str, values[:10]))}{'…' if len(values) > 10 else ''})"
            )
        if given is not None:
            shown = given
        elif names is not None and len(names) == len(values):
            shown = tuple(names)
        else:
            shown = tuple(str(v) for v in values)
        result = Target(task, values, shown)
    if len(result.values) < 2:
        raise _error("the data has one class only; the lab needs at least 2 classes")
    if task == "binary" and len(result.values) != 2:
        raise _error(f"task='binary' needs 2 classes; the labels hold {len(result.values)}")
    if task == "multiclass" and len(result.values) == 2:
        task = "binary"  # two classes are binary whatever the caller called them
        result = Target(task, result.values, result.names)
    return result
