"""The numbers that matter, each next to its change vs the uncompressed baseline, plus honest notes.

The first row is the quality ``metric`` (a traitlet: accuracy by default; any name of
:func:`lab.evaluation.quality.choices` for the measurement's task): its value with its 95 %
interval, its unit and direction on the label, and its change vs the baseline decided by the
paired test on the same items. Its key stays ``accuracy`` (CSS class ``lab-metric-accuracy``)
whatever the metric.

Every value sits in an HTML widget with a stable CSS class (``lab-metric-accuracy``,
``lab-change-size``, …) so a browser test can read it; the raw numbers and the shown
texts are in the ``numbers``, ``texts`` and ``changes`` traitlets.

Example:
    >>> panel = MetricsPanel()
    >>> panel.texts["accuracy"]
    '—'
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from lab.evaluation import quality
from widgets.validation import Choice

from .units import (
    format_bytes,
    format_grams,
    format_percent,
    format_si,
    points_change,
    ratio_change,
)

__all__ = [
    "METRICS",
    "PANEL_PERMUTATIONS",
    "quality_figures",
    "quality_label",
    "Metric",
    "MetricsPanel",
    "accuracy_change",
    "basis_text",
    "format_accuracy",
    "cost_verdict",
    "notes_for",
    "operations_unit",
    "runtime_change",
    "runtime_text",
    "same_work",
    "size_change",
    "within_noise",
]

PLACEHOLDER = "—"


@dataclass(frozen=True)
class Metric:
    """How one Measurement field is read, shown and compared with the baseline."""

    key: str  # CSS class suffix and dict key
    label: str
    read: Callable[[Any], float | None]
    show: Callable[[float | None], str]
    lower: str = ""  # word for "value below baseline" ("smaller"); empty: compare in points
    higher: str = ""
    measured: bool = False  # a timed quantity: a change is shown only when the lab stands by it

    def change(self, baseline: Any, measurement: Any) -> str:
        if self.key == "size":
            return size_change(measurement)
        base, value = self.read(baseline), self.read(measurement)
        if not self.lower:
            return points_change(base, value)
        if not self.measured:  # exact counts (bytes, FLOPs): the ratio itself
            return ratio_change(base, value, self.lower, self.higher)
        if not base or not value or base == value:
            return ratio_change(base, value, self.lower, self.higher)
        verdict = cost_verdict(self.key, baseline, measurement)
        if verdict == "same work":
            return SAME_WORK
        if verdict == "untested":
            return NOT_TESTED
        noise = math.inf if verdict == "noise" else 0.0
        return ratio_change(base, value, self.lower, self.higher, noise)


SAME_WORK = "≈ same (same computation)"
NOT_TESTED = "not tested for noise"
FP32_FILE = "vs fp32 file"


def same_work(baseline: Any, measurement: Any) -> bool:
    """Whether ``measurement`` ran exactly the baseline's computation: the same runtime
    (``executes_as``), FLOPs and resolution — unstructured pruning (the zeros still execute)
    or weights stored at fewer bits that execute in fp32. Its latency and energy cannot
    differ from the baseline's except by when each was timed, so no change is shown."""
    if measurement is baseline:
        return False
    runtimes = [_runtime(getattr(m, "executes_as", None)) for m in (baseline, measurement)]
    if runtimes[0] is None or runtimes[0] != runtimes[1]:
        return False
    return all(getattr(baseline, k, None) == getattr(measurement, k, None) for k in _SAME)


_SAME = ("flops", "resolution")
_DEQUANTIZED = re.compile(r"\d+-bit weights dequantized(, )?")


def _runtime(executes_as: str | None) -> str | None:
    """What executes, without what only the stored file changed: ``"fp32 (4-bit weights
    dequantized, BN folded, channels_last)"`` runs the kernels of ``"fp32 (BN folded,
    channels_last)"`` (its weights were rounded, then stored as fp32 again)."""
    if executes_as is None:
        return None
    return _DEQUANTIZED.sub("", str(executes_as)).replace(" ()", "")


