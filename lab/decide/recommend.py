"""Recommend the cheapest model that is on par: "prefer a thin model when it is on par, and
only then shrink a deep one" — decided on measured numbers.

:func:`recommend` takes measurements (a DataFrame such as
``lab.store.default_store().to_frame()``, a :class:`~lab.store.ResultStore`, or a list of
:class:`~lab.measure.Measurement` objects or dicts, e.g. ``lab.evaluate(...).as_dict()``),
keeps those **on par** — accuracy ≥ ``min_accuracy`` and/or within ``tolerance_pt``
percentage points of the best (1.0 pt when neither is given) — and returns the cheapest
on the objective (``bytes``: ``artifact_bytes``, ``latency``: ``latency_ms_p50``, ``co2``:
``co2_g_per_1k``) with up to three runners-up and a plain-English reason with the numbers.

Ties are broken deterministically: objective, then smaller ``artifact_bytes``, then the
name, then higher accuracy, then input order. Rows without an accuracy or without the
objective's value are left out, and the reason says which.

Example:
    >>> rows = [
    ...     {"name": "cnn", "accuracy": 0.929, "artifact_bytes": 98_016},
    ...     {"name": "LogisticRegression", "accuracy": 0.842, "artifact_bytes": 60_000},
    ...     {"name": "mlp", "accuracy": 0.925, "artifact_bytes": 26_000},
    ... ]
    >>> recommend(rows).chosen["name"]
    'mlp'
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from lab.decide import objectives as objective_table
from lab.decide.pareto import tradeoff
from lab.decide.plot_style import FONT_SIZES, LABEL_OFFSETS, style_axes
from lab.evaluation import quality
from lab.evaluation.quality import MIN_HELD_OUT, unpack
from lab.models.thin import THIN_MODELS

__all__ = ["DEFAULT_TOLERANCE_PT", "OBJECTIVES", "Recommendation", "check_floor", "recommend"]

# objective name → the Measurement field it reads (lab.decide.objectives holds the wording);
# the older names "bytes", "latency", "co2" are accepted too
OBJECTIVES = {
    name: objective.field
    for objective in objective_table.OBJECTIVES.values()
    for name in (objective.name, *objective.aliases)
}
DEFAULT_TOLERANCE_PT = 1.0  # used when neither min_accuracy nor tolerance_pt is given
MAX_RUNNERS_UP = 3
_EPS = 1e-12  # accuracies are fractions; forgive float representation at the boundary


@dataclass
class Recommendation:
    """What :func:`recommend` chose and why.

    ``chosen`` is the row (a dict of its fields) or None when no model qualifies;
    ``runners_up`` the next cheapest on-par rows (≤ 3, one per model); ``reason`` a
    plain-English explanation with the numbers. ``on_par`` lists every qualifying row,
    cheapest first; ``excluded`` says which rows were left out and why.
    """

    chosen: dict | None
    runners_up: list[dict]
    reason: str
    objective: str
    metric: str
    best: dict | None  # the most accurate row
    best_accuracy: float | None
    min_accuracy: float | None
    tolerance_pt: float | None
    threshold: float | None  # the accuracy a row needed: max(floor, best − tolerance)
    on_par: list[dict] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    quality_metric: str = "accuracy"  # the quality metric "on par" was judged by
    trivial: dict | None = None  # the trivial baseline's row, when the results had one
    tests: list[dict] = field(default_factory=list)  # per model: on par?, verdicts vs best/trivial
    n_items: int | None = None  # test items behind the paired tests (None: no per-item results)
    limit: float | None = None  # the worst acceptable value of the metric (floor or ceiling)
    estimate: str = "held-out test"  # or "cross-validation (…folds…)": what "on par" rested on

    def __str__(self) -> str:
        return self.reason

    def to_frame(self) -> pd.DataFrame:
        """The chosen row and the runners-up, with a ``role`` column."""
        rows = ([{"role": "chosen", **self.chosen}] if self.chosen else []) + [
            {"role": f"runner-up {i}", **row} for i, row in enumerate(self.runners_up, 1)
        ]
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------- inputs


def _row_of(item: object) -> dict:
    if isinstance(item, Mapping):
        return dict(item)
    if isinstance(item, pd.Series):
        return item.to_dict()
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if hasattr(item, "to_row"):
        return dict(item.to_row())
    raise TypeError(
        f"cannot read a measurement from a {type(item).__name__}; pass a DataFrame, a "
        "ResultStore, or a list of Measurement objects or dicts"
    )


def _rows(results: object) -> list[dict]:
    if hasattr(results, "to_frame") and not isinstance(results, pd.DataFrame):
        results = results.to_frame()  # a ResultStore (or anything with to_frame())
    if isinstance(results, pd.DataFrame):
        return [_clean(r) for r in results.to_dict("records")]
    if isinstance(results, Mapping) or hasattr(results, "to_row"):
        raise TypeError(
            f"results must be a list of measurements (or a DataFrame, a ResultStore); got one "
            f"{type(results).__name__}: wrap it in a list, [result]"
        )
    if isinstance(results, (str, bytes)) or not isinstance(results, Iterable):
        raise TypeError(
            f"results must be a DataFrame, a ResultStore or a list of measurements; got "
            f"{type(results).__name__}"
        )
    return [_clean(_row_of(item)) for item in results]


def _clean(row: dict) -> dict:
    """NaN (pandas' missing value) → None, so rows from frames and lists read alike."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _number(value: object) -> float | None:
    """A finite real number, or None for missing / NaN / non-numeric values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- validation


def _check_objective(objective: object) -> str:
    objective_table.get(objective)  # a ValueError naming the objectives allowed
    return objective


def _real(value: object) -> float | None:
    """An argument that is a finite real number (not a bool, not a string), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return _number(value)


def check_floor(min_accuracy: object) -> float | None:
    """``min_accuracy`` as a fraction from 0 to 1 (or None); a ValueError says what to write
    (a percentage such as 90 is refused, never divided by 100)."""
    if min_accuracy is None:
        return None
    value = _real(min_accuracy)
    if value is None or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"min_accuracy must be a fraction from 0 to 1 (e.g. 0.9 for 90%) or None; got "
            f"{min_accuracy!r}"
        )
    return value


def check_limit(limit: object, metric: object) -> float | None:
    """``limit`` on ``metric`` (a :data:`lab.quality.METRICS` name) or None: a fraction from 0
    to 1 for metrics shown in % (a percentage such as 90 is refused, never divided by 100),
    at most 1 for R², a number ≥ 0 for errors in the target's units (MAE, RMSE)."""
    entry = quality.get_metric(metric)
    if limit is None:
        return None
    value = _real(limit)
    if entry.unit == "fraction":
        ok, what = value is not None and 0.0 <= value <= 1.0, "a fraction from 0 to 1 (e.g. 0.9)"
    elif entry.unit == "target":
        ok, what = value is not None and value >= 0.0, "a finite number ≥ 0 in the target's units"
    else:
        ok, what = value is not None and value <= 1.0, "a finite number ≤ 1"
    if not ok:
        raise ValueError(f"limit on {entry.name} must be {what}, or None; got {limit!r}")
    return value


def _check_tolerance(tolerance_pt: object) -> float | None:
    if tolerance_pt is None:
        return None
    value = _real(tolerance_pt)
    if value is None or value < 0:
        raise ValueError(
            f"tolerance_pt must be a non-negative number of percentage points (e.g. 1.0) or "
            f"None; got {tolerance_pt!r}"
        )
    return value


