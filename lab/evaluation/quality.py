"""Quality metrics per task, in one registry: values, 95 % intervals and paired comparisons.

:data:`METRICS` holds every metric the lab reports (:class:`Metric`: name, task, direction,
unit, axis label, wording, compute function):

* classification — ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``per_class_recall``
  and, for binary tasks, ``roc_auc`` (it needs a score per item: see :func:`positive_scores`);
* regression — ``mae``, ``rmse``, ``r2``.

The reported value is scikit-learn's own function on the items. Each comes with a 95 %
interval (:func:`score`): Wilson's for accuracy and for each class's recall
(:func:`lab.stats.accuracy_interval`: they are proportions), a seeded percentile bootstrap of
the items for the others. Two models scored on the **same items** are compared with
:func:`paired`: the exact McNemar test for accuracy (:func:`lab.stats.mcnemar_exact`), a
seeded paired permutation test (each item's two predictions swapped at random) for the
others, with a paired bootstrap interval of the difference.

Small data: :func:`cross_validate` estimates a thin model's metric with scikit-learn's
``RepeatedStratifiedKFold`` (``RepeatedKFold`` for regression) over all of the data's items,
with the Nadeau–Bengio corrected interval, and :func:`cv_paired` compares two such estimates
fold by fold. :func:`estimate_kind` says which estimate a data set calls for.

A measurement judged by another metric than its own: :func:`estimate_of` reads any metric of
its task (from its fields or its per-item results), :func:`compare_measurements` runs the
paired test between two measurements on the same items, :func:`choices` lists the metrics a
task can be ranked by (:func:`check_choice` refuses the others, naming those allowed) and
:func:`record` is what a model card says about its quality.

Per-item results travel with a measurement as compact text (:func:`pack`/:func:`unpack`);
:func:`measurement_fields` gives the fields a measurement of any task carries.

Example:
    >>> y = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> result = score("binary", y, [0, 0, 0, 1, 1, 1, 1, 1, 1, 0])
    >>> round(result["accuracy"].value, 2), round(result["balanced_accuracy"].value, 4)
    (0.8, 0.7917)
    >>> paired("accuracy", y, [1] * 10, y).verdict
    '+40.0 pt accuracy, within noise (exact McNemar p = 0.125)'
"""

from __future__ import annotations

import base64
import math
import numbers
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lab.datasets import as_data
from lab.datasets.tasks import CLASSIFICATION, TASKS
from lab.meters import checks, stats
from lab.meters.process import import_kept
from lab.models.thin import ThinModel, check_estimator_task, features
from lab.models.training import eval_mode

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "MEASUREMENT_FIELDS",
    "METRICS",
    "MIN_HELD_OUT",
    "PERMUTATIONS",
    "RANKABLE",
    "Comparison",
    "CrossValidation",
    "Estimate",
    "Metric",
    "check_choice",
    "choices",
    "compare_measurements",
    "cross_validate",
    "cv_paired",
    "default_metric",
    "estimate_kind",
    "estimate_of",
    "from_outputs",
    "get_metric",
    "measurement_fields",
    "metrics_for",
    "pack",
    "paired",
    "positive_scores",
    "record",
    "score",
    "unpack",
]

BOOTSTRAP_RESAMPLES = 1_000  # item resamples behind a bootstrap interval
PERMUTATIONS = 2_000  # random swaps behind a paired permutation p-value
SEED = 0
ALPHA = 0.05
CHUNK = 100  # resamples evaluated at once (memory: CHUNK × items)
IMBALANCE_RATIO = 3.0  # largest / smallest class above which balanced accuracy is the default
# Held-out test items below which the lab points to cross-validation: on 200 items the 95 %
# Wilson interval of an 85 % accuracy is ±5 pt, wider than most differences worth a choice.
MIN_HELD_OUT = 200
MIN_CLASS_ITEMS = (
    30  # test items of the smallest class below which per-class metrics are too coarse
)
MINUS = stats.MINUS
# What a measurement of any task carries (measurement_fields' keys): the fields proposed
# for lab.measure.Measurement.
MEASUREMENT_FIELDS = (
    "task",
    "metric",
    "metric_value",
    "metric_low",
    "metric_high",
    "metrics",
    "predictions",
    "targets",
    "scores",
)


# --------------------------------------------------------------------------- inputs


def _values(name: str, values: object, n: int | None = None) -> np.ndarray:
    """``values`` as a 1-D array (a copy), its length checked against ``n``."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a 1-D sequence, one value per item; got a string")
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.array(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one value per item; got shape {array.shape}")
    if n is not None and len(array) != n:
        raise ValueError(f"{name} has {len(array)} values for {n} items; they must match")
    if len(array) == 0:
        raise ValueError(f"{name} is empty: score at least one item")
    return array


def _numbers(name: str, values: object, n: int | None = None) -> np.ndarray:
    array = _values(name, values, n)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; got {array.dtype}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _codes(*arrays: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Labels of any kind → codes 0…K−1 over the union of ``arrays``' values, and K."""
    kinds = {a.dtype.kind in "US" for a in arrays}
    if len(kinds) > 1:
        raise TypeError("the labels mix strings and numbers; give true and predicted labels alike")
    union, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return [inverse[bounds[i] : bounds[i + 1]] for i in range(len(arrays))], len(union)


def _check_task(task: object) -> str:
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}")
    return task


# --------------------------------------------------------------------------- metrics on resamples
# Each takes B×n arrays (one resample or permutation per row) and returns B values; they
# equal scikit-learn's functions on each row (tests/test_quality.py checks that).


