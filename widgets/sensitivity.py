"""Per-layer pruning sensitivity: which layers can lose weights, and which cannot.

Runs :func:`lab.techniques.pruning.sensitivity_scan` on a background thread when you
press "Run scan" (the notebook stays responsive), then draws one accuracy-vs-sparsity
curve per layer.

Example:
    >>> import pandas as pd
    >>> fake = lambda model, sparsities, split, structure, progress: pd.DataFrame(
    ...     {"layer": ["fc"] * 2, "sparsity": [0.0, 0.9], "accuracy": [0.9, 0.5]})
    >>> view = SensitivityView(model=object(), scan=fake)
    >>> view.run(); view.wait(5)
    True
    >>> view.curves["fc"]
    ([0.0, 90.0], [90.0, 50.0])
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w
import traitlets as t
from matplotlib.lines import Line2D
from torch import nn

from lab.techniques import schema
from widgets.validation import CheckedToggleButtons, WidgetValueError, choice, percent_hint

from .figure import FigureView

__all__ = ["SensitivityView"]

DEFAULT_SPARSITIES = (0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95)


SPLITS = ("live", "val", "test")


def _check_sparsities(sparsities: object) -> tuple[float, ...]:
    """A non-empty list of fractions in the recipe schema's sparsity range, each once."""
    allowed = f"a non-empty list of fractions in {schema.SPARSITY.describe()}, e.g. [0.5, 0.9]"
    if isinstance(sparsities, (str, bytes)) or not isinstance(sparsities, Sequence):
        raise WidgetValueError(f"sparsities must be {allowed}; got {sparsities!r}")
    if not sparsities:
        raise WidgetValueError(f"sparsities must be {allowed}; got an empty list")
    for value in sparsities:
        if not schema.SPARSITY.contains(value):
            raise WidgetValueError(
                f"sparsities must be {allowed}; got {value!r}"
                + percent_hint(value, schema.SPARSITY.contains)
            )
    return tuple(dict.fromkeys(float(v) for v in sparsities))


def _lab_scan(
    model: Any,
    sparsities: Sequence[float],
    split: str,
    structure: str,
    progress: bool,
    data: Any = None,
) -> Any:
    from lab.techniques.pruning import sensitivity_scan

    return sensitivity_scan(
        model,
        sparsities=sparsities,
        split=split,
        structure=structure,
        progress=progress,
        data=data,
    )


class SensitivityView(w.VBox):
    """Button "Run scan", a status line (elapsed time, errors) and the per-layer curves.

    Args:
        model: the module to probe, or a callable returning it (e.g. a picker's current model).
        sparsities: fractions tried for every layer.
        split: data split of the accuracy (``live``: 2,000 test images).
        scan: replaces lab's ``sensitivity_scan`` (same keyword arguments), for tests.
        data: the data to scan on (:func:`lab.datasets.as_data`; default Fashion-MNIST).
    """

    running = t.Bool(False)
    status = t.Unicode("")
    result = t.Any(None)  # the scan's DataFrame (layer, sparsity, accuracy)

    def __init__(
        self,
        model: Any,
        sparsities: Sequence[float] = DEFAULT_SPARSITIES,
        split: str = "live",
        scan: Callable[..., Any] | None = None,
        data: Any = None,
    ) -> None:
        self._model = model
        self._data = data
        self.sparsities, self.split = _check_sparsities(sparsities), choice("split", split, SPLITS)
        if scan is not None and not callable(scan):
            raise WidgetValueError(f"scan must be callable or None; got {scan!r}")
        self._scan = scan or _lab_scan
        self._thread: threading.Thread | None = None
        self.button = w.Button(
            description="Run scan",
            button_style="info",
            tooltip="Prune each layer alone at each sparsity; measure accuracy",
        )
        self.button.add_class("lab-scan-button")
        self.structure = CheckedToggleButtons(
            "structure",
            options=[("weights", "unstructured"), ("channels", "channel")],
            style={"button_width": "90px"},
        )
        self.message = w.HTML("Press “Run scan”: each layer is pruned alone (the others dense).")
        self.message.add_class("lab-scan-status")
        self.view = FigureView((5.6, 3.2))
        self.ax = self.view.figure.subplots()
        self.ax.set_xlabel("sparsity of that layer alone (%)")
        self.ax.set_ylabel("accuracy (%)")
        self.ax.grid(alpha=0.3)
        self._lines: dict[str, Line2D] = {}
        self.button.on_click(lambda _: self.run())
        super().__init__([w.HBox([self.button, self.structure]), self.message, self.view.widget])
        self.add_class("lab-sensitivity")

    @property
    def model(self) -> Any:
        """The module to scan (calling the provider given instead of a module, if any)."""
        if callable(self._model) and not isinstance(self._model, nn.Module):
            return self._model()
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        self._model = model
        self.clear()

    @property
    def curves(self) -> dict[str, tuple[list[float], list[float]]]:
        """Layer → (sparsities in %, accuracies in %) as drawn."""
        return {
            name: (list(map(float, line.get_xdata())), list(map(float, line.get_ydata())))
            for name, line in self._lines.items()
            if line.get_visible()
        }

    def run(self) -> None:
        """Start a scan in the background (ignored while one runs)."""
        if self.running:
            return
        self.running, self.button.disabled = True, True
        self._thread = threading.Thread(
            target=self._work,
            args=(self.model, self.structure.value),
            name="lab-sensitivity-scan",
            daemon=True,
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running scan finishes; False on timeout."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def clear(self) -> None:
        """Hide all curves (e.g. when the model changes)."""
        for line in self._lines.values():
            line.set_visible(False)
        self.result = None
        self.view.redraw()

    def _work(self, model: Any, structure: str) -> None:
        started = time.perf_counter()
        done = threading.Event()

        def tick() -> None:
            while not done.wait(0.5):
                self._say(f"⏳ scanning ({structure})… {time.perf_counter() - started:.0f} s")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            df = self._scan(
                model,
                sparsities=self.sparsities,
                split=self.split,
                structure=structure,
                progress=False,
                **({} if self._data is None else {"data": self._data}),
            )
        except Exception as exc:
            done.set()
            self._say(f"<span style='color:#b00020'>Scan failed: {html.escape(str(exc))}</span>")
        else:
            done.set()
            self._draw(df)
            self.result = df
            self._say(
                f"✓ {df['layer'].nunique()} layers × {len(self.sparsities)} sparsities "
                f"({structure}) in {time.perf_counter() - started:.1f} s on the "
                f"{self.split} split"
            )
        finally:
            ticker.join()
            self.running, self.button.disabled = False, False

    def _say(self, text: str) -> None:
        self.status = text
        self.message.value = text

    def _draw(self, df: Any) -> None:
        for line in self._lines.values():
            line.set_visible(False)
        for layer, rows in df.groupby("layer", sort=False):
            rows = rows.sort_values("sparsity")
            line = self._lines.get(str(layer))
            if line is None:
                (line,) = self.ax.plot([], [], marker="o", ms=4, label=str(layer))
                self._lines[str(layer)] = line
            line.set_data(100 * rows["sparsity"].to_numpy(), 100 * rows["accuracy"].to_numpy())
            line.set_visible(True)
        visible = [line for line in self._lines.values() if line.get_visible()]
        self.ax.legend(handles=visible, title="layer", fontsize=7, loc="lower left")
        self.ax.relim(visible_only=True)
        self.ax.autoscale_view()
        self.view.redraw()