_COSTS = ("artifact_bytes", "latency_ms_p50", "co2_g_per_1k")  # what a choice may be based on


def _check_costs(rows: list[dict], columns: Iterable[str]) -> None:
    """Refuse a row whose cost cannot be real: negative, infinite, a bool or text (a missing
    value — None, or NaN as pandas writes it — only leaves the row out)."""
    for row in rows:
        for column in columns:
            objective_table.check_cost(row.get(column), column, display_name(row))


def _check_floors(floors: object) -> list[float | None]:
    """``floors``: a list of accuracy floors (fractions from 0 to 1, or None)."""
    if isinstance(floors, (str, bytes, numbers.Number)) or not isinstance(floors, Iterable):
        raise ValueError(
            "floors must be a list of accuracy floors (fractions from 0 to 1, or None for the "
            f"tolerance), e.g. [0.8, 0.9]; got {floors!r}"
            + (f" — for one floor write [{floors!r}]" if isinstance(floors, numbers.Real) else "")
        )
    floors = list(floors)
    if not floors:
        raise ValueError(
            "floors must list at least one accuracy floor (a fraction from 0 to 1, or None "
            "for the tolerance), e.g. [0.8, 0.9]; got an empty list"
        )
    for i, floor in enumerate(floors):
        try:
            check_floor(floor)
        except ValueError:
            raise ValueError(
                f"floors[{i}] must be a fraction from 0 to 1 (e.g. 0.9 for 90%) or None; got "
                f"{floor!r}"
            ) from None
    return floors


def _check_objectives(objectives: object) -> list[str]:
    """``objectives``: a list of :data:`OBJECTIVES` names (one name alone is refused: a
    string would be read letter by letter)."""
    if isinstance(objectives, str) or not isinstance(objectives, Iterable):
        raise ValueError(
            f"objectives must be a list of names from {', '.join(OBJECTIVES)}, e.g. "
            f"['bytes', 'latency']; got {objectives!r}"
        )
    return [_check_objective(o) for o in objectives]


# --------------------------------------------------------------------------- wording


def display_name(row: Mapping) -> str:
    """``name`` with its recipe label when it has one (``"cnn [prune 90% … · 4-bit channel]"``)."""
    name = str(row.get("name") or "unnamed model")
    label = row.get("label")
    if isinstance(label, str) and label and label != "baseline" and not label.startswith("scikit"):
        return f"{name} [{label}]"
    return name


def _format_value(objective: str, value: float) -> str:
    return objective_table.get(objective).format(value)


def _compare(objective: str, a: float, b: float) -> str:
    """How ``a`` compares with ``b`` on the objective: '42× smaller than', '6% faster than',
    'about as small as'."""
    return objective_table.get(objective).compare(a, b)


def _pt(gap: float) -> str:
    return f"{abs(gap) * 100:.1f} pt"


def _is_thin(row: Mapping) -> bool:
    return str(row.get("executes_as") or "").startswith("scikit-learn")


# --------------------------------------------------------------------------- the choice