def cost_verdict(key: str, baseline: Any, measurement: Any) -> str:
    """The one verdict on a measured cost change (``latency``, ``energy``, ``co2``) that
    every view shows: ``"same work"`` (:func:`same_work`), ``"noise"`` or ``"real"`` (the
    Measurement's own noise test, :func:`within_noise`), or ``"untested"``.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> base = NS(executes_as="fp32", flops=10, resolution=28, latency_ms_p50=1.0)
        >>> cost_verdict("latency", base, NS(executes_as="fp32", flops=10, resolution=28))
        'same work'
        >>> cost_verdict("latency", base, NS(executes_as="int8", flops=10, resolution=28))
        'untested'
    """
    if same_work(baseline, measurement):
        return "same work"
    noisy = within_noise(key, baseline, measurement)
    if noisy is None:
        return "untested"
    return "noise" if noisy else "real"


def within_noise(key: str, baseline: Any, measurement: Any) -> bool | None:
    """Whether the Measurement's own test calls the change of ``key`` noise (None: no test).

    Latency: :meth:`lab.measure.Measurement.latency_within_noise` (Mann–Whitney U on the
    timed runs). Energy and CO₂ (CO₂ is energy × the same grid intensity for both, so it
    gets the energy's verdict): ``Measurement.energy_within_noise(baseline)`` where the
    Measurement has it; else a relative difference up to :data:`ENERGY_TOLERANCE` is noise.
    """
    if key == "latency":
        test = getattr(measurement, "latency_within_noise", None)
        if not callable(test) or not getattr(baseline, "latency_samples_ms", None):
            return None
        return test(baseline)
    if key in ("energy", "co2"):
        test = getattr(measurement, "energy_within_noise", None)
        if callable(test):
            return test(baseline)
        base, value = _energy_wh(baseline), _energy_wh(measurement)
        if not base or not value:
            return None
        return max(base, value) / min(base, value) - 1 <= ENERGY_TOLERANCE
    return None


ENERGY_TOLERANCE = 0.25  # without an energy noise test: a relative change this small is noise


def _same_configuration(a: Any, b: Any) -> bool:
    """Whether two measurements are of the same model under the same recipe on one split."""
    if a is None or b is None:
        return False
    fields = ("name", "recipe", "split")
    return all(getattr(a, f, None) == getattr(b, f, None) for f in fields)


def _energy_wh(m: Any) -> float | None:
    kwh = getattr(m, "energy_kwh_per_1k", None)
    return None if kwh is None else kwh * 1000


def size_change(measurement: Any) -> str:
    """The file's ratio to the input model's fp32 state_dict file — the one definition of
    "× smaller" in every view (``Measurement.compression_ratio``); "" when unknown.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> size_change(NS(state_dict_bytes=98_000, artifact_bytes=10_000))
        '9.8× smaller vs fp32 file'
    """
    fp32 = getattr(measurement, "state_dict_bytes", None)
    text = ratio_change(fp32, getattr(measurement, "artifact_bytes", None), "smaller", "larger")
    return f"{text} {FP32_FILE}" if text else ""


def operations_unit(measurement: Any) -> str:
    """What the FLOPs row counts: ``"FLOPs"``, or ``"comparisons"`` for trees."""
    kind = str(getattr(measurement, "operations_kind", "MACs") or "MACs").lower()
    return "comparisons" if kind.startswith("comparison") else "FLOPs"


def accuracy_change(baseline: Any, measurement: Any) -> str:
    """ "−0.4 pt, within noise" / "−2.1 pt, significant (p = 0.003)" from the exact McNemar
    test on the same images when both carry per-image results; else the plain difference."""
    compare = getattr(measurement, "compare", None)
    paired = None
    if callable(compare) and getattr(baseline, "correct_bits", ""):
        paired = compare(baseline)
    if paired is None:
        return points_change(baseline.accuracy, measurement.accuracy)
    return paired.verdict


