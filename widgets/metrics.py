"""The numbers that matter, each next to its change vs the uncompressed baseline, plus honest notes.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from .units import (
    format_bytes,
    format_grams,
    format_percent,
    format_si,
    points_change,
    ratio_change,
)

__all__ = ["METRICS", "Metric", "MetricsPanel", "notes_for"]

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
    tolerance: float = 0.0  # relative change shown as "≈ same" (measured quantities)

    def change(self, baseline: Any, measurement: Any) -> str:
        base, value = self.read(baseline), self.read(measurement)
        if not self.lower:
            return points_change(base, value)
        return ratio_change(base, value, self.lower, self.higher, self.tolerance)


def _energy_wh(m: Any) -> float | None:
    return None if m.energy_kwh_per_1k is None else m.energy_kwh_per_1k * 1000


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
        0.25,
    ),
    Metric(
        "energy",
        "Energy per 1k inferences",
        _energy_wh,
        lambda v: format_si(v, "Wh"),
        "less",
        "more",
        0.25,
    ),
    Metric(
        "co2",
        "CO₂-eq per 1k inferences",
        lambda m: m.co2_g_per_1k,
        format_grams,
        "less",
        "more",
        0.25,
    ),
)


def notes_for(m: Any) -> list[str]:
    """What a reader must know to trust (or distrust) the numbers of Measurement ``m``.

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
        f"{m.split} split ({m.n_images:,} images), {m.effort} effort"
        + (", from the result store" if m.cached else "")
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

    def __init__(self) -> None:
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
            cells += [w.HTML(f"<span style='color:#555'>{metric.label}</span>"), value, change]
        grid = w.GridBox(
            cells, layout=w.Layout(grid_template_columns="190px 110px 180px", grid_gap="0 8px")
        )
        self.notes = w.HTML("")
        self.notes.add_class("lab-metric-notes")
        super().__init__([self.title, grid, self.notes], layout={"width": "520px"})
        self.add_class("lab-metrics")
        self.texts = {m.key: PLACEHOLDER for m in METRICS}
        self.changes = {m.key: "" for m in METRICS}

    def show(self, measurement: Any, baseline: Any | None = None) -> None:
        """Display ``measurement``; changes are relative to ``baseline`` (none when omitted)."""
        numbers, texts, changes = {}, {}, {}
        for metric in METRICS:
            numbers[metric.key] = metric.read(measurement)
            texts[metric.key] = metric.show(numbers[metric.key])
            changes[metric.key] = "" if baseline is None else metric.change(baseline, measurement)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in notes_for(measurement))
        label = html.escape(getattr(measurement, "label", "") or "baseline")
        with self.hold_sync():
            for key in texts:
                with self._values[key].hold_sync(), self._changes[key].hold_sync():
                    self._values[key].value = f"<b>{html.escape(texts[key])}</b>"
                    self._changes[key].value = html.escape(changes[key])
            self.title.value = f"<b>{html.escape(getattr(measurement, 'name', ''))}</b> · {label}"
            self.notes.value = f"<ul style='margin:4px 0;padding-left:18px;font-size:90%;line-height:1.35'>{notes}</ul>"
            self.numbers, self.texts, self.changes = numbers, texts, changes
            self.baseline, self.measurement = baseline, measurement