def _confusion(y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    b = y.shape[0]
    flat = (np.arange(b)[:, None] * k * k + y * k + p).ravel()
    return np.bincount(flat, minlength=b * k * k).reshape(b, k, k)


def _accuracy_rows(y, p, s, k):
    return (y == p).mean(axis=1)


def _recalls(y, p, k):
    c = _confusion(y, p, k)
    support = c.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diagonal(c, axis1=1, axis2=2) / support, support


def _balanced_rows(y, p, s, k):
    recall, support = _recalls(y, p, k)
    present = support > 0
    return np.where(present, recall, 0).sum(axis=1) / present.sum(axis=1)


def _macro_f1_rows(y, p, s, k):
    c = _confusion(y, p, k)
    tp = np.diagonal(c, axis1=1, axis2=2)
    true, pred = c.sum(axis=2), c.sum(axis=1)
    present = (true + pred) > 0  # scikit-learn: the classes in y_true or y_pred
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(present, 2 * tp / (true + pred), 0.0)
    return f1.sum(axis=1) / present.sum(axis=1)


def _auc_rows(y, p, s, k):
    from scipy.stats import rankdata

    ranks = rankdata(s, axis=1)  # average ranks for ties
    pos = y == 1
    n1 = pos.sum(axis=1)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * pos).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    return np.where((n1 > 0) & (n0 > 0), auc, np.nan)  # undefined with one class only


def _mae_rows(y, p, s, k):
    return np.abs(y - p).mean(axis=1)


def _rmse_rows(y, p, s, k):
    return np.sqrt(((y - p) ** 2).mean(axis=1))


def _r2_rows(y, p, s, k):
    residual = ((y - p) ** 2).sum(axis=1)
    total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1 - residual / total
    return np.where(total > 0, r2, np.where(residual == 0, 1.0, 0.0))  # scikit-learn's rule


# --------------------------------------------------------------------------- the registry


def _sk(name: str) -> Callable:
    def compute(y_true, y_pred, scores=None):
        m = import_kept("sklearn.metrics")  # its first import draws from Python's RNG

        if name == "accuracy":
            return float(m.accuracy_score(y_true, y_pred))
        if name == "balanced_accuracy":
            import warnings

            with warnings.catch_warnings():  # a class only predicted: scikit-learn warns, drops it
                warnings.simplefilter("ignore", UserWarning)
                return float(m.balanced_accuracy_score(y_true, y_pred))
        if name == "macro_f1":
            return float(m.f1_score(y_true, y_pred, average="macro", zero_division=0.0))
        if name == "per_class_recall":
            labels = np.unique(y_true)
            return m.recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0.0)
        if name == "roc_auc":
            return float(m.roc_auc_score(y_true, scores))
        if name == "mae":
            return float(m.mean_absolute_error(y_true, y_pred))
        if name == "rmse":
            return float(m.root_mean_squared_error(y_true, y_pred))
        return float(m.r2_score(y_true, y_pred))

    compute.__name__ = f"{name}_sklearn"
    return compute


@dataclass(frozen=True)
class Metric:
    """One quality metric: what it measures, which way is better, and how it is computed.

    ``unit`` is ``"fraction"`` (shown in %, differences in percentage points), ``"target"``
    (the regression target's own units) or ``""`` (unitless, e.g. R²). ``compute(y_true,
    y_pred, scores)`` is scikit-learn's function; ``rows`` the same on B×n resamples.
    """

    name: str
    tasks: tuple[str, ...]
    direction: str  # "higher" or "lower" is better
    unit: str
    axis_label: str
    wording: str
    compute: Callable = field(repr=False)
    rows: Callable | None = field(default=None, repr=False)
    needs_scores: bool = False
    interval: str = "bootstrap"  # "wilson" (a proportion) or "bootstrap"
    test: str = "paired permutation"  # how two models on the same items are compared

    @property
    def words(self) -> str:
        """The metric's name in prose: ``balanced accuracy``, ``MAE``, ``R²``, ``ROC-AUC``."""
        return _WORDS.get(self.name, self.name.replace("_", " "))

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    @property
    def title(self) -> str:
        """The name as a label starts: ``Balanced accuracy``, ``MAE``, ``R²``."""
        return self.words[0].upper() + self.words[1:]

    @property
    def direction_words(self) -> str:
        """``higher is better`` or ``lower is better``."""
        return f"{self.direction} is better"

    @property
    def axis_text(self) -> str:
        """A plot's quality axis: ``accuracy (%)``, ``macro-F1 (%), higher is better``,
        ``mean absolute error (target units), lower is better``."""
        if self.name == "accuracy":
            return self.axis_label
        unit = " (target units)" if self.unit == "target" else ""
        return f"{self.axis_label}{unit}, {self.direction_words}"

    @property
    def unit_words(self) -> str:
        """The unit a value is shown in: ``%``, ``the target's units``, ``unitless``."""
        return {"fraction": "%", "target": "the target's units"}.get(self.unit, "unitless")

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def format(self, value: float | None) -> str:
        """``91.2%``, ``43.1`` (target units), ``0.512``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if self.unit == "fraction":
            return f"{value:.1%}"
        if self.unit == "target":
            return f"{value:.4g}"
        return f"{value:.3f}"

    def format_difference(self, difference: float) -> str:
        """A signed difference: ``+2.1 pt``, ``−3.4``, ``+0.012``."""
        if self.unit == "fraction":
            text = f"{abs(difference) * 100:.1f} pt"
        elif self.unit == "target":
            text = f"{abs(difference):.3g}"
        else:
            text = f"{abs(difference):.3f}"
        if not any(c in "123456789" for c in text.split("e")[0]):  # rounds to zero
            return f"±{text}"
        return ("+" if difference > 0 else MINUS) + text

    def margin(self, tolerance: float, best: float) -> float:
        """A practical margin in this metric's units: ``tolerance`` percentage points for
        fractions and R², ``tolerance`` % of the best value for errors in target units."""
        if self.unit == "target":
            return abs(best) * tolerance / 100
        return tolerance / 100


_WORDS = {"macro_f1": "macro-F1", "roc_auc": "ROC-AUC", "mae": "MAE", "rmse": "RMSE", "r2": "R²"}
_C = CLASSIFICATION
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", _C, "higher", "fraction", "accuracy (%)",
               "accuracy: the share of items classified right", _sk("accuracy"),
               _accuracy_rows, interval="wilson", test="exact McNemar"),
        Metric("balanced_accuracy", _C, "higher", "fraction", "balanced accuracy (%)",
               "balanced accuracy: the mean of the per-class recalls (a majority-class guess "
               "scores 1/K whatever the imbalance)", _sk("balanced_accuracy"), _balanced_rows),
        Metric("macro_f1", _C, "higher", "fraction", "macro-F1 (%)",
               "macro-F1: the mean over classes of the harmonic mean of precision and recall",
               _sk("macro_f1"), _macro_f1_rows),
        Metric("per_class_recall", _C, "higher", "fraction", "recall (%)",
               "per-class recall: the share of each class's items found", _sk("per_class_recall"),
               None, interval="wilson", test="none (one value per class)"),
        Metric("roc_auc", ("binary",), "higher", "fraction", "ROC-AUC (%)",
               "ROC-AUC: the chance that a positive item scores above a negative one",
               _sk("roc_auc"), _auc_rows, needs_scores=True),
        Metric("mae", ("regression",), "lower", "target", "mean absolute error",
               "MAE: the mean absolute error, in the target's units", _sk("mae"), _mae_rows),
        Metric("rmse", ("regression",), "lower", "target", "root mean squared error",
               "RMSE: the root of the mean squared error, in the target's units", _sk("rmse"),
               _rmse_rows),
        Metric("r2", ("regression",), "higher", "", "R²",
               "R²: the share of the target's variance explained (0 = predicting the mean)",
               _sk("r2"), _r2_rows),
    )
}  # fmt: skip


# the metrics models can be ranked by (one number each; per_class_recall is one per class)
RANKABLE = tuple(name for name, m in METRICS.items() if m.rows is not None)


def get_metric(metric: object, task: str | None = None) -> Metric:
    """The registry entry ``metric`` (a name or a :class:`Metric`), checked against ``task``."""
    if isinstance(metric, Metric):
        entry = metric
    elif isinstance(metric, str) and metric in METRICS:
        entry = METRICS[metric]
    else:
        allowed = metrics_for(task) if task in TASKS else list(METRICS)
        where = f" for a {task} task" if task in TASKS else ""
        raise ValueError(f"metric must be one of {', '.join(allowed)}{where}; got {metric!r}")
    if task is not None and _check_task(task) not in entry.tasks:
        raise ValueError(
            f"{entry.name} does not apply to a {task} task; choose one of "
            f"{', '.join(metrics_for(task))}"
        )
    return entry


def metrics_for(task: str) -> list[str]:
    """The registry's metrics for ``task``."""
    task = _check_task(task)
    return [name for name, m in METRICS.items() if task in m.tasks]