def _interval_pt(m: Any) -> float | None:
    """Half the width of the accuracy's 95 % interval, in points (None: no interval)."""
    low, high = getattr(m, "accuracy_low", None), getattr(m, "accuracy_high", None)
    if low is None or high is None:
        return None
    return 100 * (high - low) / 2


def basis_text(m: Any, item: str = "image", first: Any = None) -> str:
    """On how many items the accuracy shown rests, so that a first look's jump to the final
    figure is explained: ``"first look on 300 images, ±2.9 pt; refining…"``, then
    ``"on 2,000 images, ±1.2 pt (first look: 94.0 % on 300)"`` when ``first`` (the first
    look of the same configuration) was shown before, on fewer items.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> look = NS(n_images=300, accuracy=0.94, accuracy_low=0.911, accuracy_high=0.969,
        ...           preliminary=True)
        >>> basis_text(look)
        'first look on 300 images, ±2.9 pt; refining…'
        >>> final = NS(n_images=2000, accuracy=0.922, accuracy_low=0.91, accuracy_high=0.934)
        >>> basis_text(final, first=look)
        'on 2,000 images, ±1.2 pt (first look: 94.0 % on 300)'
    """
    n = getattr(m, "n_images", None)
    if not n:
        return ""
    nouns = f"{n:,} {item}{'s' if n != 1 else ''}"
    half = _interval_pt(m)
    spread = f", ±{half:.1f} pt" if half is not None else ""
    if getattr(m, "preliminary", False):
        return f"first look on {nouns}{spread}; refining…"
    text = f"on {nouns}{spread}"
    other_items = getattr(first, "n_images", n) != n  # on the same items it cannot have moved
    if first is not None and getattr(first, "accuracy", None) is not None and other_items:
        text += f" (first look: {format_percent(first.accuracy)} on {first.n_images:,})"
    return text


def runtime_change(baseline: Any, measurement: Any) -> str | None:
    """``"scikit-learn → torch"`` when ``measurement`` runs in another runtime than
    ``baseline`` (``Measurement.runtime_change``; objects without it: their ``runtime``
    fields), else None."""
    if baseline is None or measurement is None or measurement is baseline:
        return None
    method = getattr(measurement, "runtime_change", None)
    if callable(method):
        return method(baseline)
    before, after = getattr(baseline, "runtime", None), getattr(measurement, "runtime", None)
    if before is None or after is None or before == after:
        return None
    return f"{before} → {after}"


def runtime_text(baseline: Any, measurement: Any) -> str:
    """The sentence that names a runtime change apart from the technique's effect, "" when
    the runtime is the baseline's: ``"runtime changed: torch → onnxruntime; the speed-up is
    not the technique's alone"`` (the slow-down, or any latency or energy change, when the
    latency's verdict is not a real speed-up).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> runtime_text(NS(runtime="torch"), NS(runtime="torch"))
        ''
    """
    change = runtime_change(baseline, measurement)
    if change is None:
        return ""
    what = "any latency or energy change"
    base, value = (
        getattr(baseline, "latency_ms_p50", None),
        getattr(measurement, "latency_ms_p50", None),
    )
    if base and value and cost_verdict("latency", baseline, measurement) == "real":
        what = "the speed-up" if value < base else "the slow-down"
    return f"runtime changed: {change}; {what} is not the technique's alone"


def format_accuracy(m: Any) -> str:
    """ "91.2 %" and, when known, its 95 % interval: "91.2 % (90.0–92.3)"."""
    text = format_percent(m.accuracy)
    low, high = getattr(m, "accuracy_low", None), getattr(m, "accuracy_high", None)
    if low is not None and high is not None:
        text += f" ({100 * low:.1f}–{100 * high:.1f})"
    return text


# random swaps behind the panel's paired test of a metric other than accuracy (~0.1 s on
# 2,000 items; the recommendation's tests use lab's default)
PANEL_PERMUTATIONS = 1_000