def recommend(
    results: object,
    min_accuracy: float | None = None,
    tolerance_pt: float | None = None,
    objective: str = "bytes",
    *,
    split: str | None = None,
    country: str | None = None,
    data: str | None = None,
    metric: str | None = None,
    alpha: float = 0.05,
    limit: float | None = None,
    cross_validation: Mapping[str, object] | None = None,
) -> Recommendation:
    """The cheapest model on ``objective`` among those on par, with runners-up and a reason.

    **On par** means *not worse than the best model on the quality ``metric`` in a way that
    matters*: a row is on par when it is within ``tolerance_pt`` of the best (a practical
    margin), or when a paired test on the same test items cannot tell it from the best
    (``p ≥ alpha``: exact McNemar for accuracy, a paired permutation test for the other
    metrics, :func:`lab.quality.paired`). The test needs per-item results in the rows
    (``correct_bits`` for accuracy; ``predictions`` and ``targets`` packed by
    :func:`lab.quality.pack` for any metric); rows without them are judged by the margin
    alone, and the reason says so. When the best and the chosen model cannot be told
    apart on few items, the reason says that too and points to cross-validation
    (:func:`lab.quality.cross_validate`).

    **Cross-validation instead of the test split**: when the test split is too small to tell
    models apart, pass ``cross_validation={model name: lab.quality.cross_validate(...)}``
    (every model's result made with the same folds). The models named there are then
    judged by their cross-validated means, and "on par" (and "beats the trivial baseline")
    by the corrected repeated k-fold t-test (:func:`lab.quality.cv_paired`); the reason
    says which estimate was used. Rows are matched by their ``name`` (or display name).

    **The trivial baseline** (a ``DummyClassifier``/``DummyRegressor`` row, or one marked
    ``trivial``) is never recommended, and neither is a model that does not beat it
    significantly on the same items (the reason names each).

    Args:
        results: a DataFrame (e.g. ``lab.store.default_store().to_frame()``), a
            :class:`~lab.store.ResultStore`, or a list of Measurement objects or dicts.
        min_accuracy: accuracy floor, a fraction in [0, 1] (``metric="accuracy"`` only:
            the same as ``limit`` on accuracy).
        tolerance_pt: the practical margin: percentage points for fraction metrics and
            R², percent of the best value for errors in target units (MAE, RMSE). When
            neither this nor ``min_accuracy`` is given: 1.0.
        objective: ``"bytes"`` (artifact_bytes), ``"latency"`` (latency_ms_p50) or
            ``"co2"`` (co2_g_per_1k).
        split: keep only rows measured on this split (mixing splits is an error).
        country: keep only rows priced for this country (checked like ``split`` for co2).
        data: keep only rows measured on this data set (mixing data sets is an error).
        metric: a name from :data:`lab.quality.METRICS` (default: the metric of the
            ``cross_validation`` results when given, else the rows' own ``metric`` when they
            agree, else accuracy).
        alpha: the significance level of the paired tests.
        limit: the worst acceptable value of ``metric``: a floor where higher is better
            (a fraction for metrics in %, e.g. ``0.8`` macro-F1), a ceiling for errors in
            the target's units (e.g. ``50`` MAE). See :func:`check_limit`.
        cross_validation: model name → :class:`lab.quality.CrossValidation` on ``metric``
            (see above).

    Raises:
        ValueError: no results; an objective, metric, floor or tolerance out of range;
            rows that mix splits, data sets (or countries for co2) without choosing one;
            rows with per-item results on different items.
    """

    objective = _check_objective(objective)
    floor = check_floor(min_accuracy)
    tolerance = _check_tolerance(tolerance_pt)
    alpha = quality.stats._check_probability("alpha", alpha)
    if floor is None and tolerance is None:
        tolerance = DEFAULT_TOLERANCE_PT
    column = OBJECTIVES[objective]
    rows = _rows(results)
    if not rows:
        raise ValueError("no results to recommend from: the set of measurements is empty")
    rows = _filtered(rows, "split", split)
    rows = _filtered(rows, "data", data)
    if objective_table.get(objective).per_country or country is not None:
        rows = _filtered(rows, "country", country)
    _check_costs(rows, {"artifact_bytes", column})
    if metric is None and isinstance(cross_validation, Mapping):  # judge by what they estimate
        estimated = {getattr(c, "metric", None) for c in cross_validation.values()}
        metric = estimated.pop() if len(estimated) == 1 and None not in estimated else None
    entry = _metric_of(rows, metric)
    if floor is not None and entry.name != "accuracy":
        raise ValueError(
            f"min_accuracy applies to metric='accuracy'; the metric is {entry.name}: pass "
            f"limit= (the worst acceptable {entry.name}) instead"
        )
    if floor is not None and limit is not None:
        raise ValueError("give min_accuracy or limit, not both (min_accuracy is limit on accuracy)")
    if limit is not None:
        floor = check_limit(limit, entry.name)
        if tolerance_pt is None:
            tolerance = None
    cv = _check_cv(cross_validation, entry)
    if cv:
        present = {r.get("name") for r in rows} | {display_name(r) for r in rows}
        unknown = [name for name in cv if name not in present]
        if unknown:
            raise ValueError(
                f"cross_validation names {', '.join(map(repr, unknown))}, which no result has; "
                f"the results' models: {', '.join(sorted(map(str, present - {None})))}"
            )

    excluded: list[str] = []
    scored = []  # (index, row, value)
    for index, row in enumerate(rows):
        value = _metric_value(row, entry)
        if _cv_of(cv, row) is not None:
            value = _cv_of(cv, row).mean
        if value is None:
            excluded.append(f"{display_name(row)}: no {entry.name.replace('_', ' ')}")
            continue
        if entry.unit == "fraction" and not 0.0 <= value <= 1.0:
            raise ValueError(
                f"{display_name(row)} has {entry.name} {value!r}; it must be a fraction from "
                "0 to 1 (percentages?)"
            )
        scored.append((index, row, value))
    if not scored:
        raise ValueError(
            f"no result has {entry.name.replace('_', ' ')} to compare: " + "; ".join(excluded[:5])
            if excluded
            else "no results to recommend from"
        )
    items = _Items(entry)
    for index, row, _ in scored:
        items.add(index, row)
        items.add_cv(index, _cv_of(cv, row))

    def good(value: float) -> float:  # larger is better, whatever the metric's direction
        return value if entry.higher_is_better else -value

    trivial = [t for t in scored if _is_trivial(t[1])]
    models = [t for t in scored if not _is_trivial(t[1])] or scored
    baseline = max(trivial, key=lambda t: (good(t[2]), -t[0])) if trivial else None
    best_index, best_row, best_value = max(models, key=lambda t: (good(t[2]), -t[0]))
    margin = entry.margin(tolerance, best_value) if tolerance is not None else None
    threshold = max(
        good(floor) if floor is not None else -math.inf,
        good(best_value) - margin if margin is not None else -math.inf,
    )

    tests: dict[int, dict] = {}
    on_par_set, beats = set(), set()
    for index, row, value in models:
        verdict = tests.setdefault(index, {"name": display_name(row)})
        within = good(value) + _EPS >= threshold
        comparison = items.compare(best_index, index) if index != best_index else None
        verdict["vs_best"] = comparison
        floor_ok = floor is None or good(value) + _EPS >= good(floor)
        if index == best_index or within:
            on_par = floor_ok
        elif comparison is not None:
            on_par = floor_ok and not comparison.significant
        else:
            on_par = False
        verdict["on_par"] = on_par
        if on_par:
            on_par_set.add(index)
        if baseline is None:
            beats.add(index)
            continue
        versus = items.compare(baseline[0], index)
        verdict["vs_trivial"] = versus
        if versus is not None:
            ok = versus.significant and versus.better is True
        else:
            ok = good(value) > good(baseline[2])
        if ok:
            beats.add(index)
        else:
            how = versus.verdict if versus is not None else "no per-item results to test"
            trivial = f"the trivial baseline {display_name(baseline[1])}"
            if versus is not None and versus.significant and versus.better is False:
                said = (
                    f"is significantly worse than {trivial}"  # not "does not beat … significantly"
                )
            else:
                said = f"does not beat {trivial} significantly"
            excluded.append(f"{display_name(row)} {said} ({how})")

    def key(item):
        index, row, value = item
        bytes_ = _number(row.get("artifact_bytes"))
        return (_number(row.get(column)), bytes_ if bytes_ is not None else math.inf,
                display_name(row), -good(value), index)  # fmt: skip

    candidates = [t for t in models if t[0] in beats and not _is_trivial(t[1])]
    with_metric, missing = [], []
    for item in candidates:
        (missing if _number(item[1].get(column)) is None else with_metric).append(item)
    if missing:
        names = ", ".join(display_name(r) for _, r, _ in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        excluded.append(f"{len(missing)} without {column}: {names}{more}")
    on_par = sorted((t for t in with_metric if t[0] in on_par_set), key=key)
    chosen = on_par[0] if on_par else None
    runners_up, seen = [], {display_name(chosen[1])} if chosen else set()
    for item in on_par[1:]:
        label = display_name(item[1])
        if label not in seen and len(runners_up) < MAX_RUNNERS_UP:
            runners_up.append(item)
            seen.add(label)

    context = _Context(entry, objective, column, floor, tolerance, margin, items, baseline,
                       tests, alpha)  # fmt: skip
    reason = _reason(
        context,
        best_row,
        best_value,
        chosen,
        runners_up,
        len(on_par),
        sorted(with_metric, key=key),
        on_par_set,
        excluded,
    )
    return Recommendation(
        chosen=dict(chosen[1]) if chosen else None,
        runners_up=[dict(r) for _, r, _ in runners_up],
        reason=reason,
        objective=objective,
        metric=column,
        best=dict(best_row),
        best_accuracy=best_value,
        min_accuracy=floor if entry.name == "accuracy" else None,
        tolerance_pt=tolerance,
        threshold=threshold if entry.higher_is_better else -threshold,
        on_par=[dict(r) for _, r, _ in on_par],
        excluded=excluded,
        quality_metric=entry.name,
        trivial=dict(baseline[1]) if baseline else None,
        tests=[
            {
                "name": v["name"],
                "on_par": v["on_par"],
                "vs_best": _verdict(v.get("vs_best")),
                "vs_trivial": _verdict(v.get("vs_trivial")),
            }
            for v in tests.values()
        ],  # fmt: skip
        n_items=items.n,
        limit=floor,
        estimate=items.estimate,
    )


# --------------------------------------------------------------------------- per-item results


def _verdict(comparison) -> str | None:
    return None if comparison is None else comparison.verdict


def _is_trivial(row: Mapping) -> bool:
    """A trivial baseline: marked ``trivial``, or a scikit-learn Dummy estimator."""
    if row.get("trivial") is True:
        return True
    for key in ("name", "estimator", "executes_as"):
        text = str(row.get(key) or "")
        if text.startswith("Dummy") or text.split(" ")[-1].startswith("Dummy"):
            return True
    return False


def _check_cv(cross_validation: object, entry) -> dict | None:
    """``cross_validation``: model name → CrossValidation on ``entry``'s metric, all made
    on the same folds (else a ValueError saying what differs)."""
    if cross_validation is None:
        return None
    if not isinstance(cross_validation, Mapping) or not cross_validation:
        raise ValueError(
            "cross_validation must be a dict {model name: lab.quality.cross_validate(...)}; "
            f"got {cross_validation!r}"
        )
    folds = set()
    for name, result in cross_validation.items():
        if not isinstance(result, quality.CrossValidation):
            raise ValueError(
                f"cross_validation[{name!r}] must be a lab.quality.CrossValidation (from "
                f"lab.quality.cross_validate); got {type(result).__name__}"
            )
        if result.metric != entry.name:
            raise ValueError(
                f"cross_validation[{name!r}] estimates {result.metric}; the recommendation "
                f"judges by {entry.name}: cross-validate with metric={entry.name!r}"
            )
        folds.add((result.n, result.splitter))
    if len(folds) > 1:
        raise ValueError(
            "cross_validation results must come from the same folds (same data, n_splits, "
            f"n_repeats and seed); got {sorted(folds)}"
        )
    return dict(cross_validation)


def _cv_of(cv: dict | None, row: Mapping):
    """The row's cross-validation result, matched by its name (or display name)."""
    if not cv:
        return None
    for key in (row.get("name"), display_name(row)):
        if isinstance(key, str) and key in cv:
            return cv[key]
    return None


def _metric_of(rows: list[dict], metric: str | None):

    if metric is not None:
        entry = quality.get_metric(metric)
    else:
        named = {r.get("metric") for r in rows if isinstance(r.get("metric"), str)}
        entry = quality.get_metric(named.pop() if len(named) == 1 else "accuracy")
    if entry.rows is None:
        raise ValueError(f"{entry.name} is one value per class; choose a single-number metric")
    tasks = {r.get("task") for r in rows if isinstance(r.get("task"), str)}
    if len(tasks) > 1:
        raise ValueError(f"the results mix tasks ({', '.join(sorted(tasks))}): compare one task")
    if tasks and tasks.pop() not in entry.tasks:
        task = next(r.get("task") for r in rows if isinstance(r.get("task"), str))
        raise ValueError(
            f"{entry.name} does not apply to a {task} task; choose one of "
            f"{', '.join(quality.metrics_for(task))}"
        )
    return entry


def _metrics_table(row: Mapping) -> dict:
    table = row.get("metrics")
    if isinstance(table, str) and table:
        import json

        try:
            table = json.loads(table)
        except ValueError:
            return {}
    return table if isinstance(table, Mapping) else {}


def _arrays(row: Mapping):
    """(targets, predictions, scores or None) unpacked from a row, or None."""

    predictions, targets = row.get("predictions"), row.get("targets")
    if not (isinstance(predictions, str) and predictions and isinstance(targets, str) and targets):
        return None
    scores = row.get("scores")
    scores = unpack(scores) if isinstance(scores, str) and scores else None
    return unpack(targets), unpack(predictions), scores


def _correct(row: Mapping):
    import base64

    import numpy as np

    bits, n = row.get("correct_bits"), _number(row.get("n_images"))
    if not (isinstance(bits, str) and bits and n):
        return None
    packed = np.frombuffer(base64.b64decode(bits), dtype=np.uint8)
    return np.unpackbits(packed, count=int(n)).astype(bool)


def _metric_value(row: Mapping, entry) -> float | None:
    """The row's value on the metric: from its per-item results (scikit-learn's function),
    else its column or ``metrics`` table."""
    arrays = _arrays(row)
    if arrays is not None:
        y, p, s = arrays
        if not entry.needs_scores:
            return float(entry.compute(y, p, s))
        if s is not None:
            return float(entry.compute(y, None, s))
    value = _number(row.get(entry.name))
    if value is None and entry.name in _metrics_table(row):
        given = _metrics_table(row)[entry.name]
        value = _number(given[0] if isinstance(given, (list, tuple)) else given)
    return value


class _Items:
    """The rows' per-item results, checked to be on the same items, compared in pairs."""

    def __init__(self, entry) -> None:
        self.entry = entry
        self.cv: dict[int, object] = {}  # row index → its CrossValidation (when given)
        self.arrays: dict[int, tuple] = {}
        self.correct: dict[int, object] = {}
        self.n: int | None = None
        self._targets = None
        self._cache: dict = {}

    def add(self, index: int, row: Mapping) -> None:
        import numpy as np

        arrays = _arrays(row)
        usable = arrays is not None and (not self.entry.needs_scores or arrays[2] is not None)
        if usable:
            self._same(len(arrays[0]), row)
            if self._targets is None:
                self._targets = arrays[0]
            elif not np.array_equal(self._targets, arrays[0]):
                raise ValueError(
                    f"{display_name(row)} was scored on other items (its targets differ): "
                    "compare models on the same split of the same data"
                )
            self.arrays[index] = arrays
        elif self.entry.name == "accuracy" and (correct := _correct(row)) is not None:
            self._same(len(correct), row)
            self.correct[index] = correct

    def add_cv(self, index: int, result: object) -> None:
        if result is not None:
            self.cv[index] = result

    @property
    def estimate(self) -> str:
        """What the comparisons rest on: the held-out test items, or cross-validation."""
        if self.cv:
            return f"cross-validation ({next(iter(self.cv.values())).splitter})"
        return "held-out test"

    def _same(self, n: int, row: Mapping) -> None:
        if self.n is None:
            self.n = n
        elif n != self.n:
            raise ValueError(
                f"{display_name(row)} was scored on {n} items, others on {self.n}: paired "
                "tests need the same items (the same split of the same data)"
            )

    def compare(self, base: int, new: int):
        """:class:`lab.quality.Comparison` of row ``new`` against row ``base``, or None."""

        if (base, new) in self._cache:
            return self._cache[(base, new)]
        result = None
        if self.cv and (base in self.cv) != (new in self.cv):
            result = None  # one estimated by cross-validation, the other not: no common test
        elif base in self.cv and new in self.cv:
            result = quality.cv_paired(self.cv[base], self.cv[new])
        elif base in self.arrays and new in self.arrays:
            y, pa, sa = self.arrays[base]
            _, pb, sb = self.arrays[new]
            result = quality.paired(self.entry, y, pa, pb, scores_a=sa, scores_b=sb)
        elif self.entry.name == "accuracy":
            a = self.correct.get(base)
            b = self.correct.get(new)
            if a is None and base in self.arrays:
                a = self.arrays[base][0] == self.arrays[base][1]
            if b is None and new in self.arrays:
                b = self.arrays[new][0] == self.arrays[new][1]
            if a is not None and b is not None:
                test = quality.stats.mcnemar_exact(a, b)
                result = quality.Comparison(
                    "accuracy", test.n, test.base_accuracy, test.new_accuracy,
                    test.new_accuracy - test.base_accuracy, math.nan, math.nan, test.p_value,
                    "exact McNemar",
                )  # fmt: skip
        self._cache[(base, new)] = result
        return result


@dataclass
class _Context:
    entry: object
    objective: str
    column: str
    floor: float | None
    tolerance: float | None
    margin: float | None
    items: _Items
    baseline: tuple | None
    tests: dict
    alpha: float


def _filtered(rows: list[dict], column: str, wanted: str | None) -> list[dict]:
    if wanted is not None:
        kept = [r for r in rows if r.get(column) == wanted]
        if not kept:
            present = sorted({str(r.get(column)) for r in rows})
            raise ValueError(
                f"no results with {column}={wanted!r}; present: {', '.join(present) or 'none'}"
            )
        return kept
    values = {r.get(column) for r in rows if r.get(column) is not None}
    if len(values) > 1:
        counts = ", ".join(
            f"{v}: {sum(r.get(column) == v for r in rows)}" for v in sorted(map(str, values))
        )
        plural = {"split": "splits", "country": "countries", "data": "data sets"}[column]
        raise ValueError(
            f"the results mix {plural} ({counts}); measurements on different {plural} are "
            f"not comparable: pass {column}=… to choose one"
        )
    return rows


def _show(entry, value: float) -> str:
    """A metric value as the reason writes it (fractions with two decimals: 92.86%)."""
    return f"{value:.2%}" if entry.unit == "fraction" else entry.format(value)


def _stated(entry, value: float) -> str:
    """``93.33% accuracy``, ``MAE 43.32``."""
    if entry.unit == "fraction":
        return f"{_show(entry, value)} {entry.words}"
    return f"{entry.words} {_show(entry, value)}"


def _metric_words(entry) -> str:
    return entry.words


def _criteria(ctx: _Context, best_name: str, best: float) -> str:
    entry = ctx.entry
    parts = []
    if ctx.floor is not None and entry.name == "accuracy":
        parts.append(f"at least {ctx.floor:.2%} accurate")
    elif ctx.floor is not None:
        bound = "at least" if entry.higher_is_better else "at most"
        parts.append(f"{entry.words} {bound} {_show(entry, ctx.floor)}")
    if ctx.tolerance is not None:
        unit = "%" if entry.unit == "target" else " pt"
        parts.append(
            f"within {ctx.tolerance:g}{unit} of the best, {best_name} at {_show(entry, best)}"
        )
    text = " and ".join(parts)
    if ctx.items.cv:
        text += (
            f", or not significantly worse than it by cross-validation (corrected repeated "
            f"k-fold t-test, α = {ctx.alpha:g})"
        )
    elif ctx.items.n is not None:
        text += (
            f", or not significantly {'less accurate' if entry.name == 'accuracy' else 'worse'} "
            f"than it on the same {ctx.items.n} test items (α = {ctx.alpha:g})"
        )
    return text


def _gap(entry, best: float, value: float) -> str:
    """How far ``value`` is from ``best``: '3.3 pt', '4.21' (target units), '0.031'."""
    difference = abs(best - value)
    if entry.unit == "fraction":
        return f"{difference * 100:.1f} pt"
    return f"{difference:.3g}" if entry.unit == "target" else f"{difference:.3f}"


def _reason(ctx, best_row, best, chosen, runners_up, n_on_par, ranked, on_par_set, excluded) -> str:
    entry, objective, column = ctx.entry, ctx.objective, ctx.column
    words = _metric_words(entry)
    best_name = display_name(best_row)
    criteria = _criteria(ctx, best_name, best)
    left_out = f" Left out: {'; '.join(excluded)}." if excluded else ""
    if chosen is None:
        if ctx.floor is not None and entry.name != "accuracy" and entry.better(ctx.floor, best):
            kind = "floor" if entry.higher_is_better else "ceiling"
            return (
                f"No model reaches the {kind} of {_show(entry, ctx.floor)} {words}: the best "
                f"{words} available is {_show(entry, best)} ({best_name}).{left_out}"
            )
        if ctx.floor is not None and best + _EPS < ctx.floor:
            return (
                f"No model reaches the floor of {ctx.floor:.2%}: the best accuracy available is "
                f"{best:.2%} ({best_name}).{left_out}"
            )
        if ctx.baseline is not None and any("trivial baseline" in e for e in excluded):
            return (
                f"No model is recommended: none on par beats the trivial baseline "
                f"{display_name(ctx.baseline[1])} ({_show(entry, ctx.baseline[2])} {words}) "
                f"significantly; the best {words} available is {_show(entry, best)} "
                f"({best_name}).{left_out}"
            )
        return (
            f"No model on par ({criteria}) has a {column} value to compare; the best {words} "
            f"available is {_show(entry, best)} ({best_name}).{left_out}"
        )
    index, row, value = chosen
    name, cost = display_name(row), _number(row.get(column))
    superlative = objective_table.get(objective).superlative
    which = "only model" if n_on_par == 1 else f"{superlative} of the {n_on_par} models"
    sentences = [
        f"{name} is the {which} on par ({criteria}): "
        f"{_format_value(objective, cost)} at {_stated(entry, value)}."
    ]
    better = entry.better
    if row is best_row or not better(best, value):
        sentences.append(
            f"It is also the {'most accurate' if entry.name == 'accuracy' else 'best'}."
        )
    else:
        best_cost = _number(best_row.get(column))
        versus = _compare(objective, cost, best_cost) if best_cost is not None else None
        sentences.append(
            f"It is {_gap(entry, best, value)} "
            + ("below" if entry.unit == "fraction" else "worse than")
            + " the best"
            + (f" and {versus} {best_name}." if versus else f" ({best_name}).")
        )
        sentences += _test_sentences(ctx, index, name, best_name, best, value)
    thin = [item for item in ranked if _is_thin(item[1])]
    good = (lambda v: v) if entry.higher_is_better else (lambda v: -v)
    if thin and not _is_thin(row):
        t_index, t_row, t_value = max(thin, key=lambda t: (good(t[2]), -t[0]))
        t_name, t_cost = display_name(t_row), _number(t_row.get(column))
        versus = _compare(objective, cost, t_cost)
        status = (
            "on par" if t_index in on_par_set else f"{_gap(entry, best, t_value)} below the best"
        )
        diff = good(value) - good(t_value)
        if entry.name == "accuracy":
            how = (f"{_gap(entry, value, t_value)} {'more' if diff > 0 else 'less'} accurate."
                   if abs(diff) >= 0.0005 else "as accurate.")  # fmt: skip
        else:
            how = (f"{_gap(entry, value, t_value)} {'better' if diff > 0 else 'worse'} on {words}."
                   if diff != 0 else f"as good on {words}.")  # fmt: skip
        sentences.append(
            f"The best thin model, {t_name}, is {status}; {name} is "
            + (f"{versus} it and " if versus else "")
            + how
        )
    elif _is_thin(row):
        sentences.append("A thin model is on par: prefer it before shrinking a deep one.")
    cheaper = [item for item in ranked if item[0] not in on_par_set]
    if cheaper and _number(cheaper[0][1].get(column)) < cost:
        _, c_row, c_value = cheaper[0]
        sentences.append(
            f"{display_name(c_row)} would be {_compare(objective, _number(c_row.get(column)), cost)} "
            f"{name} but is {_gap(entry, best, c_value)} below the best"
            + (" (significantly)." if ctx.items.n is not None else ".")
        )
    if runners_up:
        listed = ", ".join(
            f"{display_name(r)} ({_format_value(objective, _number(r.get(column)))}, "
            f"{_stated(entry, a)})"
            for _, r, a in runners_up
        )
        sentences.append(f"Runners-up: {listed}.")
    sentences += _estimate_note(ctx)
    sentences += _small_data_note(ctx, sentences)
    trivial_note = _trivial_note(ctx, index)
    if trivial_note:
        sentences.append(trivial_note)
    return " ".join(sentences) + left_out


def _test_sentences(ctx, index, name, best_name, best, value) -> list[str]:
    """What the paired test said about the chosen model against the best."""
    comparison = ctx.tests.get(index, {}).get("vs_best")
    if comparison is None:
        if ctx.items.n is None and ctx.entry.name != "accuracy":
            return ["No per-item results: on par by the margin alone (no test)."]
        return []
    within_margin = ctx.margin is not None and abs(best - value) <= ctx.margin + _EPS
    if within_margin:
        return [f"The paired test: {comparison.verdict}."]
    if comparison.test.startswith("corrected"):
        return [
            f"{name} and {best_name} cannot be told apart by cross-validation "
            f"({comparison.test} p = {comparison.p_value:.2g})."
        ]

    few = " (few items)" if comparison.n < MIN_HELD_OUT else ""
    return [
        f"{name} and {best_name} cannot be told apart on {comparison.n} items "
        f"({comparison.test} p = {comparison.p_value:.2g}): the test split{few} is too small "
        "to separate a gap this size; for a sharper answer estimate both by "
        "cross-validation (lab.quality.cross_validate)."
    ]


def _small_data_note(ctx, sentences: list[str]) -> list[str]:
    """On fewer than MIN_HELD_OUT test items: say that close models cannot be told apart."""

    n = ctx.items.n
    if ctx.items.cv or n is None or n >= MIN_HELD_OUT:
        return []
    if any("cannot be told apart" in s for s in sentences):
        return []
    return [
        f"On only {n} test items close models cannot be told apart (the paired tests above "
        "decide only clear differences): estimate the candidates by cross-validation "
        "(lab.quality.cross_validate) for a sharper answer."
    ]


def _estimate_note(ctx) -> list[str]:
    """With cross-validation results: which estimate each model's figures rest on."""
    if not ctx.items.cv:
        return []
    first = next(iter(ctx.items.cv.values()))
    named = ", ".join(sorted(ctx.tests[i]["name"] for i in ctx.items.cv if i in ctx.tests))
    others = [v["name"] for i, v in ctx.tests.items() if i not in ctx.items.cv]
    if ctx.baseline is not None and ctx.baseline[0] in ctx.items.cv:
        named += f" and the trivial baseline {display_name(ctx.baseline[1])}"
    text = (
        f"Estimate used: cross-validation, {first.splitter} over {first.n} items, for "
        f"{named or 'no model here'}: the means of {first.n_splits * first.n_repeats} fits, "
        "compared fold by fold"
    )
    if others:
        text += (
            f"; held-out test for {', '.join(sorted(others))} (judged against the others "
            "by the margin alone)"
        )
    return [text + "."]


def _trivial_note(ctx, index: int | None) -> str:
    """What the chosen model (row ``index``) scored against the trivial baseline."""
    if ctx.baseline is None:
        if ctx.items.n is not None or ctx.entry.name != "accuracy":
            return (
                "No trivial baseline among the results: measure DummyClassifier (or "
                "DummyRegressor) on the same items to check that the choice beats it."
            )
        return ""
    _, b_row, b_value = ctx.baseline
    versus = ctx.tests.get(index, {}).get("vs_trivial") if index is not None else None
    return (
        f"The trivial baseline {display_name(b_row)} scores {_show(ctx.entry, b_value)} "
        f"{_metric_words(ctx.entry)}; the choice beats it"
        + (f": {versus.verdict}." if versus is not None else " (no per-item results to test).")
    )


# --------------------------------------------------------------------------- tables and plots
# Helpers for comparing whole sets of measurements (notebooks/05_most_efficient_model.ipynb).

__all__ += ["KINDS", "model_kind", "plot_tradeoffs", "recommendation_table"]

# How a measured row is grouped on plots and in tables (the order of the legend).
KINDS = ("thin", "thin, torch form", "deep", "deep, compressed")
_KIND_STYLE = {  # kind → (marker, colour)
    "thin": ("o", "#1b9e77"),
    "thin, torch form": ("^", "#66c2a5"),
    "deep": ("s", "#7570b3"),
    "deep, compressed": ("D", "#d95f02"),
}


def model_kind(row: object) -> str:
    """Which of :data:`KINDS` a measurement is: a ``thin`` scikit-learn model; a thin
    model's ``thin, torch form`` (``ThinModel.to_torch()``, measured under the thin model's
    name, e.g. ``"LogisticRegression"``, with or without a recipe); a ``deep`` model as
    trained; or a ``deep, compressed`` one (any recipe applied).

    Example:
        >>> model_kind({"name": "RandomForestClassifier", "executes_as": "scikit-learn 1.9 RandomForestClassifier"})
        'thin'
        >>> model_kind({"name": "LogisticRegression", "label": "4-bit channel", "executes_as": "fp32"})
        'thin, torch form'
        >>> model_kind({"name": "cnn", "label": "baseline"}), model_kind({"name": "cnn", "label": "4-bit"})
        ('deep', 'deep, compressed')
    """
    row = _row_of(row) if not isinstance(row, Mapping) else row
    if _is_thin(row):
        return "thin"

    if str(row.get("name") or "") in THIN_MODELS:
        return "thin, torch form"
    label = row.get("label")
    recipe = row.get("recipe")
    as_trained = (label in (None, "", "baseline")) and recipe in (None, "", "{}")
    return "deep" if as_trained else "deep, compressed"


def recommendation_table(
    results: object,
    floors: Iterable[float | None] = (None,),
    objective: str = "bytes",
    *,
    tolerance_pt: float | None = None,
    split: str | None = None,
    country: str | None = None,
) -> pd.DataFrame:
    """:func:`recommend` at several accuracy floors: one row per floor.

    Columns: ``floor`` (None: ``tolerance_pt``, or the default 1 pt below the best),
    ``needed`` (the accuracy a model needed: the floor, or the best minus the tolerance,
    whichever is higher), ``chosen`` (the model and its recipe label), ``kind`` (:func:`model_kind`),
    ``accuracy``, ``bytes`` (artifact bytes), the objective's column when it is not bytes
    (``latency_ms_p50`` or ``co2_g_per_1k``), ``on_par`` (how many rows qualified) and
    ``reason``. A floor no model reaches gives a row with ``chosen`` None and the reason.

    Example:
        >>> rows = [
        ...     {"name": "cnn", "label": "4-bit", "accuracy": 0.92, "artifact_bytes": 43_607},
        ...     {"name": "mlp", "label": "baseline", "accuracy": 0.90, "artifact_bytes": 908_486},
        ...     {"name": "LogisticRegression", "label": "scikit-learn", "accuracy": 0.84,
        ...      "artifact_bytes": 30_871, "executes_as": "scikit-learn 1.9.1 LogisticRegression"},
        ... ]
        >>> table = recommendation_table(rows, floors=[0.8, 0.9, 0.95])
        >>> table["chosen"].tolist()[:2], table["kind"].tolist()[:2], table["bytes"].tolist()[:2]
        (['LogisticRegression', 'cnn [4-bit]'], ['thin', 'deep, compressed'], [30871.0, 43607.0])
        >>> table["reason"].iloc[2]
        'No model reaches the floor of 95.00%: the best accuracy available is 92.00% (cnn [4-bit]).'
    """
    objective = _check_objective(objective)
    floors = _check_floors(floors)
    metric = OBJECTIVES[objective]
    rows = _rows(results)  # read once (a store is queried once)
    records = []
    for floor in floors:
        found = recommend(
            rows,
            min_accuracy=floor,
            tolerance_pt=tolerance_pt,
            objective=objective,
            split=split,
            country=country,
        )
        chosen = found.chosen
        record = {
            "floor": floor,
            "needed": found.threshold,
            "chosen": display_name(chosen) if chosen else None,
            "kind": model_kind(chosen) if chosen else None,
            "accuracy": _number(chosen.get("accuracy")) if chosen else None,
            "bytes": _number(chosen.get("artifact_bytes")) if chosen else None,
        }
        if metric != "artifact_bytes":
            record[metric] = _number(chosen.get(metric)) if chosen else None
        record["on_par"] = len(found.on_par)
        record["reason"] = found.reason
        records.append(record)
    return pd.DataFrame(records)


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_tradeoffs(
    results: object,
    *,
    objectives: Iterable[str] = ("bytes", "latency", "co2"),
    min_accuracy: float | None = None,
    tolerance_pt: float | None = None,
    split: str | None = None,
    country: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
):
    """Accuracy against each objective's cost, one subplot per objective, in one figure.

    Every row with an accuracy and the objective's value is a point (log-x), marked by
    :func:`model_kind`; the Pareto frontier is a step line; the dashed line is the accuracy
    a model needed (``Recommendation.threshold``) and the star is :func:`recommend`'s choice
    for that objective, with the same ``min_accuracy`` / ``tolerance_pt`` / ``split`` /
    ``country``. Frontier points and the choice are labelled. Returns a
    ``matplotlib.figure.Figure`` (not registered with pyplot: a notebook shows it when it is
    a cell's value; save it with ``fig.savefig``). The recommendations drawn are in
    ``fig.recommendations`` (objective → :class:`Recommendation`).

    Example:
        >>> rows = [
        ...     {"name": "cnn", "label": "4-bit", "accuracy": 0.92, "artifact_bytes": 43_607,
        ...      "latency_ms_p50": 0.6, "co2_g_per_1k": 3e-4},
        ...     {"name": "mlp", "label": "baseline", "accuracy": 0.90, "artifact_bytes": 908_486,
        ...      "latency_ms_p50": 0.05, "co2_g_per_1k": 8e-5},
        ... ]
        >>> fig = plot_tradeoffs(rows, min_accuracy=0.85)
        >>> [ax.get_title() for ax in fig.axes]
        ['smallest file', 'fastest', 'least CO₂']
        >>> {k: r.chosen["name"] for k, r in fig.recommendations.items()}
        {'bytes': 'cnn', 'latency': 'mlp', 'co2': 'mlp'}
    """
    from matplotlib.figure import Figure

    objectives = _check_objectives(objectives)
    if not objectives:
        raise ValueError("objectives is empty: give at least one of " + ", ".join(OBJECTIVES))
    rows = _rows(results)
    if split is not None:
        rows = _filtered(rows, "split", split)
    figsize = figsize or (5.0 * len(objectives), 4.2)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(objectives), squeeze=False)[0]
    fig.recommendations = {}
    handles = {}
    labels = []  # (axes, [((row, x, y), is_chosen), …]) in priority order
    for ax, objective in zip(axes, objectives, strict=True):
        metric = OBJECTIVES[objective]
        found = recommend(
            rows,
            min_accuracy=min_accuracy,
            tolerance_pt=tolerance_pt,
            objective=objective,
            country=country,
        )
        fig.recommendations[objective] = found
        pool = (
            _filtered(rows, "country", country)
            if objective_table.get(objective).per_country
            else rows
        )
        drawn = tradeoff([r for r in pool if (_number(r.get(metric)) or 0) > 0], objective)
        shown, xs, ys = drawn.rows, drawn.x, [100 * y for y in drawn.y]
        kinds = [model_kind(r) for r in shown]
        for kind in KINDS:
            points = [(x, y) for x, y, k in zip(xs, ys, kinds, strict=True) if k == kind]
            if points:
                marker, colour = _KIND_STYLE[kind]
                handles[kind] = ax.scatter(
                    *zip(*points, strict=True), marker=marker, s=42, color=colour,
                    edgecolor="black", linewidth=0.4, alpha=0.9, label=kind, zorder=3,
                )  # fmt: skip
        if drawn.front:
            (line,) = ax.plot(
                drawn.step_x, [100 * y for y in drawn.step_y], drawstyle="steps-post",
                color="#e7298a", lw=1.2, alpha=0.6, label="Pareto frontier", zorder=2,
            )  # fmt: skip
            handles["Pareto frontier"] = line
        if found.threshold is not None and math.isfinite(found.threshold):
            handles["accuracy needed"] = ax.axhline(
                100 * found.threshold, color="#555", ls="--", lw=1, label="accuracy needed"
            )
        chosen = found.chosen
        if chosen is not None and _number(chosen.get(metric)):
            cx, cy = _number(chosen.get(metric)), 100 * _number(chosen.get("accuracy"))
            handles["recommended"] = ax.scatter(
                [cx], [cy], marker="*", s=320, color="#ffd92f", edgecolor="black",
                linewidth=0.8, label="recommended", zorder=4,
            )  # fmt: skip
        # Labels, most important first: the choice, the best thin model, the most accurate,
        # then the frontier from the top; placed after layout, skipped where they would overlap.
        points = list(zip(shown, xs, ys, strict=True))
        order_ = sorted(range(len(points)), key=lambda i: -ys[i])
        thin_ = [i for i in order_ if kinds[i] == "thin"]
        is_chosen = [
            chosen is not None
            and display_name(r) == display_name(chosen)
            and _number(r.get(metric)) == _number(chosen.get(metric))
            for r in shown
        ]
        wanted = (
            [i for i in order_ if is_chosen[i]][:1]
            + thin_[:1]
            + order_[:1]
            + [i for i in order_ if i in set(drawn.front)]
        )
        labels.append((ax, [(points[i], is_chosen[i]) for i in dict.fromkeys(wanted)]))
        ax.set_xscale("log")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        if xs:
            ax.set_xlim(min(xs) / 2, max(xs) * 4)  # room for the labels on the right
        ax.set_title(objective_table.get(objective).cheapest)
        style_axes(ax, objective)  # the dashboard's look: fonts, "10 kB" ticks, axis label
    order = [*KINDS, "Pareto frontier", "accuracy needed", "recommended"]
    present = [k for k in order if k in handles]
    fig.legend(  # outside the axes: it hides no point
        [handles[k] for k in present], present, loc="outside lower center",
        ncol=len(present), fontsize=FONT_SIZES["legend"], frameon=False,
    )  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=FONT_SIZES["figure_title"])
    _place_labels(fig, labels)
    return fig


