"""Two to four models side by side: a metrics table, a Pareto plot and per-class accuracy.

Each row picks a model — a zoo network, one of your own ``torch.nn.Module`` s, or a thin
scikit-learn model from :mod:`lab.thin` — and a recipe (:data:`PRESETS`). Every
configuration is measured by :func:`lab.measure.evaluate` (the same numbers, and the same
result store, as the dashboard) and its per-class accuracy counted on the same images by
:func:`per_class_accuracy`. Evaluations run on a background thread, newest request only;
a changed row re-measures that row alone.

One line in a notebook (``make app APP=compare`` serves ``notebooks/compare_app.ipynb``)::

    from widgets.compare import CompareApp
    CompareApp([("cnn", "as trained"), ("cnn", "4-bit weights"), ("mobile", "as trained")])

Example:
    >>> from types import SimpleNamespace as NS
    >>> def fake(model, recipe, **kw):  # lab.evaluate's signature
    ...     return NS(label=recipe.describe(), accuracy=0.9, artifact_bytes=1000,
    ...               state_dict_bytes=4000, macs=10, latency_ms_p50=1.0, co2_g_per_1k=1e-4,
    ...               executes_as="fp32", notes=[])
    >>> app = CompareApp([("mlp", "as trained"), ("mlp", "8-bit weights")], evaluator=fake,
    ...                  per_class=lambda model, recipe, **kw: [0.9] * 10)
    >>> app.wait(30)
    True
    >>> [row["accuracy"] for row in app.rows]
    [0.9, 0.9]
    >>> app.close()
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import ipywidgets as w
import numpy as np
import torch
import traitlets as t
from torch import nn

from lab.datasets import fashion as data
from lab.meters import energy
from lab.models import zoo
from lab.techniques.configs import PruneConfig, QuantConfig, Recipe, ResolutionConfig

from .figure import FigureView
from .metrics import operations_unit
from .pareto_plot import AXES, ParetoPlot
from .pickers import last_fit
from .placement import place_labels
from .units import format_bytes, format_grams, format_si
from .validation import WidgetValueError
from .worker import LatestWorker

__all__ = ["PRESETS", "THIN_CHOICES", "CompareApp", "Entry", "per_class_accuracy"]

MIN_ENTRIES, MAX_ENTRIES = 2, 4
NO_RECIPE = "as trained"
PRESETS: dict[str, Recipe] = {
    NO_RECIPE: Recipe(),
    "8-bit weights": Recipe(quant=QuantConfig(bits=8)),
    "4-bit weights": Recipe(quant=QuantConfig(bits=4)),
    "real int8 (weights + activations)": Recipe(quant=QuantConfig(bits=8, activations=True)),
    "prune 50 % of channels": Recipe(prune=PruneConfig(0.5, structure="channel")),
    "prune 90 % + 4-bit (no fine-tuning)": Recipe(
        prune=PruneConfig(0.9), quant=QuantConfig(bits=4)
    ),
    "14 px input": Recipe(resolution=ResolutionConfig(14)),
}
# Thin models offered: those that train in seconds to a minute on first use (lab.thin caches
# them); kNN, SVC, LinearSVC and boosting take minutes to train or to measure.
THIN_CHOICES = ("LogisticRegression", "RandomForestClassifier", "MLPClassifier")
BATCH = 256  # images per forward pass when counting per-class accuracy
_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


@dataclass(frozen=True)
class Entry:
    """One compared configuration: a model name and a :data:`PRESETS` recipe name."""

    model: str
    preset: str = NO_RECIPE

    @property
    def label(self) -> str:
        return self.model if self.preset == NO_RECIPE else f"{self.model} · {self.preset}"


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        from lab.evaluation.measure import Cancelled

        raise Cancelled("superseded by a newer comparison")


def per_class_accuracy(
    model: Any,
    recipe: Recipe | None = None,
    *,
    split: str = "live",
    cancel: threading.Event | None = None,
    **_: Any,
) -> np.ndarray:
    """Fraction of each class's images of ``split`` classified correctly (10 values, 0–1).

    ``model`` is a ``torch.nn.Module`` (``recipe`` applied to a copy first, as
    :func:`lab.measure.evaluate` does, run by what really executes) or a
    :class:`lab.thin.ThinModel`. On ``live`` (200 images per class) the mean of the ten
    values is the overall accuracy.
    """
    recipe = Recipe() if recipe is None else recipe
    if not isinstance(model, nn.Module):  # a thin (scikit-learn) model
        if not recipe.is_identity:
            raise ValueError(f"a recipe cannot be applied to {getattr(model, 'name', model)}")
        split_data = data.load_split(split)
        predicted = torch.as_tensor(model.predict(split_data.images))
    else:
        from lab.techniques.apply import apply

        compressed = apply(model, recipe, progress=False)
        runtime = compressed.runtime.eval()
        split_data = data.load_split(split, compressed.resolution)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(split_data), BATCH):
                _check_cancel(cancel)
                chunks.append(runtime(split_data.images[start : start + BATCH]).argmax(1))
        predicted = torch.cat(chunks)
    labels = split_data.labels
    classes = len(data.CLASSES)
    correct = torch.bincount(labels[predicted == labels], minlength=classes).double()
    total = torch.bincount(labels, minlength=classes).double()
    return (correct / total.clamp(min=1)).numpy()


def _default_evaluator(model: Any, recipe: Recipe, **kwargs: Any) -> Any:
    from lab.evaluation.measure import evaluate

    return evaluate(model, recipe, **kwargs)


class CompareApp(w.VBox):
    """Pick 2–4 models/recipes; see their metrics, Pareto plot and per-class accuracy.

    Args:
        entries: the starting rows, ``(model, preset)`` pairs or :class:`Entry` s (2–4).
        models: your own ``{"name": torch.nn.Module}`` offered next to the zoo.
        thin: thin model names offered (default :data:`THIN_CHOICES`; ``()`` for none).
        country: ISO alpha-3 code pricing the energy in CO₂.
        split: ``live`` (2,000 images, the default), ``val`` or ``test``.
        evaluator: replaces :func:`lab.measure.evaluate` (same signature), e.g. in tests.
        per_class: replaces :func:`per_class_accuracy` (same signature).
        store: lab result store (default: lab's default store).

    Public state: ``rows`` (one dict per entry: label, accuracy, bytes, … and
    ``per_class``), ``busy``, ``error`` (what could not be measured, "" when all was).
    """

    rows = t.List()
    busy = t.Bool(False)
    error = t.Unicode("")

    def __init__(
        self,
        entries: Iterable[Entry | tuple[str, str]] = (
            ("cnn", NO_RECIPE),
            ("cnn", "4-bit weights"),
            ("mobile", NO_RECIPE),
        ),
        *,
        models: Mapping[str, nn.Module] | None = None,
        thin: Sequence[str] | None = None,
        country: str = energy.DEFAULT_COUNTRY,
        split: str = "live",
        evaluator: Callable[..., Any] | None = None,
        per_class: Callable[..., Any] | None = None,
        store: Any = None,
    ) -> None:
        if models is not None and not isinstance(models, Mapping):
            raise TypeError(
                f"models must be a dict {{name: torch.nn.Module}}; got {type(models).__name__}"
            )
        self._user = dict(models or {})
        for name, module in self._user.items():
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"models[{name!r}] must be a torch.nn.Module, got {type(module).__name__}"
                )
        self._zoo = [n for n in zoo.names() if n not in self._user]
        from lab.models import thin as lab_thin

        known_thin = set(lab_thin.thin_names())
        if thin is not None and (isinstance(thin, (str, bytes)) or not isinstance(thin, Sequence)):
            raise WidgetValueError(
                f"thin must be a list of names from {', '.join(lab_thin.thin_names())}; got "
                f"{thin!r}"
            )
        self._thin = [n for n in (THIN_CHOICES if thin is None else thin) if n in known_thin]
        unknown = [n for n in (thin or ()) if n not in known_thin]
        if unknown:
            raise ValueError(
                f"unknown thin model {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(lab_thin.thin_names())}"
            )
        if split not in ("live", "val", "test"):
            raise ValueError(f"unknown split {split!r}; choose one of live, val, test")
        self.split = split
        self.country = energy.validate_country(country)
        self._evaluate = evaluator or _default_evaluator
        self._per_class = per_class or per_class_accuracy
        self._store = store
        self._loaded: dict[str, Any] = {}
        self._memo: dict[tuple, dict] = {}
        self._lock = threading.Lock()
        pair = (
            "(model, recipe) pairs, e.g. [('cnn', 'fp32 (no recipe)'), ('mobile', '4-bit weights')]"
        )
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
            raise TypeError(f"entries must be a list of {pair}; got {entries!r}")
        entries = list(entries)
        for e in entries:
            if not isinstance(e, Entry) and (
                isinstance(e, (str, bytes)) or not isinstance(e, Sequence) or not 1 <= len(e) <= 2
            ):
                raise TypeError(f"entries must be a list of {pair}; got an entry {e!r}")
        entries = [e if isinstance(e, Entry) else Entry(*e) for e in entries]
        if not MIN_ENTRIES <= len(entries) <= MAX_ENTRIES:
            raise ValueError(
                f"entries must hold {MIN_ENTRIES} to {MAX_ENTRIES} (model, recipe) pairs to "
                f"compare; got {len(entries)}"
            )
        for entry in entries:
            self._check_entry(entry)
        # the thread starts once the arguments are known to be good (a refused call leaves none)
        self._worker = LatestWorker(debounce=0.1, name="lab-compare-worker")

        self.pickers = w.VBox()
        self.pickers.add_class("lab-compare-pickers")
        self.add_button = w.Button(description="Add a model", icon="plus")
        self.add_button.add_class("lab-compare-add")
        self.add_button.on_click(lambda _: self.add_entry())
        self.status = w.HTML()
        self.status.add_class("lab-compare-status")
        self.table = w.HTML()
        self.table.add_class("lab-compare-table")
        self.pareto = ParetoPlot()
        self._marks: list = []  # this app's coloured points and labels on the Pareto axes
        self.pareto.observe(self._axis_changed, names="x_axis")
        self.per_class_view = FigureView((5.8, 4.2))
        self.per_class_view.widget.add_class("lab-compare-per-class")
        self._class_ax = self.per_class_view.figure.subplots()
        super().__init__(
            [
                self.pickers,
                self.add_button,
                self.status,
                self.table,
                w.HBox(
                    [
                        self.pareto,
                        w.VBox([w.HTML("<b>Accuracy per class</b>"), self.per_class_view.widget]),
                    ],
                    layout={"flex_flow": "row wrap", "grid_gap": "8px 24px"},
                ),
            ],
            layout={"padding": "4px"},
        )
        self.add_class("lab-compare")
        for entry in entries:
            self._add_row(entry)
        self._sync_buttons()
        self.refresh()

    # ---------------------------------------------------------------- public API
    @property
    def options(self) -> list[str]:
        """Every model name that can be chosen: the zoo's, yours, then thin models."""
        return [*self._zoo, *self._user, *self._thin]

    @property
    def entries(self) -> list[Entry]:
        return [Entry(row.children[0].value, row.children[1].value) for row in self._rows()]

    def add_entry(self, model: str = "mlp", preset: str = NO_RECIPE) -> None:
        """Add a row (at most :data:`MAX_ENTRIES`)."""
        if len(self._rows()) >= MAX_ENTRIES:
            raise ValueError(f"compare at most {MAX_ENTRIES} models")
        entry = Entry(model, preset)
        self._check_entry(entry)
        self._add_row(entry)
        self._sync_buttons()
        self.refresh()

    def remove_entry(self, index: int) -> None:
        """Remove row ``index`` (at least :data:`MIN_ENTRIES` stay)."""
        rows = self._rows()
        if len(rows) <= MIN_ENTRIES:
            raise ValueError(f"compare at least {MIN_ENTRIES} models")
        rows[index].close()
        self.pickers.children = [r for i, r in enumerate(rows) if i != index]
        self._sync_buttons()
        self.refresh()

    def set_entry(self, index: int, model: str | None = None, preset: str | None = None) -> None:
        """Change row ``index``'s model and/or recipe (as a user picking from its menus)."""
        row = self._rows()[index]
        model = model if model is not None else row.children[0].value
        if preset is None:  # as the menus do: a thin model is compared as trained
            preset = NO_RECIPE if model in self._thin else row.children[1].value
        entry = Entry(model, preset)
        self._check_entry(entry)
        row.children[0].value = entry.model  # a thin model resets the recipe menu
        row.children[1].value = entry.preset

    def refresh(self) -> None:
        """Measure the current entries (in the background; known ones come from memory)."""
        entries = self.entries
        problems = [p for p in (self._problem(e) for e in entries) if p]
        if problems:
            self._show_status(error="; ".join(problems))
            return
        self.busy = True
        self._show_status(message=f"measuring {len(entries)} configurations…")
        cancel = threading.Event()
        self._worker.submit(
            lambda: self._measure_all(entries, cancel), self._show, self._failed, cancel=cancel
        )

    def wait(self, timeout: float | None = 120) -> bool:
        """Block until no comparison is pending or running (for scripts and tests)."""
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        worker = getattr(self, "_worker", None)  # None when __init__ refused its arguments
        if worker is not None:
            worker.close()
        super().close()

    # ---------------------------------------------------------------- rows
    def _rows(self) -> list[w.HBox]:
        return list(self.pickers.children)

    def _add_row(self, entry: Entry) -> None:
        labels = (
            [(f"{n} (zoo)", n) for n in self._zoo]
            + [(f"{n} (yours)", n) for n in self._user]
            + [(f"{n} (thin)", n) for n in self._thin]
        )
        model = w.Dropdown(options=labels, value=entry.model, layout={"width": "260px"})
        model.add_class("lab-compare-model")
        preset = w.Dropdown(options=list(PRESETS), value=entry.preset, layout={"width": "270px"})
        preset.add_class("lab-compare-preset")
        remove = w.Button(icon="times", tooltip="remove this model", layout={"width": "36px"})
        remove.add_class("lab-compare-remove")
        row = w.HBox([model, preset, remove])
        row.add_class("lab-compare-row")
        remove.on_click(lambda _: self.remove_entry(self._rows().index(row)))
        model.observe(lambda _: self._row_changed(row), names="value")
        preset.observe(lambda _: self._row_changed(row), names="value")
        self.pickers.children = [*self._rows(), row]
        self._row_changed(row, refresh=False)

    def _row_changed(self, row: w.HBox, refresh: bool = True) -> None:
        model, preset = row.children[0], row.children[1]
        thin = model.value in self._thin
        with preset.hold_trait_notifications():
            if thin:  # a thin model has no recipe: its menu offers "as trained" only
                preset.value = NO_RECIPE
            preset.disabled = thin
        preset.tooltip = "thin models are compared as trained" if thin else "recipe applied"
        if refresh:
            self.refresh()

    def _sync_buttons(self) -> None:
        count = len(self._rows())
        self.add_button.disabled = count >= MAX_ENTRIES
        for row in self._rows():
            row.children[2].disabled = count <= MIN_ENTRIES

    def _check_entry(self, entry: Entry) -> None:
        problem = self._problem(entry)
        if problem:
            raise ValueError(problem)

    def _problem(self, entry: Entry) -> str:
        if entry.model not in self.options:
            return f"unknown model {entry.model!r}; choose one of {', '.join(self.options)}"
        if entry.preset not in PRESETS:
            return f"unknown recipe {entry.preset!r}; choose one of {', '.join(PRESETS)}"
        if entry.model in self._thin and entry.preset != NO_RECIPE:
            return (
                f"{entry.model} is a thin (scikit-learn) model: no recipe applies to it; "
                f"choose {NO_RECIPE!r}"
            )
        return ""

    # ---------------------------------------------------------------- measuring
    def _model(self, name: str) -> Any:
        if name in self._user:
            return self._user[name]
        if name not in self._loaded:
            if name in self._thin:
                from lab.models import thin as lab_thin

                self._loaded[name] = lab_thin.fit_thin(name, progress=False)
            else:
                self._loaded[name] = zoo.load(name)
        return self._loaded[name]

    def _measure_all(self, entries: list[Entry], cancel: threading.Event) -> list[dict]:
        rows, failures = [], []
        for i, entry in enumerate(entries):
            _check_cancel(cancel)
            key = (entry, id(self._user.get(entry.model)), self.split, self.country)
            with self._lock:
                known = self._memo.get(key)
            if known is None:
                self._show_status(
                    message=f"measuring {i + 1}/{len(entries)}: {entry.label}"
                    f"{self._preparing(entry)}…",
                    busy=True,
                )
                try:
                    known = self._measure(entry, cancel)
                except Exception as exc:
                    from lab.evaluation.measure import Cancelled

                    if isinstance(exc, Cancelled):
                        raise
                    failures.append(f"{entry.label}: {exc}")
                    continue
                with self._lock:
                    self._memo[key] = known
            rows.append(known)
        return [rows, failures]

    def _preparing(self, entry: Entry) -> str:
        """What a row waits for before its measurement: a thin model's first fit (with how
        long the last one took) or int8 calibration; "" when nothing."""
        if entry.model in self._thin and entry.model not in self._loaded:
            from lab.models import thin as lab_thin

            path = lab_thin.model_path(entry.model)
            if not path.is_file():
                last = last_fit(entry.model, path.parent)
                took = f", took {last[0]:,.0f} s last time" if last else ""
                return f" (fitting {entry.model} first{took})"
        recipe = PRESETS[entry.preset]
        if recipe.quant is not None and recipe.quant.activations:
            return " (calibrating int8 activations first)"
        return ""

    def _measure(self, entry: Entry, cancel: threading.Event) -> dict:
        model = self._model(entry.model)
        recipe = PRESETS[entry.preset]
        measured = self._evaluate(
            model,
            recipe,
            split=self.split,
            country=self.country,
            name=entry.model,
            effort="quick",
            store=self._store,
            cancel=cancel,
        )
        per_class = [
            float(v) for v in self._per_class(model, recipe, split=self.split, cancel=cancel)
        ]
        if len(per_class) != len(data.CLASSES):
            raise ValueError(
                f"per-class accuracy has {len(per_class)} values, not {len(data.CLASSES)}"
            )
        return {
            "label": entry.label,
            "model": entry.model,
            "preset": entry.preset,
            "recipe": measured.label,
            "accuracy": float(measured.accuracy),
            "artifact_bytes": int(measured.artifact_bytes),
            "state_dict_bytes": int(measured.state_dict_bytes),
            "macs": int(measured.macs),
            # FLOPs (2 × MACs) as in every other view; trees count comparisons instead
            "flops": int(getattr(measured, "flops", None) or 2 * measured.macs),
            "operations": operations_unit(measured),
            "latency_ms_p50": float(measured.latency_ms_p50),
            "co2_g_per_1k": None if measured.co2_g_per_1k is None else float(measured.co2_g_per_1k),
            "executes_as": str(measured.executes_as),
            "per_class": per_class,
        }

    # ---------------------------------------------------------------- showing
    def _show(self, result: list) -> None:
        rows, failures = result
        self.rows = rows
        self._draw_table(rows)
        self._draw_pareto(rows)
        self._draw_per_class(rows)
        self.busy = False
        if failures:
            self._show_status(error="could not measure " + "; ".join(failures))
        else:
            self._show_status(message=f"{len(rows)} configurations on the {self.split} split")

    def _failed(self, exc: BaseException) -> None:
        from lab.evaluation.measure import Cancelled

        self.busy = False
        if not isinstance(exc, Cancelled):
            self._show_status(error=f"could not compare: {exc}")

    def _show_status(self, message: str = "", error: str = "", busy: bool | None = None) -> None:
        if busy is not None:
            self.busy = busy
        self.error = error
        if error:
            self.busy = False
            self.status.value = (
                f"<span class='lab-error' style='color:#b00020'>⚠ {html.escape(error)}</span>"
            )
        else:
            self.status.value = f"<span style='color:#555'>{html.escape(message)}</span>"

    def _draw_table(self, rows: list[dict]) -> None:
        if not rows:
            self.table.value = ""
            return
        columns = (  # key, header, format, best is the smallest?
            ("accuracy", "accuracy", lambda v, _: f"{100 * v:.2f} %", False),
            ("artifact_bytes", "size on disk", lambda v, _: format_bytes(v), True),
            # a tree's operations are comparisons, not FLOPs
            (
                "flops",
                "FLOPs / image",
                lambda v, r: format_si(v, r.get("operations", "FLOPs")),
                True,
            ),
            ("latency_ms_p50", "latency p50", lambda v, _: format_si(v / 1000, "s"), True),
            ("co2_g_per_1k", "CO₂-eq / 1k", lambda v, _: format_grams(v), True),
        )
        best = {}
        mixed = len({r.get("operations", "FLOPs") for r in rows}) > 1  # FLOPs beside comparisons
        for key, _, _, smallest in columns:
            if key == "flops" and mixed:
                continue  # no "best" between different units
            values = [r[key] for r in rows if r[key] is not None]
            if values:
                best[key] = min(values) if smallest else max(values)
        head = "".join(f"<th style='padding:2px 10px'>{h}</th>" for _, h, _, _ in columns)
        lines = []
        for color, r in zip(_COLORS, rows, strict=False):
            cells = []
            for key, _, fmt, _ in columns:
                value = r[key]
                text = "n/a" if value is None else html.escape(fmt(value, r))
                if value is not None and value == best.get(key) and len(rows) > 1:
                    text = f"<b>{text}</b>"
                cells.append(f"<td style='padding:2px 10px;text-align:right'>{text}</td>")
            ratio = r["state_dict_bytes"] / max(1, r["artifact_bytes"])
            lines.append(
                "<tr class='lab-compare-result'>"
                f"<td style='padding:2px 10px'><span style='color:{color}'>■</span> "
                f"<b>{html.escape(r['model'])}</b> {html.escape(r['recipe'])}</td>"
                + "".join(cells)
                + f"<td style='padding:2px 10px;text-align:right'>{ratio:.1f}×</td>"
                f"<td style='padding:2px 10px;color:#555'>{html.escape(r['executes_as'])}</td></tr>"
            )
        self.table.value = (
            "<table style='border-collapse:collapse'><thead><tr>"
            f"<th style='padding:2px 10px;text-align:left'>model · recipe</th>{head}"
            "<th style='padding:2px 10px'>vs its fp32 file</th>"
            "<th style='padding:2px 10px;text-align:left'>executes as</th>"
            f"</tr></thead><tbody>{''.join(lines)}</tbody></table>"
            "<div style='color:#555;font-size:90%'>best of each column in bold; "
            f"{self.split} split, {self.country} grid</div>"
        )

    def _draw_pareto(self, rows: list[dict]) -> None:
        points = [
            SimpleNamespace(
                recipe=f"{i}:{r['label']}",  # ParetoPlot keys its points by ``recipe``
                label=r["label"],
                accuracy=r["accuracy"],
                artifact_bytes=r["artifact_bytes"],
                latency_ms_p50=r["latency_ms_p50"],
                co2_g_per_1k=r["co2_g_per_1k"],
            )
            for i, r in enumerate(rows)
        ]
        self.pareto.clear()
        if points:
            self.pareto.add(*points, current=False)
        self._mark_pareto()

    def _axis_changed(self, change: dict) -> None:
        with self._worker.deliver_lock:  # results are drawn from the worker thread too
            self._mark_pareto()

    def _mark_pareto(self) -> None:
        """Each configuration's point in its table colour, labelled (redrawn per x axis)."""
        for artist in self._marks:
            artist.remove()
        self._marks = []
        field = AXES[self.pareto.x_axis][2]
        ax = self.pareto.ax
        shown = [
            (color, r, r.get(field))
            for color, r in zip(_COLORS, self.rows, strict=False)
            if r.get(field) is not None and r.get(field) > 0
        ]
        points = [(x, 100 * r["accuracy"]) for _, r, x in shown]
        spots = place_labels(ax, points, [r["label"] for _, r, _ in shown], 7)
        for (color, r, _), (x, y), (dx, dy, align) in zip(shown, points, spots, strict=True):
            self._marks.append(ax.scatter([x], [y], s=60, color=color, zorder=4))
            self._marks.append(
                ax.annotate(
                    r["label"],
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha=align,
                    fontsize=7,
                )
            )
        self.pareto.view.redraw()

    def _draw_per_class(self, rows: list[dict]) -> None:
        ax = self._class_ax
        ax.clear()
        y = np.arange(len(data.CLASSES))
        height = 0.8 / max(1, len(rows))
        for i, (color, r) in enumerate(zip(_COLORS, rows, strict=False)):
            values = 100 * np.asarray(r["per_class"])
            ax.barh(
                y + (i - (len(rows) - 1) / 2) * height,
                values,
                height,
                color=color,
                label=r["label"],
            )
        ax.set_yticks(y, data.CLASSES, fontsize=8)
        ax.invert_yaxis()
        low = min((min(r["per_class"]) for r in rows), default=0.0)
        ax.set_xlim(max(0.0, 100 * low - 10), 100)
        ax.set_xlabel(f"accuracy on the {self.split} split (%)")
        ax.grid(axis="x", alpha=0.3)
        if rows:
            ax.legend(
                fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False
            )
        self.per_class_view.redraw()