def quality_label(metric: str) -> str:
    """The quality row's label: the metric's name, and (but for accuracy, whose direction
    and unit everybody knows) its unit and direction on a second, smaller line."""
    entry = quality.get_metric(metric)
    if entry.name == "accuracy":
        return f"<span style='color:#555'>{html.escape(entry.title)}</span>"
    return (
        f"<span style='color:#555' title='{html.escape(entry.wording)}'>"
        f"{html.escape(entry.title)}<br><span style='font-size:85%'>"
        f"{html.escape(entry.unit_words)} · {entry.direction_words}</span></span>"
    )


def quality_figures(metric: str, measurement: Any, baseline: Any | None) -> tuple:
    """``(value, text, change)`` of the quality row on ``metric``: the value with its 95 %
    interval (``"0.512 (0.43–0.58)"``, ``"84.1 % (80.2–87.5)"``), and its change vs
    ``baseline`` from the paired test on the same items
    (:func:`lab.evaluation.quality.compare_measurements`), or the plain difference without
    per-item results. A metric the measurement cannot give reads "n/a" (the reason in
    its text)."""
    entry = quality.get_metric(metric)
    try:
        found = quality.estimate_of(measurement, entry)
    except ValueError as exc:  # a metric of another task
        return None, f"n/a ({exc})", ""
    if found is None:
        why = "no scores" if entry.needs_scores else "no per-item results"
        return None, f"n/a ({why})", ""
    text = _quality_text(entry, found.value)
    if found.low is not None and found.high is not None:
        text += f" ({_quality_text(entry, found.low, bare=True)}–"
        text += f"{_quality_text(entry, found.high, bare=True)})"
    if baseline is None or baseline is measurement:
        return found.value, text, ""
    compared = quality.compare_measurements(
        baseline, measurement, entry, permutations=PANEL_PERMUTATIONS
    )
    if compared is not None:
        return found.value, text, compared.verdict
    before = quality.estimate_of(baseline, entry, interval=False)
    if before is None:
        return found.value, text, ""
    return found.value, text, entry.format_difference(found.value - before.value)


def _quality_text(entry: quality.Metric, value: float, bare: bool = False) -> str:
    if entry.unit == "fraction":
        return f"{100 * value:.1f}" + ("" if bare else " %")
    return entry.format(value)


METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "Accuracy", lambda m: m.accuracy, format_percent),
    Metric("size", "Size on disk", lambda m: m.artifact_bytes, format_bytes, "smaller", "larger"),
    Metric(
        "flops",
        "FLOPs per image",
        lambda m: m.flops,
        lambda v: format_si(v, "FLOPs"),
        "fewer",
        "more",
    ),
    Metric(
        "latency",
        "Latency (batch 1, p50)",
        lambda m: m.latency_ms_p50,
        lambda v: format_si(None if v is None else v / 1000, "s"),
        "faster",
        "slower",
        True,
    ),
    Metric(
        "energy",
        "Energy per 1k inferences",
        _energy_wh,
        lambda v: format_si(v, "Wh"),
        "less",
        "more",
        True,
    ),
    Metric(
        "co2",
        "CO₂-eq per 1k inferences",
        lambda m: m.co2_g_per_1k,
        format_grams,
        "less",
        "more",
        True,
    ),
)


