"""The live efficiency dashboard: move a slider, see accuracy, size, latency, energy and CO₂ change.

One line in a notebook (or a Voilà page)::

    from widgets import Dashboard
    Dashboard(model="cnn")                       # a zoo model
    Dashboard(model=my_module, name="mine")      # your own torch.nn.Module
    Dashboard(model=my_module, data=(X, y))      # … on your own data (see lab.datasets)

Thin (scikit-learn) models are offered beside the zoo in the model picker; where a
technique does not apply (a forest has no weights to prune; tabular data has no pixels to
downsample) its slider is disabled and the reason is shown under the sliders.

How it stays live: every change builds a :class:`~lab.techniques.configs.Recipe` on the
widget thread and hands the evaluation to one background :class:`~widgets.worker.LatestWorker`
(debounced; a fast drag evaluates the latest position only; stale results are dropped,
and an evaluation still running when a newer position arrives is cancelled at its next
check, so the newest position starts evaluating at once).
Results already seen in this session are shown at once; the others come from lab's
result store or are measured (``split="live"``, ``effort="quick"``). "Evaluate on full
test set" measures the current configuration on all 10,000 test images (``effort="full"``).

Example:
    >>> from types import SimpleNamespace as NS
    >>> def fake(model, recipe, **kw):  # any callable with lab.evaluate's signature
    ...     return NS(recipe=recipe.to_json(), label=recipe.describe(), name=kw["name"],
    ...               accuracy=0.9, artifact_bytes=1000, flops=10, latency_ms_p50=1.0,
    ...               energy_kwh_per_1k=1e-6, co2_g_per_1k=1e-4, notes=[], executes_as="fp32",
    ...               threads=1, energy_source="test", carbon_intensity_g_per_kwh=56.0,
    ...               country=kw["country"], split=kw["split"], n_images=2000,
    ...               effort=kw["effort"], cached=False)
    >>> dash = Dashboard(model="mlp", evaluator=fake)
    >>> dash.sparsity.value = 0.5
    >>> dash.wait(10)
    True
    >>> dash.measurement.label, dash.metrics.texts["accuracy"]
    ('prune 50% unstructured', '90.0 %')
    >>> dash.close()
"""

from __future__ import annotations

import html
import inspect
import math
import numbers
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import ipywidgets as w
import traitlets as t
from torch import nn

from lab.evaluation.kinds import Capabilities, capabilities
from lab.meters import energy, machine
from lab.models import zoo
from lab.techniques.configs import Recipe
from widgets.validation import WidgetValueError, name_list

from .device_panel import DevicePanel
from .metrics import MetricsPanel, cost_verdict, runtime_change
from .pareto_plot import ParetoPlot
from .pickers import MetricPicker, ModelPicker, RegionPicker
from .recommendation import RecommendationView
from .scale import DeploymentScale
from .sensitivity import SensitivityView
from .sliders import BitWidthSlider, ResolutionSlider, SparsitySlider
from .status import StatusLine
from .worker import LatestWorker

__all__ = ["NOT_OFFERED", "Dashboard", "offered_thin_models"]

# Thin models the picker leaves out by default, with the reason: a visitor of the app cannot
# act on an error, so what cannot be measured is not offered.
# (SVC was left out while its pipeline's input width was read from its last stage; the one
# pipeline reads the Pipeline's own, and SVC is measured end to end again.)
NOT_OFFERED: dict[str, str] = {}


def offered_thin_models(task: str = "multiclass") -> tuple[str, ...]:
    """The thin models a dashboard offers by default for ``task``: those of
    :func:`lab.thin.thin_names` (classifiers, or regressors) without :data:`NOT_OFFERED`
    (each offered one is measured end to end on image and tabular data in
    ``tests/test_screen_story.py``)."""
    from lab.models import thin

    return tuple(name for name in thin.thin_names(task) if name not in NOT_OFFERED)