def plot_quality(
    results: object,
    metric: str | None = None,
    objective: str = "bytes",
    *,
    tolerance_pt: float | None = None,
    split: str | None = None,
    data: str | None = None,
    figsize: tuple[float, float] = (6.4, 4.2),
):
    """The quality ``metric`` (with its 95 % interval) against ``objective``'s cost, one point
    per model, the trivial baseline on the same chart: its point, and a dashed line with its
    interval as a band across the chart. :func:`recommend`'s choice (same ``metric``,
    ``tolerance_pt``, ``split``, ``data``) is starred, the best model labelled. Returns a
    ``matplotlib.figure.Figure``; the recommendation drawn is ``fig.recommendation``.
    """
    from matplotlib.figure import Figure

    objective = _check_objective(objective)
    column = OBJECTIVES[objective]
    found = recommend(results, tolerance_pt=tolerance_pt, objective=objective, split=split,
                      data=data, metric=metric)  # fmt: skip
    rows = _filtered(_filtered(_rows(results), "split", split), "data", data)
    entry = _metric_of(rows, found.quality_metric)
    scale = 100.0 if entry.unit == "fraction" else 1.0
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    fig.recommendation = found
    chosen = display_name(found.chosen) if found.chosen else None
    for row in rows:
        value, cost = _metric_value(row, entry), _number(row.get(column))
        if value is None or cost is None or cost <= 0:
            continue
        low, high = _interval(row, entry)
        name = display_name(row)
        trivial = _is_trivial(row)
        colour = "#888888" if trivial else _KIND_STYLE.get(model_kind(row), ("o", "#1b9e77"))[1]
        marker = "X" if trivial else _KIND_STYLE.get(model_kind(row), ("o", "#1b9e77"))[0]
        errors = None
        if low is not None and high is not None:
            errors = [[scale * (value - low)], [scale * (high - value)]]
        ax.errorbar([cost], [scale * value], yerr=errors, fmt=marker, color=colour, ms=8,
                    mec="black", mew=0.5, capsize=3, zorder=3)  # fmt: skip
        if trivial:
            ax.axhline(scale * value, color=colour, ls="--", lw=1, zorder=1)
            if low is not None and high is not None:
                ax.axhspan(scale * low, scale * high, color=colour, alpha=0.15, lw=0, zorder=0)
            text = f"trivial baseline: {name}"
        else:
            text = name
        if name == chosen:
            ax.scatter([cost], [scale * value], marker="*", s=260, color="gold",
                       edgecolor="black", linewidth=0.6, zorder=4)  # fmt: skip
            text += " (recommended)"
        ax.annotate(text, (cost, scale * value), xytext=(6, 5), textcoords="offset points",
                    fontsize=8)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel(objective_table.get(objective).axis_label)
    better = "" if entry.higher_is_better else ", lower is better"
    ax.set_ylabel(f"{entry.axis_label} · 95 % interval{better}")
    n = found.n_items
    ax.set_title(f"{entry.words} vs {objective}" + (f" on {n} test items" if n else ""))
    ax.grid(True, which="both", alpha=0.3)
    return fig


