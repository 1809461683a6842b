"""Recommend the cheapest model that is on par: "prefer a thin model when it is on par, and
only then shrink a deep one" — decided on measured numbers.

:func:`recommend` takes measurements (a DataFrame such as
``lab.store.default_store().to_frame()``, a :class:`~lab.store.ResultStore`, or a list of
:class:`~lab.measure.Measurement` objects or dicts, e.g. :func:`lab.thin.measure_thin`'s),
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

__all__ = ["DEFAULT_TOLERANCE_PT", "OBJECTIVES", "Recommendation", "recommend"]

OBJECTIVES = {"bytes": "artifact_bytes", "latency": "latency_ms_p50", "co2": "co2_g_per_1k"}
DEFAULT_TOLERANCE_PT = 1.0  # used when neither min_accuracy nor tolerance_pt is given
MAX_RUNNERS_UP = 3
_EPS = 1e-12  # accuracies are fractions; forgive float representation at the boundary
_CHEAPEST = {"bytes": "smallest", "latency": "fastest", "co2": "lowest-CO2"}
_BETTER = {"bytes": ("smaller", "larger"), "latency": ("faster", "slower"), "co2": ("less CO2", "more CO2")}  # fmt: skip


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
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        allowed = ", ".join(f"{k!r} ({v})" for k, v in OBJECTIVES.items())
        raise ValueError(f"objective must be one of {allowed}; got {objective!r}")
    return objective


def _real(value: object) -> float | None:
    """An argument that is a finite real number (not a bool, not a string), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return _number(value)


def _check_floor(min_accuracy: object) -> float | None:
    if min_accuracy is None:
        return None
    value = _real(min_accuracy)
    if value is None or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"min_accuracy must be a fraction from 0 to 1 (e.g. 0.9 for 90%) or None; got "
            f"{min_accuracy!r}"
        )
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


# --------------------------------------------------------------------------- wording


def display_name(row: Mapping) -> str:
    """``name`` with its recipe label when it has one (``"cnn [prune 90% … · 4-bit channel]"``)."""
    name = str(row.get("name") or "unnamed model")
    label = row.get("label")
    if isinstance(label, str) and label and label != "baseline" and not label.startswith("scikit"):
        return f"{name} [{label}]"
    return name


def _format_value(objective: str, value: float) -> str:
    if objective == "bytes":
        for unit, size in (("MB", 1e6), ("KB", 1e3)):
            if value >= size:
                return f"{value / size:.1f} {unit}"
        return f"{value:,.0f} B"
    if objective == "latency":
        return f"{value:.3f} ms" if value < 0.1 else f"{value:.2f} ms"
    grams = value  # co2: grams per 1,000 images
    return (
        f"{grams * 1000:.3g} mg CO2 per 1,000 images"
        if grams < 1
        else f"{grams:.3g} g CO2 per 1,000 images"
    )