def choices(task: str) -> list[str]:
    """The metrics of ``task`` that models can be judged and ranked by: one number each
    (every metric of the task but ``per_class_recall``, one value per class).

    Example:
        >>> choices("binary"), choices("regression")
        (['accuracy', 'balanced_accuracy', 'macro_f1', 'roc_auc'], ['mae', 'rmse', 'r2'])
    """
    return [name for name in metrics_for(task) if METRICS[name].rows is not None]


def check_choice(metric: object, task: str) -> Metric:
    """``metric`` as a :class:`Metric` if it is one of :func:`choices` for ``task``; else a
    ValueError naming the metrics allowed for that task."""
    allowed = choices(task)
    name = metric.name if isinstance(metric, Metric) else metric
    if not isinstance(name, str) or name not in allowed:
        extra = ""
        if name == "per_class_recall":
            extra = " (per_class_recall is one value per class: rank by balanced_accuracy)"
        raise ValueError(
            f"metric must be one of {', '.join(allowed)} for a {task} task{extra}; got {metric!r}"
        )
    return METRICS[name]


def default_metric(task: str, y_true: object = None) -> str:
    """The metric that fits ``task``: accuracy for balanced classes, balanced accuracy when
    the largest class outnumbers the smallest more than :data:`IMBALANCE_RATIO` times (a
    majority-class guess then looks good on accuracy), MAE for regression."""
    task = _check_task(task)
    if task == "regression":
        return "mae"
    if y_true is not None:
        _, counts = np.unique(_values("y_true", y_true), return_counts=True)
        if len(counts) > 1 and counts.max() > IMBALANCE_RATIO * counts.min():
            return "balanced_accuracy"
    return "accuracy"


# --------------------------------------------------------------------------- values and intervals


@dataclass(frozen=True)
class Estimate:
    """A metric's value on ``n`` items with its interval (``low``, ``high``) and how it was made."""

    metric: str
    value: float
    low: float | None
    high: float | None
    n: int
    method: str  # "Wilson", "bootstrap (1,000 resamples, seed 0)", "held-out test" …

    def __str__(self) -> str:
        entry = METRICS.get(self.metric)
        show = entry.format if entry else (lambda v: f"{v:.4g}")
        interval = "" if self.low is None else f" (95 % {show(self.low)}–{show(self.high)})"
        return f"{self.metric} {show(self.value)}{interval} on {self.n} items"


def _prepared(task: str, y_true, y_pred, scores=None):
    """(codes/values of y_true, of y_pred, scores or None, K): checked and encoded."""
    y_true = _values("y_true", y_true)
    y_pred = _values("y_pred", y_pred, len(y_true))
    if task == "regression":
        return _numbers("y_true", y_true), _numbers("y_pred", y_pred), None, 0
    (t, p), k = _codes(y_true, y_pred)
    s = None
    if scores is not None:
        s = _numbers("scores", scores, len(y_true))
    return t, p, s, k


def _binary_positive(y_true: np.ndarray) -> np.ndarray:
    """0/1 codes of a binary target (the larger label is the positive class, as scikit-learn)."""
    labels = np.unique(y_true)
    if len(labels) != 2:
        raise ValueError(f"ROC-AUC needs both classes among the items; got {len(labels)}")
    return (y_true == labels[1]).astype(np.int64)