def notes_for(m: Any, item: str = "image") -> list[str]:
    """What a reader must know to trust (or distrust) the numbers of Measurement ``m``
    (``item``: what one sample is called, "image" or "item" for tabular data).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> m = NS(notes=["4-bit weights execute as int8"], executes_as="int8", threads=2,
        ...        energy_source="codecarbon TDP (x) + modelled RAM", country="FRA",
        ...        carbon_intensity_g_per_kwh=56.0, split="live", n_images=2000, effort="quick",
        ...        cached=False)
        >>> notes_for(m)[:2]
        ['4-bit weights execute as int8', 'executes as int8; latency at batch 1 on 2 threads']
    """
    notes = list(m.notes)
    threads = f"{m.threads} thread" + ("s" if m.threads != 1 else "")
    notes.append(f"executes as {m.executes_as}; latency at batch 1 on {threads}")
    source = m.energy_source
    if source.startswith("unavailable"):
        notes.append(f"energy {source}")
    else:
        estimated = "" if "RAPL" in source else " — estimated, not metered"
        notes.append(
            f"energy: {source}{estimated}; CO₂ = energy × "
            f"{m.carbon_intensity_g_per_kwh:,.0f} g/kWh ({m.country} grid)"
        )
    notes.append(
        f"{m.split} split ({m.n_images:,} {item}{'s' if m.n_images != 1 else ''}), "
        f"{m.effort} effort" + (", from the result store" if m.cached else "")
    )
    return notes