LIVE = ("live", "quick")  # (split, effort) while sliding
SHOW_S = 0.05  # seconds a first look leaves the panel to show it in (of its 1 s budget)
# freed memory goes back to the OS once no evaluation has run for this long (it takes ~100 ms
# and holds Python's lock: done inside an evaluation it delayed that move's figures)
TRIM_WHEN_IDLE_S = 2.0
FULL = ("test", "full")  # "Evaluate on full test set"


@dataclass(frozen=True)
class _Request:
    model_key: str
    name: str
    recipe: Recipe
    split: str
    effort: str
    country: str

    def key(self, recipe: Recipe | None = None) -> _MemoKey:
        """What makes two evaluations the same here (not the country: it only re-prices)."""
        recipe = self.recipe if recipe is None else recipe
        return _MemoKey(self.model_key, recipe.to_json(), self.split, self.effort)


class _MemoKey(NamedTuple):
    model_key: str
    recipe: str
    split: str
    effort: str


def _priced(measurement: Any, country: str) -> Any:
    """``measurement``'s CO₂ at ``country``'s grid, its energy unchanged (lab's Measurements),
    or None when it is another country's and cannot be re-priced (a custom evaluator's
    result: it is evaluated again)."""
    if measurement is None or getattr(measurement, "country", country) == country:
        return measurement
    priced = getattr(measurement, "priced", None)
    return None if priced is None else priced(country)


@dataclass(frozen=True)
class _Outcome:
    request: _Request
    baseline: Any
    measurement: Any
    seconds: float


def _default_evaluator(model: nn.Module, recipe: Recipe, **kwargs: Any) -> Any:
    from lab.evaluation.measure import evaluate

    return evaluate(model, recipe, **kwargs)


_CONTROL_NAMES = {"sparsity": "pruning", "bits": "quantization", "resolution": "resolution"}


def _unavailable_html(problems: Mapping[str, str]) -> str:
    """Why controls are disabled, each reason once ("pruning, quantization: not available —
    …" when two share it)."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in problems.items():
        by_reason.setdefault(reason, []).append(key)
    return "".join(
        f"<div class='{' '.join(f'lab-unavailable-{k}' for k in keys)}'>"
        f"{', '.join(_CONTROL_NAMES[k] for k in keys)}: not available — {html.escape(reason)}"
        "</div>"
        for reason, keys in by_reason.items()
    )


def _accepts(evaluator: Callable[..., Any], keyword: str) -> bool:
    """Whether ``evaluator`` takes ``keyword`` (named, or through ``**kwargs``)."""
    try:
        parameters = inspect.signature(evaluator).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _rehearse(model: nn.Module, data: Any, cancel: threading.Event) -> None:
    """One move's measurements on a throw-away recipe and store (see ``Dashboard.warm_up``)."""
    import tempfile
    from pathlib import Path

    from lab.evaluation import measure
    from lab.io.store import ResultStore
    from lab.techniques.configs import PruneConfig, QuantConfig

    recipes = (  # 8 bits runs as int8 (its own conversion and kernels), fewer bits as fp32
        Recipe(prune=PruneConfig(0.01), quant=QuantConfig(bits=8)),
        Recipe(prune=PruneConfig(0.01), quant=QuantConfig(bits=7)),
    )
    with tempfile.TemporaryDirectory(prefix="lab-warm-up-") as folder:
        store = ResultStore(Path(folder) / "warm-up.sqlite")
        for recipe in recipes:
            evaluation = measure.Evaluation(model, recipe, effort="quick", store=store, data=data)
            evaluation.first_look(cancel=cancel)
            evaluation.final(cancel)