def _times(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×"


def _compare(objective: str, a: float, b: float) -> str:
    """How ``a`` compares with ``b`` on the objective: '42× smaller than', '6% faster than',
    'about as small as'. Ratios under 1.1 are given in percent."""
    better, worse = _BETTER[objective]
    if a <= 0 or b <= 0 or math.isclose(a, b, rel_tol=0.005):
        return f"about as {'small' if objective == 'bytes' else 'cheap'} as"
    ratio = b / a if a < b else a / b
    word = better if a < b else worse
    if ratio < 1.1:
        return f"{(1 - a / b) * 100 if a < b else (a / b - 1) * 100:.0f}% {word} than"
    return f"{_times(ratio)} {word} than"


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
) -> Recommendation:
    """The cheapest model on ``objective`` among those on par, with runners-up and a reason.

    Args:
        results: a DataFrame (e.g. ``lab.store.default_store().to_frame()``), a
            :class:`~lab.store.ResultStore`, or a list of Measurement objects or dicts;
            each row needs ``accuracy`` (a fraction) and the objective's column.
        min_accuracy: accuracy floor, a fraction in [0, 1].
        tolerance_pt: how many percentage points below the best accuracy still count as
            on par. When neither this nor ``min_accuracy`` is given: 1.0 pt. When both
            are given, both apply.
        objective: ``"bytes"`` (artifact_bytes), ``"latency"`` (latency_ms_p50) or
            ``"co2"`` (co2_g_per_1k).
        split: keep only rows measured on this split. Rows from different splits are not
            comparable, so mixing them without choosing is an error.
        country: keep only rows priced for this country (checked like ``split`` for co2).

    Raises:
        ValueError: no results; an objective, floor or tolerance out of range; rows that
            mix splits (or countries for co2) without ``split`` (``country``).
    """
    objective = _check_objective(objective)
    floor = _check_floor(min_accuracy)
    tolerance = _check_tolerance(tolerance_pt)
    if floor is None and tolerance is None:
        tolerance = DEFAULT_TOLERANCE_PT
    metric = OBJECTIVES[objective]
    rows = _rows(results)
    if not rows:
        raise ValueError("no results to recommend from: the set of measurements is empty")
    rows = _filtered(rows, "split", split)
    if objective == "co2" or country is not None:
        rows = _filtered(rows, "country", country)

    excluded: list[str] = []
    scored = []  # (index, row, accuracy)
    for index, row in enumerate(rows):
        accuracy = _number(row.get("accuracy"))
        if accuracy is None:
            excluded.append(f"{display_name(row)}: no accuracy")
            continue
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(
                f"{display_name(row)} has accuracy {row.get('accuracy')!r}; accuracies must "
                "be fractions from 0 to 1 (percentages?)"
            )
        scored.append((index, row, accuracy))
    if not scored:
        raise ValueError(
            "no result has an accuracy to compare: " + "; ".join(excluded[:5])
            if excluded
            else "no results to recommend from"
        )

    _, best_row, best_accuracy = max(scored, key=lambda t: (t[2], -t[0]))
    threshold = max(
        floor if floor is not None else -math.inf,
        best_accuracy - tolerance / 100 if tolerance is not None else -math.inf,
    )

    def key(item):
        index, row, accuracy = item
        bytes_ = _number(row.get("artifact_bytes"))
        return (
            _number(row.get(metric)),
            bytes_ if bytes_ is not None else math.inf,
            display_name(row),
            -accuracy,
            index,
        )

    with_metric, missing = [], []
    for item in scored:
        (missing if _number(item[1].get(metric)) is None else with_metric).append(item)
    if missing:
        names = ", ".join(display_name(r) for _, r, _ in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        excluded.append(f"{len(missing)} without {metric}: {names}{more}")
    on_par = sorted((t for t in with_metric if t[2] + _EPS >= threshold), key=key)
    chosen = on_par[0] if on_par else None
    runners_up, seen = [], {display_name(chosen[1])} if chosen else set()
    for item in on_par[1:]:
        label = display_name(item[1])
        if label not in seen and len(runners_up) < MAX_RUNNERS_UP:
            runners_up.append(item)
            seen.add(label)

    reason = _reason(
        objective,
        metric,
        floor,
        tolerance,
        best_row,
        best_accuracy,
        chosen,
        runners_up,
        len(on_par),
        sorted(with_metric, key=key),
        threshold,
        excluded,
    )
    return Recommendation(
        chosen=dict(chosen[1]) if chosen else None,
        runners_up=[dict(r) for _, r, _ in runners_up],
        reason=reason,
        objective=objective,
        metric=metric,
        best=dict(best_row),
        best_accuracy=best_accuracy,
        min_accuracy=floor,
        tolerance_pt=tolerance,
        threshold=threshold,
        on_par=[dict(r) for _, r, _ in on_par],
        excluded=excluded,
    )


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
        plural = {"split": "splits", "country": "countries"}[column]
        raise ValueError(
            f"the results mix {plural} ({counts}); measurements on different {plural} are "
            f"not comparable: pass {column}=… to choose one"
        )
    return rows


def _criteria(floor: float | None, tolerance: float | None, best_name: str, best: float) -> str:
    parts = []
    if floor is not None:
        parts.append(f"at least {floor:.2%} accurate")
    if tolerance is not None:
        parts.append(f"within {tolerance:g} pt of the best, {best_name} at {best:.2%}")
    return " and ".join(parts)


def _reason(
    objective, metric, floor, tolerance, best_row, best, chosen, runners_up, n_on_par,
    ranked, threshold, excluded,
) -> str:  # fmt: skip
    best_name = display_name(best_row)
    criteria = _criteria(floor, tolerance, best_name, best)
    left_out = f" Left out: {'; '.join(excluded)}." if excluded else ""
    if chosen is None:
        if floor is not None and best + _EPS < floor:
            return (
                f"No model reaches the floor of {floor:.2%}: the best accuracy available is "
                f"{best:.2%} ({best_name}).{left_out}"
            )
        return (
            f"No model on par ({criteria}) has a {metric} value to compare; the best accuracy "
            f"available is {best:.2%} ({best_name}).{left_out}"
        )
    _, row, accuracy = chosen
    name, value = display_name(row), _number(row.get(metric))
    sentences = [
        f"{name} is the {_CHEAPEST[objective]} of the {n_on_par} "
        f"{'model' if n_on_par == 1 else 'models'} on par ({criteria}): "
        f"{_format_value(objective, value)} at {accuracy:.2%} accuracy."
    ]
    if row is best_row or accuracy >= best:
        sentences.append("It is also the most accurate.")
    else:
        best_value = _number(best_row.get(metric))
        versus = _compare(objective, value, best_value) if best_value is not None else None
        sentences.append(
            f"It is {_pt(best - accuracy)} below the best"
            + (f" and {versus} {best_name}." if versus else f" ({best_name}).")
        )
    thin = [item for item in ranked if _is_thin(item[1])]
    if thin and not _is_thin(row):
        _, t_row, t_acc = max(thin, key=lambda t: (t[2], -t[0]))
        t_name, t_value = display_name(t_row), _number(t_row.get(metric))
        versus = _compare(objective, value, t_value)
        on_par = t_acc + _EPS >= threshold
        status = "on par" if on_par else f"{_pt(best - t_acc)} below the best"
        diff = accuracy - t_acc
        sentences.append(
            f"The best thin model, {t_name}, is {status}; {name} is "
            + (f"{versus} it and " if versus else "")
            + (
                f"{_pt(diff)} {'more' if diff > 0 else 'less'} accurate."
                if abs(diff) >= 0.0005
                else "as accurate."
            )
        )
    elif _is_thin(row):
        sentences.append("A thin model is on par: prefer it before shrinking a deep one.")
    cheaper = [item for item in ranked if item[2] + _EPS < threshold]
    if cheaper and _number(cheaper[0][1].get(metric)) < value:
        _, c_row, c_acc = cheaper[0]
        sentences.append(
            f"{display_name(c_row)} would be {_compare(objective, _number(c_row.get(metric)), value)} "
            f"{name} but is {_pt(best - c_acc)} below the best."
        )
    if runners_up:
        listed = ", ".join(
            f"{display_name(r)} ({_format_value(objective, _number(r.get(metric)))}, {a:.2%})"
            for _, r, a in runners_up
        )
        sentences.append(f"Runners-up: {listed}.")
    return " ".join(sentences) + left_out


class _CallableModule(types.ModuleType):
    """Lets ``lab.recommend(results, ...)`` call :func:`recommend` (the module stays a module)."""

    def __call__(self, *args, **kwargs) -> Recommendation:
        return recommend(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