class MetricsPanel(w.VBox):
    """Accuracy, size, FLOPs, latency, energy and CO₂ of one measurement vs its baseline.

    Call :meth:`show` with lab ``Measurement`` objects (anything with the same fields works).
    """

    measurement = t.Any(None)
    baseline = t.Any(None)
    numbers = t.Dict()  # key → raw number of the current measurement
    texts = t.Dict()  # key → shown value, e.g. "91.2 %"
    changes = t.Dict()  # key → shown change, e.g. "−0.4 pt"
    preliminary = t.Bool(False)  # the shown figures are a first look (timings follow)
    metric = Choice(quality.RANKABLE, default_value="accuracy")  # the quality row's metric

    def __init__(self, item: str = "image") -> None:
        self.item = item  # what one sample is called: "image", or "item" for tabular data
        self._labels: dict[str, w.HTML] = {}
        self.title = w.HTML(PLACEHOLDER)
        self.title.add_class("lab-metric-label")
        self._values: dict[str, w.HTML] = {}
        self._changes: dict[str, w.HTML] = {}
        cells: list[w.Widget] = []
        for metric in METRICS:
            value, change = w.HTML(PLACEHOLDER), w.HTML("")
            value.add_class(f"lab-metric-{metric.key}")
            change.add_class(f"lab-change-{metric.key}")
            self._values[metric.key], self._changes[metric.key] = value, change
            self._labels[metric.key] = w.HTML(self._label(metric.label))
            if metric.key == "accuracy":
                self._labels[metric.key].value = quality_label("accuracy")
            cells += [self._labels[metric.key], value, change]
        grid = w.GridBox(
            cells, layout=w.Layout(grid_template_columns="136px 118px 160px", grid_gap="0 8px")
        )
        # on how many items the accuracy rests (a first look's, then the final one's)
        self.basis = w.HTML("")
        self.basis.add_class("lab-metric-basis")
        self.runtime = w.HTML("")  # a runtime change, named apart from the technique's effect
        self.runtime.add_class("lab-runtime-change")
        self.notes = w.HTML("")
        self.notes.add_class("lab-metric-notes")
        self._first: Any = None  # the last first look shown (its figure is named when final)
        super().__init__(
            [self.title, self.basis, grid, self.runtime, self.notes], layout={"width": "430px"}
        )
        self.add_class("lab-metrics")
        self.texts = {m.key: PLACEHOLDER for m in METRICS}
        self.changes = {m.key: "" for m in METRICS}

    def wait_for(self, name: str, what: str) -> None:
        """Show that ``name``'s figures are on their way (``what`` the lab is doing, e.g.
        "fitting SVC on 10,000 images"): no figure of another model stays on screen."""
        with self.hold_sync():
            for key, value in self._values.items():
                value.value = f"<b class='lab-waiting'>{PLACEHOLDER}</b>"
                self._changes[key].value = ""
            self.title.value = f"<b>{html.escape(name)}</b> · {html.escape(what)}…"
            self.notes.value = self.basis.value = self.runtime.value = ""
            self._first = None
            self.texts = {m.key: PLACEHOLDER for m in METRICS}
            self.changes = {m.key: "" for m in METRICS}
            self.numbers = {}
            self.baseline = self.measurement = None
            self.preliminary = False

    @staticmethod
    def _label(text: str) -> str:
        return f"<span style='color:#555'>{html.escape(text)}</span>"

    @t.observe("metric")
    def _metric_changed(self, change: dict) -> None:
        self._labels["accuracy"].value = quality_label(self.metric)
        if self.measurement is not None:
            self.show(self.measurement, self.baseline)

    def show(self, measurement: Any, baseline: Any | None = None) -> None:
        """Display ``measurement``; changes are relative to ``baseline`` (none when omitted)."""
        numbers, texts, changes = {}, {}, {}
        unit = operations_unit(measurement)
        for metric in METRICS:
            numbers[metric.key] = metric.read(measurement)
            texts[metric.key] = metric.show(numbers[metric.key])
            if metric.key == "flops":
                texts[metric.key] = format_si(numbers[metric.key], unit)
            changes[metric.key] = "" if baseline is None else metric.change(baseline, measurement)
        if baseline is not None and measurement is not baseline:
            changes["accuracy"] = accuracy_change(baseline, measurement)
        texts["accuracy"] = format_accuracy(measurement)
        if self.metric != "accuracy":
            numbers["accuracy"], texts["accuracy"], change = quality_figures(
                self.metric, measurement, baseline
            )
            changes["accuracy"] = change
        preliminary = bool(getattr(measurement, "preliminary", False))
        if preliminary:  # what is not measured yet says so; no empty cells, no layout jump
            for key in ("latency", "energy", "co2"):
                texts[key], changes[key] = "measuring…", ""
            if numbers["size"] is None:  # a big model's file: encoded for the final figures
                texts["size"], changes["size"] = "measuring…", ""
            texts["accuracy"] += " prelim."
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in notes_for(measurement, self.item))
        flops_label = f"{unit[0].upper()}{unit[1:]} per {self.item}"
        label = html.escape(getattr(measurement, "label", "") or "baseline")
        stage = "preliminary" if preliminary else "final"
        first = self._first if _same_configuration(self._first, measurement) else None
        basis = basis_text(measurement, self.item, first=None if preliminary else first)
        moved = runtime_text(baseline, measurement)
        if moved:
            for key in ("latency", "energy", "co2"):
                if changes[key] and changes[key] != SAME_WORK:
                    changes[key] += " · new runtime"
        with self.hold_sync():
            for key in texts:
                with self._values[key].hold_sync(), self._changes[key].hold_sync():
                    exact = key in ("size", "flops")  # bytes and FLOPs are final at once
                    mark = "final" if exact else stage
                    self._values[
                        key
                    ].value = f"<b class='lab-{mark}' title='{mark}'>{html.escape(texts[key])}</b>"
                    self._changes[key].value = html.escape(changes[key])
            self._labels["flops"].value = self._label(flops_label)
            self.title.value = f"<b>{html.escape(getattr(measurement, 'name', ''))}</b> · {label}"
            self.notes.value = f"<ul style='margin:4px 0;padding-left:18px;font-size:90%;line-height:1.35'>{notes}</ul>"
            quality = "accuracy" if getattr(measurement, "accuracy", None) is not None else ""
            quality = quality or str(getattr(measurement, "metric", "")).replace("_", " ")
            self.basis.value = (
                f"<span style='color:#555'>{html.escape(f'{quality} {basis}'.strip())}</span>"
                if basis
                else ""
            )
            self.runtime.value = (
                f"<div style='color:#a15c00'>⚠ {html.escape(moved)}</div>" if moved else ""
            )
            self._first = measurement if preliminary else None
            self.numbers, self.texts, self.changes = numbers, texts, changes
            self.baseline, self.measurement = baseline, measurement
            self.preliminary = preliminary