def _bootstrap(entry: Metric, t, p, s, k, seed: int, resamples: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = len(t)
    values = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        values.append(entry.rows(t[idx], p[idx], None if s is None else s[idx], k))
    return _percentile_interval(np.concatenate(values))


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """The central 95 % of the finite resampled values ((nan, nan) when none is finite)."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def score(
    task: str,
    y_true: object,
    y_pred: object,
    *,
    scores: object = None,
    metrics: Sequence[str] | None = None,
    seed: int = SEED,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """Every metric of ``task`` (or those named in ``metrics``) on these items, with 95 % intervals.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true, y_pred: one label (classification: any kind, as long as both agree) or one
            number (regression) per item.
        scores: binary tasks: one score per item, higher for the positive class (the larger
            label): see :func:`positive_scores`. Without it ``roc_auc`` is left out.
        metrics: names from :data:`METRICS` (default: all that apply).
        seed, resamples: the bootstrap's seed and number of item resamples.

    Returns:
        ``{name: Estimate}``; ``per_class_recall`` maps to ``{class label: Estimate}``.
    """
    task = _check_task(task)
    names = (
        metrics_for(task)
        if metrics is None
        else [get_metric(m, task).name for m in _names(metrics)]
    )
    seed, resamples = _check_draws(seed, resamples=resamples)
    raw_true = _values("y_true", y_true)
    t, p, s, k = _prepared(task, y_true, y_pred, scores)
    if task == "binary" and k > 2:
        raise ValueError(
            f"task='binary' needs at most 2 distinct labels in y_true and y_pred; got {k}: "
            "say task='multiclass'"
        )
    n = len(t)
    result: dict = {}
    for name in names:
        entry = METRICS[name]
        if entry.needs_scores and s is None:
            if metrics is not None:
                raise ValueError(f"{name} needs scores=: one score per item (positive_scores())")
            continue
        if name == "per_class_recall":
            result[name] = _per_class(raw_true, _values("y_pred", y_pred, n))
            continue
        if name == "roc_auc":
            truth = _binary_positive(raw_true)
            value = entry.compute(truth, None, s)
            low, high = _bootstrap(entry, truth, truth, s, 2, seed, resamples)
            method = f"bootstrap ({resamples:,} resamples, seed {seed})"
        elif entry.interval == "wilson":
            value = entry.compute(raw_true, _values("y_pred", y_pred, n))
            low, high = stats.accuracy_interval(int(round(value * n)), n)
            method = "Wilson"
        else:
            if task == "regression":
                value = entry.compute(t, p)
            else:
                value = entry.compute(raw_true, _values("y_pred", y_pred, n))
            low, high = _bootstrap(entry, t, p, s, k, seed, resamples)
            method = f"bootstrap ({resamples:,} resamples, seed {seed})"
        result[name] = Estimate(name, value, low, high, n, method)
    return result


def _names(metrics: object) -> list:
    """``metrics=``: a list of metric names (one name alone would be read letter by letter)."""
    if isinstance(metrics, (str, Metric)) or not isinstance(metrics, Iterable):
        raise ValueError(
            f"metrics must be a list of names from {', '.join(METRICS)}, e.g. ['accuracy']; "
            f"got {metrics!r}"
        )
    return list(metrics)


def _check_draws(seed: object, **counts: object) -> tuple[int, ...]:
    """The seed (0 to 2**63 − 1) and each count of random draws (a whole number ≥ 1:
    zero resamples or swaps would give an interval or a p-value of nothing)."""
    return (
        checks.seed(seed),
        *(checks.whole(name, value, 1) for name, value in counts.items()),
    )


def _per_class(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    recalls = METRICS["per_class_recall"].compute(y_true, y_pred)
    out = {}
    for label, recall in zip(np.unique(y_true), recalls, strict=True):
        members = y_true == label
        n, hit = int(members.sum()), int((y_pred[members] == label).sum())
        low, high = stats.accuracy_interval(hit, n)
        key = label.item() if hasattr(label, "item") else label
        out[key] = Estimate("per_class_recall", float(recall), low, high, n, "Wilson")
    return out


# --------------------------------------------------------------------------- paired comparisons


@dataclass(frozen=True)
class Comparison:
    """Two models scored on the same ``n`` items: ``base`` (a baseline) and ``new``.

    ``difference`` is new − base in the metric's units; ``low``/``high`` its 95 % paired
    bootstrap interval; ``p_value`` the two-sided test named in ``test``; ``better`` whether
    new is better than base (None when equal); ``significant`` whether ``p_value < alpha``.
    """

    metric: str
    n: int
    base: float
    new: float
    difference: float
    low: float
    high: float
    p_value: float
    test: str
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def better(self) -> bool | None:
        if self.difference == 0:
            return None
        return get_metric(self.metric).better(self.new, self.base)

    @property
    def verdict(self) -> str:
        """``'+2.1 pt accuracy, significant (exact McNemar p = 0.003)'`` or ``'…, within noise (…)'``."""
        entry = get_metric(self.metric)
        call = "significant" if self.significant else "within noise"
        return (
            f"{entry.format_difference(self.difference)} {entry.words}, {call} "
            f"({self.test} p = {self.p_value:.3g})"
        )


def _permutation_p(entry, t, pa, pb, sa, sb, k, observed, seed, permutations) -> float:
    rng = np.random.default_rng(seed)
    n = len(t)
    extreme = 0
    for start in range(0, permutations, CHUNK):
        rows = min(CHUNK, permutations - start)
        swap = rng.random((rows, n)) < 0.5
        tt = np.broadcast_to(t, (rows, n))
        a = np.where(swap, pb, pa)
        b = np.where(swap, pa, pb)
        if sa is not None:
            va = entry.rows(tt, tt, np.where(swap, sb, sa), k)
            vb = entry.rows(tt, tt, np.where(swap, sa, sb), k)
        else:
            va, vb = entry.rows(tt, a, None, k), entry.rows(tt, b, None, k)
        extreme += int(np.sum(np.abs(vb - va) >= abs(observed) - 1e-12))
    return (extreme + 1) / (permutations + 1)


def _paired_bootstrap(entry, t, pa, pb, sa, sb, k, seed, resamples) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n = len(t)
    diffs = []
    for start in range(0, resamples, CHUNK):
        idx = rng.integers(0, n, size=(min(CHUNK, resamples - start), n))
        if sa is not None:
            va = entry.rows(t[idx], t[idx], sa[idx], k)
            vb = entry.rows(t[idx], t[idx], sb[idx], k)
        else:
            va, vb = entry.rows(t[idx], pa[idx], None, k), entry.rows(t[idx], pb[idx], None, k)
        diffs.append(vb - va)
    return _percentile_interval(np.concatenate(diffs))


def paired(
    metric: str | Metric,
    y_true: object,
    pred_a: object,
    pred_b: object,
    *,
    task: str | None = None,
    scores_a: object = None,
    scores_b: object = None,
    alpha: float = ALPHA,
    seed: int = SEED,
    permutations: int = PERMUTATIONS,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> Comparison:
    """Compare model B with model A (the baseline) on ``metric``, item by item.

    Accuracy: the exact McNemar test (:func:`lab.stats.mcnemar_exact`). Other metrics: a
    paired permutation test — under "no difference" each item's two predictions are
    exchangeable, so they are swapped at random ``permutations`` times (seeded) and the
    p-value is the share of swaps whose difference is at least the observed one (with +1
    in numerator and denominator). ROC-AUC swaps the two scores (``scores_a``,
    ``scores_b``; ``pred_a``/``pred_b`` are then ignored and may be None). The interval
    of the difference is a paired bootstrap of the items.
    """
    entry = get_metric(metric)
    if entry.rows is None:
        raise ValueError(
            f"{entry.name} is one value per class: compare balanced_accuracy (their mean) or "
            "one class's recall instead"
        )
    alpha = stats._check_probability("alpha", alpha)
    seed, permutations, resamples = _check_draws(
        seed, permutations=permutations, resamples=resamples
    )
    if task is not None:
        get_metric(entry, task)  # the metric must fit the task
    raw_true = _values("y_true", y_true)
    n = len(raw_true)
    if entry.needs_scores:
        if scores_a is None or scores_b is None:
            raise ValueError(f"{entry.name} compares scores: pass scores_a= and scores_b=")
        t = _binary_positive(raw_true)
        sa, sb = _numbers("scores_a", scores_a, n), _numbers("scores_b", scores_b, n)
        pa = pb = t
        k = 2
        base, new = entry.compute(t, None, sa), entry.compute(t, None, sb)
    elif entry.tasks == ("regression",):
        t = _numbers("y_true", raw_true)
        pa, pb = _numbers("pred_a", pred_a, n), _numbers("pred_b", pred_b, n)
        sa = sb = None
        k = 0
        base, new = entry.compute(t, pa), entry.compute(t, pb)
    else:
        a_raw, b_raw = _values("pred_a", pred_a, n), _values("pred_b", pred_b, n)
        (t, pa, pb), k = _codes(raw_true, a_raw, b_raw)
        sa = sb = None
        base, new = entry.compute(raw_true, a_raw), entry.compute(raw_true, b_raw)
    difference = new - base
    low, high = _paired_bootstrap(entry, t, pa, pb, sa, sb, k, seed, resamples)
    if entry.name == "accuracy":
        test = stats.mcnemar_exact(pa == t, pb == t, alpha=alpha)
        p_value, name = test.p_value, "exact McNemar"
    else:
        p_value = _permutation_p(entry, t, pa, pb, sa, sb, k, difference, seed, permutations)
        name = f"paired permutation ({permutations:,} swaps)"
    return Comparison(entry.name, n, base, new, difference, low, high, p_value, name, alpha)


# --------------------------------------------------------------------------- scores from models


def positive_scores(model: object, x: object) -> np.ndarray:
    """One score per item for the positive class (code 1) of a binary model, for ROC-AUC.

    * a scikit-learn estimator: ``predict_proba(x)[:, 1]`` when it has it, else
      ``decision_function(x)`` (linear SVMs); a :class:`lab.thin.ThinModel` is unwrapped;
    * a torch module giving N×2 logits: ``logits[:, 1] − logits[:, 0]`` (the log-odds,
      ordered as the softmax probability); N×1 outputs: the single logit.
    """

    estimator = model.estimator if isinstance(model, ThinModel) else model
    if hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function"):
        rows = features(x)
        if hasattr(estimator, "predict_proba"):
            try:
                proba = np.asarray(estimator.predict_proba(rows))
                if proba.ndim == 2 and proba.shape[1] == 2:
                    return proba[:, 1].astype(np.float64)
            except AttributeError:  # e.g. SVC(probability=False) advertises but refuses
                pass
        if hasattr(estimator, "decision_function"):
            decision = np.asarray(estimator.decision_function(rows), dtype=np.float64)
            if decision.ndim == 2 and decision.shape[1] == 1:
                decision = decision[:, 0]
            if decision.ndim != 1:
                raise TypeError(
                    f"{type(estimator).__name__} is not a binary model: it gives "
                    f"{decision.shape[1]} scores per item (one per class); positive-class "
                    "scores (ROC-AUC) need 2 classes"
                )
            return decision
        raise TypeError(f"{type(estimator).__name__} gives no binary scores")
    import torch

    if isinstance(model, torch.nn.Module):
        with torch.no_grad(), eval_mode(model):
            out = model(torch.as_tensor(x))
        out = out.detach().double()
        if out.ndim == 2 and out.shape[1] == 2:
            return (out[:, 1] - out[:, 0]).numpy()
        if out.ndim == 2 and out.shape[1] == 1:
            return out[:, 0].numpy()
        raise TypeError(f"a binary torch model must give N×2 logits; got shape {tuple(out.shape)}")
    raise TypeError(
        f"cannot get scores from a {type(model).__name__}: give a scikit-learn estimator with "
        "predict_proba or decision_function, or a torch module"
    )


def from_outputs(task: str, outputs: object) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predictions, scores)`` from a torch model's N×K outputs on one batch.

    Classification: the argmax class codes, and for binary tasks the scores
    ``logits[:, 1] − logits[:, 0]`` (:func:`positive_scores`' rule); regression: the single
    output column as float64 numbers (scores None). N×1 outputs on a binary task are one
    logit per item: the prediction is ``logit > 0``.
    """
    task = _check_task(task)
    out = outputs.detach().cpu().double() if hasattr(outputs, "detach") else outputs
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or len(out) == 0:
        raise ValueError(f"outputs must be N×K numbers; got shape {out.shape}")
    if task == "regression":
        if out.shape[1] != 1:
            raise ValueError(f"a regression model gives N×1 outputs; got N×{out.shape[1]}")
        return out[:, 0].copy(), None
    if out.shape[1] == 1:
        if task != "binary":
            raise ValueError("N×1 outputs fit a binary task only (one logit per item)")
        return (out[:, 0] > 0).astype(np.int64), out[:, 0].copy()
    predictions = out.argmax(axis=1).astype(np.int64)
    scores = out[:, 1] - out[:, 0] if task == "binary" and out.shape[1] == 2 else None
    return predictions, scores


# --------------------------------------------------------------------------- per-item results as text


def pack(values: object) -> str:
    """Per-item predictions (or targets, or scores) as compact text: ``"<dtype>:<base64 of
    zlib-compressed bytes>"`` — class codes as uint8/uint16/int32, numbers as float64."""
    array = _values("values", values)
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    if array.dtype.kind in "iu":
        low, high = int(array.min()), int(array.max())
        for dtype in ("u1", "u2", "i4", "i8"):
            info = np.iinfo(dtype)
            if info.min <= low and high <= info.max:
                break
        array = array.astype(dtype)
    elif array.dtype.kind == "f":
        array = array.astype("f8")
    else:
        raise TypeError(f"pack takes class codes or numbers; got {array.dtype}")
    payload = base64.b64encode(zlib.compress(array.astype(array.dtype.newbyteorder("<")).tobytes()))
    return f"{array.dtype.str.lstrip('<|')}:{payload.decode('ascii')}"


def unpack(text: str) -> np.ndarray:
    """The array :func:`pack` wrote (read-only)."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"not packed per-item values: {str(text)[:40]!r}")
    dtype, payload = text.split(":", 1)
    if dtype not in ("u1", "u2", "i4", "i8", "f8"):
        raise ValueError(f"unknown packed type {dtype!r}")
    array = np.frombuffer(zlib.decompress(base64.b64decode(payload)), dtype="<" + dtype)
    return array


def measurement_fields(
    task: str,
    y_true: object,
    y_pred: object,
    *,
    scores: object = None,
    metric: str | None = None,
    seed: int = SEED,
    every_metric: bool = True,
) -> dict:
    """The quality fields of one measurement (proposed :class:`lab.measure.Measurement`
    fields): ``task``, ``metric`` (the primary one: ``metric`` or :func:`default_metric`),
    ``metric_value``/``metric_low``/``metric_high``, ``metrics`` (every metric of the task:
    ``{name: [value, low, high]}``), ``predictions`` and ``targets`` (:func:`pack`: class
    codes 0…K−1 or numbers) and ``scores`` (binary, packed; "" otherwise).

    ``y_true``/``y_pred`` are the data's codes (classification) or numbers (regression).
    ``every_metric=False`` computes the primary metric only (a live evaluation: the others'
    bootstrap intervals cost seconds; :func:`score` gives them on demand).
    """
    task = _check_task(task)
    metric = get_metric(metric or default_metric(task, y_true), task).name
    only = None if every_metric else [metric]
    results = score(task, y_true, y_pred, scores=scores, seed=seed, metrics=only)
    table = {
        name: [e.value, e.low, e.high] for name, e in results.items() if isinstance(e, Estimate)
    }
    if metric not in table:
        raise ValueError(f"{metric} could not be computed here (it needs scores=)")
    value, low, high = table[metric]
    return {
        "task": task,
        "metric": metric,
        "metric_value": value,
        "metric_low": low,
        "metric_high": high,
        "metrics": table,
        "predictions": pack(y_pred),
        "targets": pack(y_true),
        "scores": pack(scores) if scores is not None else "",
    }


# --------------------------------------------------------------------------- small data


def estimate_kind(n_test: int, smallest_class: int | None = None) -> str:
    """``"held-out test"`` when the test split has at least :data:`MIN_HELD_OUT` items (and,
    when given, its smallest class at least :data:`MIN_CLASS_ITEMS`: per-class metrics rest
    on them), else ``"cross-validation"`` (the held-out split is too small to separate models)."""
    for name, value in (("n_test", n_test), ("smallest_class", smallest_class)):
        if value is None and name == "smallest_class":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a whole number of items; got {value!r}")
    if n_test < 1:
        raise ValueError(f"n_test must be at least 1; got {n_test}")
    if n_test < MIN_HELD_OUT or (smallest_class is not None and smallest_class < MIN_CLASS_ITEMS):
        return "cross-validation"
    return "held-out test"


@dataclass(frozen=True)
class CrossValidation:
    """A metric estimated by repeated k-fold cross-validation over ``n`` items.

    ``scores`` holds one value per fit (``n_splits × n_repeats``, in scikit-learn's fold
    order); ``low``/``high`` is the 95 % interval with the Nadeau–Bengio correction for the
    overlap of the training sets (their variance × (1/J + n_test/n_train)).
    """

    metric: str
    mean: float
    low: float
    high: float
    scores: tuple[float, ...]
    n: int
    n_splits: int
    n_repeats: int
    splitter: str
    estimate: str = "cross-validation"

    def __str__(self) -> str:
        entry = get_metric(self.metric)
        return (
            f"{self.metric} {entry.format(self.mean)} (95 % {entry.format(self.low)}–"
            f"{entry.format(self.high)}), {self.splitter} on {self.n} items"
        )


def _corrected_interval(values: np.ndarray, test_share: float, alpha: float = ALPHA):
    from scipy.stats import t as student

    j = len(values)
    mean = float(values.mean())
    var = float(values.var(ddof=1)) if j > 1 else 0.0
    se = math.sqrt((1 / j + test_share / (1 - test_share)) * var)
    half = float(student.ppf(1 - alpha / 2, j - 1)) * se if j > 1 else math.inf
    return mean, mean - half, mean + half, se


def _all_items(data) -> tuple[np.ndarray, np.ndarray]:

    parts = [data.split(name) for name in ("train", "val", "test")]
    x = np.concatenate([features(p.images) for p in parts])
    y = np.concatenate([p.labels.numpy() for p in parts])
    return x, y


def cross_validate(
    estimator: object,
    data: object,
    metric: str | None = None,
    *,
    n_splits: int = 5,
    n_repeats: int = 10,
    seed: int = SEED,
) -> CrossValidation:
    """``metric`` of an (unfitted) scikit-learn estimator by repeated k-fold cross-validation
    over all of ``data``'s items (train, val and test together).

    Classification uses ``RepeatedStratifiedKFold``, regression ``RepeatedKFold`` (both
    seeded: two estimators validated with the same arguments see the same folds, so
    :func:`cv_paired` can compare them). The estimator is cloned for every fold (yours is
    never fitted). ``metric`` defaults to :func:`default_metric` for the data.
    """
    from sklearn.base import clone
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold

    data = as_data(data)
    entry = get_metric(metric or default_metric(data.task, _all_items(data)[1]), data.task)
    if entry.rows is None:
        raise ValueError(f"{entry.name} is one value per class; cross-validate a single number")
    n_splits = checks.whole("n_splits", n_splits, 2)
    n_repeats = checks.whole("n_repeats", n_repeats, 1)
    seed = checks.seed(seed)
    if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
        raise TypeError(
            "estimator must be an unfitted scikit-learn estimator (it is cloned and fitted on "
            f"every fold); got {type(estimator).__name__}"
            + (
                ": a torch model has no fit() to refit per fold"
                if hasattr(estimator, "forward")
                else ""
            )
        )

    check_estimator_task(estimator, data, fitted=False)
    x, y = _all_items(data)
    if data.is_classification:
        present = np.bincount(y.astype(np.int64))
        smallest = int(present[present > 0].min())
        if smallest < n_splits:
            raise ValueError(
                f"the smallest class has {smallest} items: stratified {n_splits}-fold needs at "
                f"least {n_splits}; pass n_splits={max(2, smallest)} or fewer"
            )
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
        name = "RepeatedStratifiedKFold"
    else:
        splitter = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
        name = "RepeatedKFold"
    values = []
    for train, test in splitter.split(x, y):
        model = clone(estimator).fit(x[train], y[train])
        if entry.needs_scores:
            s = positive_scores(model, x[test])
            values.append(entry.compute(y[test], None, s))
        else:
            values.append(entry.compute(y[test], np.asarray(model.predict(x[test]))))
    values = np.asarray(values, dtype=np.float64)
    mean, low, high, _ = _corrected_interval(values, 1 / n_splits)
    return CrossValidation(
        entry.name,
        mean,
        low,
        high,
        tuple(float(v) for v in values),
        len(y),
        n_splits,
        n_repeats,
        f"{name}({n_splits} folds × {n_repeats} repeats, seed {seed})",
    )


def cv_paired(base: CrossValidation, new: CrossValidation, alpha: float = ALPHA) -> Comparison:
    """Compare two :func:`cross_validate` results fold by fold: the corrected repeated k-fold
    t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004). Both must come from the same
    folds (same data, splits, repeats and seed)."""
    from scipy.stats import t as student

    if (base.metric, base.n, base.splitter) != (new.metric, new.n, new.splitter):
        raise ValueError(
            "cross-validation results compare fold by fold only when made with the same "
            f"metric, data and folds; got {base.metric}/{base.splitter} and "
            f"{new.metric}/{new.splitter}"
        )
    diffs = np.asarray(new.scores) - np.asarray(base.scores)
    mean, low, high, se = _corrected_interval(diffs, 1 / base.n_splits, alpha)
    j = len(diffs)
    if se == 0:
        p_value = 1.0 if mean == 0 else 0.0
    else:
        p_value = float(2 * student.sf(abs(mean) / se, j - 1))
    return Comparison(
        base.metric, base.n, base.mean, new.mean, mean, low, high, p_value,
        f"corrected repeated k-fold t-test ({j} fits)", alpha,
    )  # fmt: skip


# --------------------------------------------------------------------------- a measurement's metric


def _field(measurement: object, name: str) -> object:
    if isinstance(measurement, Mapping):
        return measurement.get(name)
    return getattr(measurement, name, None)


def _finite(value: object) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _items(measurement: object):
    """(targets, predictions, scores or None) unpacked from a measurement, or None."""
    predictions, targets = _field(measurement, "predictions"), _field(measurement, "targets")
    if not (isinstance(predictions, str) and predictions and isinstance(targets, str) and targets):
        return None
    scores = _field(measurement, "scores")
    return (
        unpack(targets),
        unpack(predictions),
        (unpack(scores) if isinstance(scores, str) and scores else None),
    )


def _task_of(measurement: object, entry: Metric) -> str:
    task = _field(measurement, "task")
    if isinstance(task, str) and task in TASKS:
        get_metric(entry, task)  # the metric must fit the measurement's task
        return task
    if entry.tasks == ("regression",):
        return "regression"
    return "binary" if entry.needs_scores else "multiclass"


_ESTIMATES: dict = {}  # (metric, targets, predictions, scores) text → Estimate, newest last
_ESTIMATES_KEPT = 512
_ESTIMATES_LOCK = threading.Lock()


def estimate_of(measurement: object, metric: str | Metric, *, interval: bool = True):
    """``metric`` of one measurement (a :class:`lab.evaluation.measure.Measurement`, or a row
    dict with the same fields) with its 95 % interval, as an :class:`Estimate`; None when the
    measurement cannot give it (no per-item results and no stored value, or ROC-AUC
    without scores).

    Read, in this order: the measurement's primary metric (``metric_value``, ``metric_low``,
    ``metric_high``); its accuracy fields (``accuracy``, Wilson's interval); its ``metrics``
    table; its per-item results (scikit-learn's function on ``targets``/``predictions``, the
    interval by :func:`score`, remembered per items); a plain column named after the metric
    (no interval). ``interval=False`` skips the bootstrap of the per-item case.

    Raises:
        ValueError: ``metric`` unknown, or not a metric of the measurement's ``task``.

    Example:
        >>> row = {"task": "regression", "targets": pack([3.0, 5.0, 7.0]),
        ...        "predictions": pack([2.0, 5.0, 9.0])}
        >>> estimate_of(row, "mae", interval=False).value
        1.0
    """
    entry = get_metric(metric)
    found = _estimate_of(measurement, entry, interval)
    if found is not None and entry.unit == "fraction" and not 0.0 <= found.value <= 1.0:
        raise ValueError(
            f"the measurement's {entry.name} is {found.value!r}; it must be a fraction from 0 "
            "to 1 (a percentage?)"
        )
    return found


def _estimate_of(measurement: object, entry: Metric, interval: bool):
    task = _task_of(measurement, entry)
    n = _field(measurement, "n_images")
    n = int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else 0
    if _field(measurement, "metric") == entry.name:
        value = _finite(_field(measurement, "metric_value"))
        if value is not None:
            low, high = (
                _finite(_field(measurement, "metric_low")),
                _finite(_field(measurement, "metric_high")),
            )
            return Estimate(entry.name, value, low, high, n, "as measured")
    if entry.name == "accuracy" and (value := _finite(_field(measurement, "accuracy"))) is not None:
        low, high = (
            _finite(_field(measurement, "accuracy_low")),
            _finite(_field(measurement, "accuracy_high")),
        )
        return Estimate("accuracy", value, low, high, n, "Wilson")
    table = _field(measurement, "metrics")
    if isinstance(table, str) and table:
        import json

        try:
            table = json.loads(table)
        except ValueError:
            table = None
    if isinstance(table, Mapping) and entry.name in table:
        given = table[entry.name]
        parts = list(given) if isinstance(given, (list, tuple)) else [given, None, None]
        if len(parts) == 3 and (value := _finite(parts[0])) is not None:
            return Estimate(entry.name, value, _finite(parts[1]), _finite(parts[2]), n, "stored")
    items = _items(measurement)
    if items is not None and (not entry.needs_scores or items[2] is not None):
        key = (entry.name, interval, _field(measurement, "targets"),
               _field(measurement, "predictions"), _field(measurement, "scores") or "")  # fmt: skip
        with _ESTIMATES_LOCK:  # a widget thread and the dashboard's worker read it at once
            if key in _ESTIMATES:
                return _ESTIMATES[key]
        y, p, s = items
        if interval:
            found = score(task, y, p, scores=s, metrics=[entry.name])[entry.name]
        else:
            value = entry.compute(y, None, s) if entry.needs_scores else entry.compute(y, p)
            found = Estimate(entry.name, float(value), None, None, len(y), "per-item results")
        with _ESTIMATES_LOCK:
            _ESTIMATES[key] = found
            while len(_ESTIMATES) > _ESTIMATES_KEPT:
                _ESTIMATES.pop(next(iter(_ESTIMATES)))
        return found
    value = _finite(_field(measurement, entry.name))
    return None if value is None else Estimate(entry.name, value, None, None, n, "stored")


def compare_measurements(
    base: object, new: object, metric: str | Metric, *, permutations: int = PERMUTATIONS
) -> Comparison | None:
    """:func:`paired` comparison of measurement ``new`` with ``base`` on ``metric``, on the
    same items (their per-item results); None when either lacks them, or they were scored
    on different items (other targets, split or data set)."""
    entry = get_metric(metric)
    if entry.rows is None:
        raise ValueError(f"{entry.name} is one value per class; compare a single number")
    a, b = _items(base), _items(new)
    if a is None or b is None or len(a[0]) != len(b[0]) or not np.array_equal(a[0], b[0]):
        return None
    if any(_field(base, k) != _field(new, k) for k in ("split", "data")):
        return None
    if entry.needs_scores and (a[2] is None or b[2] is None):
        return None
    task = _task_of(new, entry)
    return paired(entry, a[0], a[1], b[1], task=task, scores_a=a[2], scores_b=b[2],
                  permutations=permutations)  # fmt: skip


def record(measurement: object, metrics: Sequence[str] = ()) -> dict:
    """What an export or a model card says about a measurement's quality: its task, split,
    number of items, the metric it was judged by, and for that metric and each of
    ``metrics`` the value with its 95 % interval, unit and direction (JSON-ready).

    Example:
        >>> row = {"task": "regression", "split": "val", "n_images": 3, "metric": "mae",
        ...        "targets": pack([3.0, 5.0, 7.0]), "predictions": pack([2.0, 5.0, 9.0])}
        >>> card = record(row, ["r2"])
        >>> card["metric"], card["metrics"]["mae"]["value"], card["metrics"]["mae"]["direction"]
        ('mae', 1.0, 'lower')
    """
    primary = _field(measurement, "metric")
    task = _field(measurement, "task")
    names = [m for m in (primary, *metrics) if isinstance(m, str)]
    found = {}
    for name in dict.fromkeys(names):
        entry = get_metric(name)
        try:
            estimate = estimate_of(measurement, entry)
        except ValueError:  # a metric of another task
            estimate = None
        if estimate is None:
            continue
        found[name] = {
            "value": estimate.value,
            "low": estimate.low,
            "high": estimate.high,
            "unit": entry.unit_words,
            "direction": entry.direction,
            "interval": estimate.method,
        }
    n = _field(measurement, "n_images")
    return {
        "task": task if isinstance(task, str) else None,
        "split": _field(measurement, "split"),
        "items": int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else None,
        "metric": primary if isinstance(primary, str) else None,
        "metrics": found,
    }