class Dashboard(w.VBox):
    """Sliders for pruning, quantization and resolution around one model, with live metrics.

    Args:
        model: a zoo name (``"cnn"``, ``"teacher"``, ``"mobile"``, ``"mlp"``), a thin model's
            name (``"LogisticRegression"``…), your own ``torch.nn.Module`` (or a fitted
            scikit-learn classifier), or ``{"name": module, ...}``.
        name: the label of your module (default ``"my model"``).
        data: the data to measure on (anything :func:`lab.datasets.as_data` accepts);
            default Fashion-MNIST. With other data the zoo is not offered (its models are
            Fashion-MNIST models): pass your own model.
        thin_models: thin models to offer (names from :data:`lab.thin.THIN_MODELS`; default
            :func:`offered_thin_models`, fitted on ``data`` when first chosen).
        country: ISO alpha-3 code of the grid pricing the energy in CO₂.
        evaluator: replaces :func:`lab.measure.evaluate` (same signature), e.g. in tests.
            If it takes ``cancel`` (or ``**kwargs``) it gets a ``threading.Event`` that is set
            when a newer request supersedes the evaluation.
        store: lab :class:`~lab.store.ResultStore` for the results (default: lab's default store).
        debounce: seconds a burst of changes must be quiet before its last one is evaluated.
        metric: the quality metric the panel, the plot and the recommendation show (one of
            :func:`lab.evaluation.quality.choices` for the data's task; the picker offers
            those only); default accuracy for classification, MAE for regression.
        progressive: show a first look before the final figures of a configuration that must
            be measured (exact bytes and FLOPs, accuracy on up to 500 live images, as many as
            one second allows, with its 95 %
            interval, marked preliminary), then the final ones (all 2,000 images, timings,
            energy, CO₂), through :class:`lab.measure.Evaluation`. Default: on with lab's
            evaluator, off with a custom ``evaluator``.

    Public state (traitlets): ``measurement`` and ``baseline`` (what the panel shows),
    ``busy``, ``error``, ``evaluations`` (evaluator calls so far).
    """

    measurement = t.Any(None)
    baseline = t.Any(None)
    preliminary = t.Any(None)  # the last first look shown (before its final figures)
    busy = t.Bool(False)
    error = t.Unicode("")
    evaluations = t.Int(0)

    def __init__(
        self,
        model: str | nn.Module | Mapping[str, nn.Module] = "cnn",
        name: str | None = None,
        country: str = energy.DEFAULT_COUNTRY,
        evaluator: Callable[..., Any] | None = None,
        *,
        data: Any = None,
        thin_models: Sequence[str] | None = None,
        store: Any = None,
        debounce: float = 0.05,
        progressive: bool | None = None,
        metric: str | None = None,
    ) -> None:
        from lab.datasets import as_data

        self.data = as_data(data)
        self.metric_picker = MetricPicker(self.data.task, metric)  # refuses another task's
        if isinstance(debounce, bool) or not isinstance(debounce, numbers.Real):
            raise WidgetValueError(f"debounce must be a number of seconds ≥ 0; got {debounce!r}")
        if not 0 <= float(debounce) < math.inf:
            raise WidgetValueError(f"debounce must be a number of seconds ≥ 0; got {debounce!r}")
        if progressive is not None and not isinstance(progressive, bool):
            raise WidgetValueError(f"progressive must be True, False or None; got {progressive!r}")
        if evaluator is not None and not callable(evaluator):
            raise WidgetValueError(f"evaluator must be callable or None; got {evaluator!r}")
        from lab.io.store import ResultStore

        if store is not None and not isinstance(store, ResultStore):
            raise WidgetValueError(
                "store must be a lab.io.store.ResultStore (e.g. ResultStore('results.sqlite')) "
                f"or None for the lab's store; got {type(store).__name__}"
            )
        self._evaluator = evaluator or _default_evaluator
        self._cancellable = _accepts(self._evaluator, "cancel")
        self._store = store
        # progressive: lab's Evaluation (a custom evaluator is called for final figures only)
        self.progressive = evaluator is None if progressive is None else bool(progressive)
        self._full_running: _Request | None = None  # a full test-set request not yet shown
        self._dropped_note = ""  # said until the next change: a full evaluation was stopped
        self._trim_timer: threading.Timer | None = None
        self._memo: dict[_MemoKey, Any] = {}  # _Request.key() → measurement, this session
        self._memo_lock = threading.Lock()
        self.last_outcome: _Outcome | None = None

        if thin_models is None:
            thin_models = list(offered_thin_models(self.data.task))
        else:
            from lab.models import thin

            thin_models = name_list("thin_models", thin_models, thin.THIN_MODELS)
        user, first = self._user_models(model, name)
        if not zoo.fits(self.data) and first not in user and first not in thin_models:
            raise ValueError(
                f"the zoo's models are Fashion-MNIST models; on {self.data.name!r} pass your "
                "own model (a torch.nn.Module, e.g. lab.families.train('mlp-s', data)[0]) "
                f"or a thin model's name ({', '.join(thin_models)})"
            )
        self.model_picker = ModelPicker(
            first,
            user_models=user,
            zoo_models=zoo.fits(self.data),
            thin_models=thin_models,
            data=self.data,
        )
        self.region = RegionPicker(country)
        # the thread starts once the arguments are known to be good (a refused call leaves none)
        self._worker = LatestWorker(debounce=float(debounce))
        self.sparsity = SparsitySlider()
        self.bits = BitWidthSlider()
        self.resolution = ResolutionSlider()
        self.unavailable = w.HTML()  # why a disabled slider does not apply
        self.unavailable.add_class("lab-unavailable")
        self._problems: dict[str, str] = {}  # control → reason it is disabled
        self.full_button = w.Button(
            description="Evaluate on full test set",
            tooltip="10,000 test images, 100 latency samples",
            layout={"width": "220px"},
        )
        self.full_button.add_class("lab-full-button")
        self.scale = DeploymentScale()
        self.device = DevicePanel()  # re-reads the shown measurement: never evaluates
        self.metrics = MetricsPanel(item="image" if self.data.kind == "image" else "item")
        self.metrics.metric = self.metric_picker.value
        # an image drawn in the kernel: it reaches the page with the panel, not a round trip later
        self.pareto = ParetoPlot(interactive=False, metric=self.metric_picker.value)
        self.sensitivity = SensitivityView(self._torch_model, data=self.data)
        # redrawn after every move: an ipympl canvas would cost a PNG render in the kernel each
        # time (its page asks for one even while the accordion is closed)
        self.recommendation = RecommendationView(
            [], split=LIVE[0], interactive=False, task=self.data.task,
            metric=self.metric_picker.value,
        )  # fmt: skip
        self.status = StatusLine()
        super().__init__(self._layout(), layout={"padding": "4px"})
        self.add_class("lab-dashboard")

        for slider, names in (
            (self.sparsity, ["value", "structure"]),
            (self.bits, ["value", "granularity"]),
            (self.resolution, ["value"]),
        ):
            slider.observe(lambda _: self.refresh(), names=names)
        self.region.observe(self._region_changed, names="value")
        self.model_picker.observe(self._model_changed, names="value")
        self.metric_picker.observe(self._metric_changed, names="value")
        self.full_button.on_click(lambda _: self.evaluate_full())
        t.link((self.status, "busy"), (self, "busy"))
        t.link((self.status, "error"), (self, "error"))
        t.dlink((self.model_picker, "warning"), (self.status, "warning"))
        self.status.warning = self.model_picker.warning
        self._fit_controls()
        self.refresh()

    # ---------------------------------------------------------------- public API
    @property
    def recipe(self) -> Recipe:
        """The configuration the enabled sliders show (raises ValueError for an invalid one)."""
        parts = {
            "prune": None if "sparsity" in self._problems else self.sparsity.config,
            "quant": None if "bits" in self._problems else self.bits.config,
            "resolution": None if "resolution" in self._problems else self.resolution.config,
        }
        return self.data.canonical(Recipe(**parts))

    @property
    def problems(self) -> dict[str, str]:
        """Disabled controls (``sparsity``, ``bits``, ``resolution``) → why they do not apply."""
        return dict(self._problems)

    def refresh(self, split: str = LIVE[0], effort: str = LIVE[1]) -> None:
        """Evaluate the sliders' configuration (in the background unless already known)."""
        try:
            request = _Request(
                self._model_key(),
                self.model_picker.value,
                self.recipe,
                split,
                effort,
                self.region.value,
            )
        except ValueError as exc:
            self.status.show_error(f"Invalid configuration: {exc}")
            return
        dropped = self._full_running
        self._full_running = request if (split, effort) == FULL else None
        self._dropped_note = ""
        if dropped is not None and dropped != request and self._worker.busy:
            self._dropped_note = (
                f"the full test-set evaluation of “{dropped.recipe.describe()}” was stopped by "
                "your change: press “Evaluate on full test set” again to finish it"
            )
            self.status.show_message(self._dropped_note)
        with self._memo_lock:  # a region change re-prices what is known (never re-measures)
            baseline = _priced(self._memo.get(request.key(Recipe())), request.country)
            measurement = _priced(self._memo.get(request.key()), request.country)
        if baseline is not None and measurement is not None:
            with self._worker.deliver_lock:  # newest wins: drop whatever the worker is doing
                self._worker.invalidate()
                self._show(_Outcome(request, baseline, measurement, 0.0))
            return
        picker = self.model_picker
        model = None if picker.is_thin() else picker.model  # a thin model may need fitting:
        plan = picker.preparing() if model is None else ""  # that happens in the worker
        self.status.busy_text = plan or self._waiting_for(split, effort)
        self.status.busy = True
        cancel = threading.Event()
        self._worker.submit(
            lambda: self._evaluate(
                model if model is not None else self._prepared(), request, cancel
            ),
            self._show,
            self._failed,
            cancel=cancel,
        )

    def warm_up(self, timeout: float | None = 300) -> None:
        """Make the first slider move as fast as the later ones: once the current figures are
        shown, measure two throw-away configurations (pruning + 8-bit, + 7-bit) in the background,
        through the whole path of a move (apply, first look, final figures), into a temporary
        store; nothing is shown or kept. A fresh process pays one-off costs on its first
        measured move (the energy tracker, the first convolutions of each shape, freed memory
        faulted back in): a preheated Voilà kernel calls this before its visitor arrives
        (``notebooks/app.ipynb``). A slider move cancels it at its next check.
        Does nothing for a thin model or with a custom evaluator.
        """
        if self._evaluator is not _default_evaluator or self._problems.get("bits"):
            return
        self.wait(timeout)  # a newer request would cancel the current figures' evaluation
        cancel = threading.Event()
        model, data = self._torch_model(), self.data
        self._worker.submit(
            lambda: _rehearse(model, data, cancel), lambda _: None, lambda _: None, cancel=cancel
        )

    def evaluate_full(self) -> None:
        """Measure the current configuration on the full test set (10,000 images, effort "full")."""
        self.refresh(*FULL)

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until no evaluation is pending or running (for scripts and tests)."""
        return self._worker.wait_idle(timeout)

    @property
    def history(self) -> list[Any]:
        """Every measurement made or fetched in this session, oldest first."""
        with self._memo_lock:
            return list(self._memo.values())

    @property
    def worker(self) -> LatestWorker:
        """The background worker (``runs`` and ``dropped`` count jobs)."""
        return self._worker

    def close(self) -> None:
        timer = getattr(self, "_trim_timer", None)  # absent when __init__ refused its arguments
        if timer is not None:
            timer.cancel()
        for part in (getattr(self, "_worker", None), getattr(self, "device", None)):
            if part is not None:
                part.close()
        super().close()

    # ---------------------------------------------------------------- internals
    @staticmethod
    def _user_models(model: Any, name: str | None) -> tuple[dict[str, Any], str]:
        from lab.evaluation.kinds import is_thin

        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise WidgetValueError(
                f"name must be a non-empty string (the label of your model) or None; got {name!r}"
            )
        if isinstance(model, str):
            return {}, model
        if isinstance(model, nn.Module) or is_thin(model):
            user = {name or "my model": model}
        elif isinstance(model, Mapping):
            user = dict(model)
        else:
            raise TypeError(
                f"model must be a zoo or thin model's name, a torch.nn.Module, a fitted "
                f"scikit-learn classifier or a dict of them; got {type(model).__name__}"
            )
        if not user:
            raise WidgetValueError(
                "model={} holds no model: pass a zoo or thin model's name, a module, or a dict "
                "{name: module} with at least one entry"
            )
        return user, next(iter(user))

    def _model_key(self) -> str:
        picker = self.model_picker
        if picker.is_thin() and not picker.is_yours(picker.value):
            # one fit per picker, made on the worker thread (asking for .model here would fit
            # it on the widget thread: minutes of a frozen page with no busy sign)
            return f"{picker.value}#thin"
        return f"{picker.value}#{id(picker.model)}"

    def _layout(self) -> list[w.Widget]:
        controls = w.VBox(
            [
                w.HTML("<b>Compress</b> (move right to compress more)"),
                self.sparsity,
                self.bits,
                self.resolution,
                self.unavailable,
                self.full_button,
                w.HTML("<b>At deployment scale</b>"),
                self.scale,
                w.HTML("<b>On a device</b>"),
                self.device,
            ],
            layout={"width": "500px"},  # beside the 430 px panel down to a ~1,000 px window
        )
        scan = w.Accordion(
            [self.sensitivity],
            titles=("Per-layer pruning sensitivity",),
            selected_index=None,
            layout={"width": "580px"},
        )
        row = {"flex_flow": "row wrap", "grid_gap": "8px 12px", "align_items": "flex-start"}
        advice = w.Accordion(
            [self.recommendation],
            titles=("The most efficient model that is good enough (every model tried)",),
            selected_index=None,
            layout={"width": "1160px", "max_width": "100%"},
        )
        return [
            w.HBox(
                [self.model_picker, self.region, self.metric_picker],
                layout={"flex_flow": "row wrap"},
            ),
            self.status,
            w.HBox([controls, self.metrics], layout=row),
            w.HBox([self.pareto, scan], layout=row),
            advice,
        ]

    def _evaluate(
        self, model: nn.Module, request: _Request, cancel: threading.Event | None = None
    ) -> _Outcome:
        started = time.perf_counter()
        baseline = self._measure(model, request, Recipe(), cancel)
        if request.recipe.is_identity:
            measurement = baseline
        else:  # a thin model with a torch form is compressed as that form
            runnable = model if isinstance(model, nn.Module) else model.to_torch()
            first = self._first_look(runnable, request, baseline, started, cancel)
            measurement = self._measure(runnable, request, cancel=cancel, first=first)
        if not getattr(measurement, "cached", True) or not getattr(baseline, "cached", True):
            self._release_memory_when_idle()
        return _Outcome(request, baseline, measurement, time.perf_counter() - started)

    def _waiting_for(self, split: str, effort: str) -> str:
        """The busy text of an evaluation: a full test-set one says how long the last took."""
        if (split, effort) != FULL:
            return "evaluating"
        n = len(self.data.split(split))
        noun = "images" if self.data.kind == "image" else "items"
        last = self._full_seconds
        took = f"; the last took {last:,.0f} s" if last is not None else ""
        return f"evaluating on the full test set ({n:,} {noun}{took})"

    _full_seconds: float | None = None  # how long the last full test-set evaluation took

    def _prepared(self) -> Any:
        """The chosen thin model, fitted (or loaded) on the worker thread; then "evaluating"."""
        model = self.model_picker.model
        if self.status.busy_text.startswith("fitting"):
            self.status.busy_text = "evaluating"
        return model

    def _release_memory_when_idle(self) -> None:
        """Give freed heap pages back to the OS (a long-lived kernel's memory only grows
        otherwise) once no evaluation has run for :data:`TRIM_WHEN_IDLE_S` seconds: it takes
        ~100 ms with Python's lock held (a garbage collection, then ``malloc_trim``), so it
        must not run while a move is being measured. Each evaluation restarts the wait."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
        self._trim_timer = threading.Timer(TRIM_WHEN_IDLE_S, self._release_memory_if_idle)
        self._trim_timer.name, self._trim_timer.daemon = "lab-trim", True
        self._trim_timer.start()

    def _release_memory_if_idle(self) -> None:
        if self._worker.busy:  # a move came in meanwhile: its evaluation restarts the wait
            return
        machine.release_memory()

    def _first_look(
        self,
        model: nn.Module,
        request: _Request,
        baseline: Any,
        started: float,
        cancel: threading.Event | None,
    ) -> Any:
        """Show a preliminary result first (exact bytes and FLOPs, accuracy on part of the live
        images with its interval) when the final one must be measured; returns the applied
        the :class:`lab.measure.Evaluation` to finish (None when nothing was previewed): its
        final pass runs only the live images the first look did not see."""
        from lab.evaluation import measure

        if not self.progressive:
            return None
        if (request.split, request.effort) != LIVE:
            return None
        with self._memo_lock:
            if request.key() in self._memo:
                return None
        evaluation = measure.Evaluation(
            model,
            request.recipe,
            split=request.split,
            country=request.country,
            effort=request.effort,
            store=self._store,
            data=self.data,
            name=request.name,
        )
        if evaluation.cached() is not None:
            return None
        # the budget counts from the request, not from here (the model's hash and the store
        # lookup are part of the wait too), and leaves the panel time to show the result
        spent = time.perf_counter() - started + SHOW_S
        first = evaluation.first_look(
            cancel=cancel, budget_s=max(0.0, measure.FIRST_LOOK_BUDGET_S - spent)
        )
        outcome = _Outcome(request, baseline, first, time.perf_counter() - started)
        with self._worker.deliver_lock:  # shown only while this request is the newest
            if cancel is None or not cancel.is_set():
                self._show(outcome, final=False)
        return evaluation

    def _measure(
        self,
        model: nn.Module,
        request: _Request,
        recipe: Recipe | None = None,
        cancel: threading.Event | None = None,
        first: Any = None,
    ) -> Any:
        recipe = request.recipe if recipe is None else recipe
        key = request.key(recipe)
        with self._memo_lock:
            known = self._memo.get(key)
        if (priced := _priced(known, request.country)) is not None:
            return priced
        self.evaluations += 1
        extra = {"cancel": cancel} if self._cancellable and cancel is not None else {}
        extra["data"] = self.data
        if first is not None:  # an Evaluation after its first look: applied once, the rest run
            result = first.final(cancel)
        else:
            result = self._evaluator(
                model,
                recipe,
                split=request.split,
                country=request.country,
                name=request.name,
                effort=request.effort,
                store=self._store,
                **extra,
            )
        with self._memo_lock:
            self._memo[key] = result
        return result

    def _evaluated_like(self, request: _Request) -> list[Any]:
        """Every other measurement of this session for the same model, split and effort,
        priced at the request's country."""
        with self._memo_lock:
            priced = [
                _priced(m, request.country)
                for key, m in self._memo.items()
                if (key.model_key, key.split, key.effort)
                == (request.model_key, request.split, request.effort)
                and key != request.key()
            ]
            return [m for m in priced if m is not None]

    def _show(self, outcome: _Outcome, final: bool = True) -> None:
        base, current = outcome.baseline, outcome.measurement
        live = (outcome.request.split, outcome.request.effort) == LIVE
        if not final:  # a first look: the panel only; the plot and the rest follow
            self.metrics.show(current, base)
            self.scale.measuring = True  # no CO₂ figure of the previous configuration meanwhile
            self.status.show_message(
                f"{current.label} · first look in {outcome.seconds:.2f} s "
                f"(accuracy on {current.n_images:,} images) · measuring the rest…"
                + (f" · {self._dropped_note}" if self._dropped_note else "")
            )
            self.preliminary = current
            self.device.measurement = current  # its figures so far, or what it waits for
            return
        with self.scale.hold_trait_notifications():
            self.scale.measuring = False
            self.scale.co2_g_per_1k = current.co2_g_per_1k
            self.scale.baseline_co2_g_per_1k = base.co2_g_per_1k
            self.scale.within_noise = cost_verdict("co2", base, current) != "real"
            self.scale.runtime_change = runtime_change(base, current) or ""
        if live:  # every configuration evaluated so far (a drag's skipped results too)
            others = self._evaluated_like(outcome.request)
            self.pareto.add(*others, current)  # drawn first: the panel follows in the same beat
        self.metrics.show(current, base)
        where = "live split" if live else "full test set"
        how = (
            "from cache"
            if outcome.seconds == 0 or getattr(current, "cached", False)
            else f"measured in {outcome.seconds:.2f} s"
        )
        self.status.show_message(
            f"{current.label} · {where} · {how}"
            + (f" · {self._dropped_note}" if self._dropped_note else "")
        )
        self.status.busy = False
        if live:
            self._recommend()
        self._full_running = None if not live else self._full_running
        if not live and outcome.seconds > 0:
            self._full_seconds = outcome.seconds
        self.baseline, self.measurement = base, current
        self.device.measurement = current
        self.last_outcome = outcome

    def _failed(self, exc: BaseException) -> None:
        from lab.evaluation.measure import Cancelled

        if isinstance(exc, Cancelled):  # stopped on purpose (e.g. on close): not an error
            self.status.busy = False
            return
        self.status.show_error(f"Could not evaluate “{self._describe()}”: {exc}")

    def _describe(self) -> str:
        try:
            return self.recipe.describe()
        except ValueError:
            return "this configuration"

    def _region_changed(self, change: dict) -> None:
        with self._worker.deliver_lock:  # the plot is also updated from the worker thread
            self.pareto.clear()
        self.refresh()

    def _model_changed(self, change: dict) -> None:
        name, plan = self.model_picker.value, self.model_picker.preparing()
        with self._worker.deliver_lock:  # nothing of the previous model stays on screen
            self.pareto.clear(waiting=f"{name}: {plan}…" if plan else "")
            self.device.measurement = None  # no figure of the previous model meanwhile
            self.status.error = ""
            if plan:
                self.metrics.wait_for(name, plan)
                self.scale.measuring = True
        self._fit_controls()
        self.sensitivity.model = self._torch_model
        self.refresh()

    def _metric_changed(self, change: dict) -> None:
        """The panel, the plot and the recommendation in the chosen metric (nothing is
        measured again: every metric comes from the per-item results already measured)."""
        with self._worker.deliver_lock:  # the views are also updated from the worker thread
            self.metrics.metric = change["new"]
            self.pareto.metric = change["new"]
            self.recommendation.metric.value = change["new"]

    def _recommend(self) -> None:
        """Every model and configuration measured on the live split, for the recommendation."""
        with self._memo_lock:
            measured = [
                m
                for key, known in self._memo.items()
                if (key.split, key.effort) == LIVE
                and (m := _priced(known, self.region.value)) is not None
            ]
        unique = {(m.name, m.recipe): m for m in measured}
        self.recommendation.set_results(list(unique.values()))

    def _torch_model(self) -> nn.Module:
        """The chosen model as a torch module (the sensitivity scan needs weights)."""
        model = self.model_picker.model
        if isinstance(model, nn.Module):
            return model
        return model.to_torch()

    def _capabilities(self) -> Capabilities:
        """Which knobs apply to the chosen model on this data (a thin model of lab's
        registry is answered by name, without fitting it)."""
        picker = self.model_picker
        if picker.is_thin() and not picker.is_yours(picker.value):
            return capabilities(picker.value, self.data)
        return capabilities(picker.model, self.data)

    def _fit_controls(self) -> None:
        """Offer what applies to the chosen model and data; disable the rest, saying why."""
        offered = self._capabilities()
        problems = dict(offered.problems)
        sizes = offered.sizes or (ResolutionSlider.value.default_value,)  # unused: disabled
        self.resolution.set_sizes(sizes)
        self._problems = problems
        for key in ("sparsity", "bits", "resolution"):
            getattr(self, key).set_enabled(key not in problems)
        self.unavailable.value = _unavailable_html(problems)