def _interval(row: Mapping, entry) -> tuple[float | None, float | None]:
    """The row's 95 % interval of the metric, where it has one."""
    table = _metrics_table(row)
    if entry.name in table and isinstance(table[entry.name], (list, tuple)):
        _, low, high = table[entry.name]
        return _number(low), _number(high)
    if entry.name == "accuracy":
        return _number(row.get("accuracy_low")), _number(row.get("accuracy_high"))
    return None, None


__all__ += ["plot_quality"]


def _marker_boxes(ax) -> list:
    """The display box of every point drawn on ``ax`` (its scatter collections, the star
    included): what a label must not hide."""
    from matplotlib.transforms import Bbox

    boxes = []
    for collection in ax.collections:
        offsets = collection.get_offsets()
        sizes = collection.get_sizes() if len(collection.get_sizes()) else [36.0]
        for i, (px, py) in enumerate(ax.transData.transform(offsets)):
            r = math.sqrt(sizes[i % len(sizes)]) / 2 * ax.figure.dpi / 72
            boxes.append(Bbox([[px - r, py - r], [px + r, py + r]]))
    return boxes


def _place_labels(fig, labels) -> None:
    """Annotate each axes' points in priority order where the text hides no point and no
    earlier label and stays inside the axes (trying :data:`LABEL_OFFSETS`, moved clear of the
    point's own marker); the rest stay unlabelled."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # the final layout, so that positions are known
    renderer = canvas.get_renderer()
    for ax, items in labels:
        frame = ax.get_window_extent(renderer)
        marks = _marker_boxes(ax)
        placed = []
        for (row, x, y), chosen in items:
            own = max(
                (
                    m.width / 2 * 72 / fig.dpi
                    for m in marks
                    if m.contains(*ax.transData.transform((x, y)))
                ),
                default=3.0,
            )  # the point's largest marker (a star is bigger), in points
            for dx, dy, align in LABEL_OFFSETS:
                dx = math.copysign(max(abs(dx), own + 2), dx)
                text = ax.annotate(
                    _short(display_name(row)), (x, y), textcoords="offset points",
                    xytext=(dx, dy), ha=align, fontsize=FONT_SIZES["point"],
                    fontweight="bold" if chosen else "normal", zorder=5,
                )  # fmt: skip
                text.set_in_layout(False)
                box = text.get_window_extent(renderer)
                inside = (
                    frame.x0 <= box.x0 and box.x1 <= frame.x1
                    and frame.y0 <= box.y0 and box.y1 <= frame.y1
                )  # fmt: skip
                hides = any(box.overlaps(other) for other in [*placed, *marks])
                if inside and not hides:
                    placed.append(box)
                    break
                text.remove()


def recommendation_summary(
    results_by_data: Mapping[str, object],
    objectives: Iterable[str] = ("bytes", "latency", "co2"),
    *,
    min_accuracy: float | None = None,
    tolerance_pt: float | None = None,
    split: str | None = None,
) -> pd.DataFrame:
    """Thin vs deep on several data sets: for each (data set, objective), the most accurate
    model, the most accurate thin (scikit-learn) model and whether it is on par, and what
    :func:`recommend` chooses (with :func:`model_kind`).

    Args:
        results_by_data: data set name → its measurements (anything :func:`recommend` takes).
        objectives: which of :data:`OBJECTIVES`.
        min_accuracy, tolerance_pt, split: as for :func:`recommend` (the same for every set).

    Columns: ``best``, ``best_accuracy``, ``best_thin`` (None when the set has no thin
    model), ``best_thin_accuracy``, ``thin_on_par``, ``chosen``, ``kind``, ``accuracy``;
    indexed by ``(data, objective)``.

    Example:
        >>> sk = "scikit-learn 1.9.1 LogisticRegression"
        >>> images = [{"name": "cnn", "accuracy": 0.92, "artifact_bytes": 40_000},
        ...           {"name": "LogisticRegression", "accuracy": 0.84, "artifact_bytes": 30_000,
        ...            "executes_as": sk}]
        >>> rows = [{"name": "mlp-s", "accuracy": 0.98, "artifact_bytes": 4_000},
        ...         {"name": "LogisticRegression", "accuracy": 0.99, "artifact_bytes": 1_700,
        ...          "executes_as": sk}]
        >>> table = recommendation_summary({"images": images, "rows": rows}, ["bytes"])
        >>> table[["thin_on_par", "chosen", "kind"]].values.tolist()
        [[False, 'cnn', 'deep'], [True, 'LogisticRegression', 'thin']]
    """
    objectives = _check_objectives(objectives)
    if not isinstance(results_by_data, Mapping):
        raise ValueError(
            "results_by_data must be a dict {data set name: its measurements}; got "
            f"{type(results_by_data).__name__}"
        )
    records = []
    for data_name, results in results_by_data.items():
        rows = _rows(results)
        if split is not None:
            rows = _filtered(rows, "split", split)
        thin = [r for r in rows if _is_thin(r) and _number(r.get("accuracy")) is not None]
        best_thin = max(thin, key=lambda r: _number(r.get("accuracy"))) if thin else None
        for objective in objectives:
            found = recommend(
                rows, min_accuracy=min_accuracy, tolerance_pt=tolerance_pt, objective=objective
            )
            thin_accuracy = _number(best_thin.get("accuracy")) if best_thin else None
            chosen = found.chosen
            records.append(
                {
                    "data": data_name,
                    "objective": objective,
                    "best": display_name(found.best),
                    "best_accuracy": found.best_accuracy,
                    "best_thin": display_name(best_thin) if best_thin else None,
                    "best_thin_accuracy": thin_accuracy,
                    "thin_on_par": thin_accuracy is not None
                    and (
                        thin_accuracy + _EPS >= found.threshold
                        or display_name(best_thin) in {display_name(r) for r in found.on_par}
                    ),
                    "chosen": display_name(chosen) if chosen else None,
                    "kind": model_kind(chosen) if chosen else None,
                    "accuracy": _number(chosen.get("accuracy")) if chosen else None,
                }
            )
    return pd.DataFrame(records).set_index(["data", "objective"])


__all__ += ["recommendation_summary"]


class _CallableModule(types.ModuleType):
    """Lets ``lab.recommend(results, ...)`` call :func:`recommend` (the module stays a module)."""

    def __call__(self, *args, **kwargs) -> Recommendation:
        return recommend(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
