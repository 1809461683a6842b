"""Choosers: which model to compress (:class:`ModelPicker`), where it runs (:class:`RegionPicker`)
and what judges its quality (:class:`MetricPicker`).

Example:
    >>> import torch
    >>> picker = ModelPicker("cnn", user_models={"mine": torch.nn.Linear(784, 10)})
    >>> picker.options[-1], picker.is_zoo("mine")
    ('mine', False)
    >>> region = RegionPicker("DEU")
    >>> region.value, region.intensity > 0
    ('DEU', True)
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping, Sequence

import ipywidgets as w
import traitlets as t
from torch import nn

from lab.meters import energy
from lab.models import zoo
from widgets.validation import Checked, WidgetValueError, name_list

__all__ = ["MetricPicker", "ModelPicker", "RegionPicker", "last_fit"]

_STYLE = {"description_width": "60px"}


class ModelPicker(w.HBox):
    """A dropdown of the zoo's models, thin (scikit-learn) models and your own ``{"name": module}``.

    ``value`` is the chosen name; :attr:`model` the module or thin model (zoo models are
    loaded once; an untrained zoo model is used, with :attr:`warning` set, while its
    checkpoint is missing; a thin model is fitted on ``data`` on first use, or loaded from
    its cache).

    Args:
        value: the name chosen first.
        user_models: your own ``{"name": module}`` (a ``torch.nn.Module``, a
            :class:`lab.thin.ThinModel` or a fitted scikit-learn classifier).
        zoo_models: offer the zoo (Fashion-MNIST models; off for other data).
        thin_models: names from :data:`lab.thin.THIN_MODELS` to offer.
        data: what the thin models are fitted on (default Fashion-MNIST).
    """

    value = Checked("cnn")  # checked by _check: a name the picker offers
    warning = t.Unicode("")  # e.g. "cnn: showing untrained weights (checkpoint … is missing)"

    def __init__(
        self,
        value: str = "cnn",
        user_models: Mapping[str, object] | None = None,
        *,
        zoo_models: bool = True,
        thin_models: Sequence[str] = (),
        data: object = None,
    ) -> None:
        from lab.models import thin

        thin_models = name_list("thin_models", thin_models, thin.THIN_MODELS)
        if not isinstance(zoo_models, bool):
            raise WidgetValueError(f"zoo_models must be True or False; got {zoo_models!r}")
        if user_models is not None and not isinstance(user_models, Mapping):
            raise WidgetValueError(
                "user_models must be a dict {name: model}, e.g. {'mine': my_module}; got "
                f"{type(user_models).__name__}"
            )
        self._zoo = list(zoo.names()) if zoo_models else []
        self._thin = list(thin_models)
        self._data = data
        self._user: dict[str, object] = {}
        self._loaded: dict[str, object] = {}
        self._lock = threading.Lock()  # a thin model may be fitted from the worker thread
        self._failures: dict[str, str] = {}  # zoo name → why its checkpoint did not load
        self.dropdown = w.Dropdown(  # wide enough for "HistGradientBoostingClassifier (thin)"
            description="Model", style=_STYLE, layout={"width": "340px"}
        )
        self.dropdown.add_class("lab-model-picker")
        super().__init__([self.dropdown])
        for name, module in (user_models or {}).items():
            self.add_model(name, module, select=False)
        self._refresh()
        self.value = value
        t.link((self, "value"), (self.dropdown, "value"))

    @property
    def options(self) -> list[str]:
        """Every choosable name: zoo models first, then thin models, then yours."""
        return [*self._zoo, *self._thin, *self._user]

    def is_zoo(self, name: str) -> bool:
        return name in self._zoo and name not in self._user

    def is_yours(self, name: str) -> bool:
        """Whether ``name`` is one of your own models (not the zoo's, not a thin model's name)."""
        return name in self._user

    def is_thin(self, name: str | None = None) -> bool:
        """Whether ``name`` (default: the chosen one) is a thin (scikit-learn) model."""
        name = self.value if name is None else name
        if name in self._user:
            return not isinstance(self._user[name], nn.Module)
        return name in self._thin

    def add_model(self, name: str, module: object, select: bool = True) -> None:
        """Offer your own ``module`` under ``name`` (and choose it when ``select``)."""
        from lab.evaluation.kinds import is_thin

        if not isinstance(name, str) or not name.strip():
            raise WidgetValueError(
                f"a model's name must be a non-empty string (it labels the picker); got {name!r}"
            )
        if not isinstance(module, nn.Module) and not is_thin(module):
            raise TypeError(
                f"model {name!r} must be a torch.nn.Module, a lab.thin.ThinModel or a fitted "
                f"scikit-learn classifier; got {type(module).__name__}"
            )
        if name in self._zoo or name in self._thin:
            raise ValueError(f"{name!r} is a zoo or thin model's name; pick another name for yours")
        self._user[name] = module
        self._refresh()
        if select:
            self.value = name

    def _refresh(self) -> None:
        labels = (
            [(f"{n} (zoo)", n) for n in self._zoo]
            + [(f"{n} (thin)", n) for n in self._thin]
            + [(f"{n} (yours)", n) for n in self._user]
        )
        with self.dropdown.hold_trait_notifications():
            self.dropdown.options = labels

    @t.validate("value")
    def _check(self, proposal: dict) -> str:
        if not isinstance(proposal["value"], str) or proposal["value"] not in self.options:
            raise WidgetValueError(
                f"unknown model {proposal['value']!r}; choose one of {', '.join(self.options)}"
            )
        return proposal["value"]

    @property
    def model(self) -> object:
        """The chosen module or thin model (never modified by the lab); loaded once."""
        name = self.value
        if name in self._user:
            self.warning = ""
            return self._user[name]
        if name in self._thin:
            from lab.models.thin import fit_thin

            with self._lock:  # fitted once, even if asked from two threads
                if name not in self._loaded:
                    self._loaded[name] = fit_thin(name, data=self._data, progress=False)
            return self._loaded[name]
        if name not in self._loaded:
            try:
                self._loaded[name] = zoo.load(name)
            except zoo.CheckpointError as exc:
                self._loaded[name] = zoo.build(name).eval()
                reason = str(exc).splitlines()[0].rstrip(":")
                self._failures[name] = f"{name}: showing untrained weights ({reason})"
        self.warning = self._failures.get(name, "")
        return self._loaded[name]

    def is_ready(self, name: str | None = None) -> bool:
        """Whether choosing ``name`` (default: the chosen one) costs no fitting: anything but
        a thin model that is neither loaded nor in lab's cache of fitted models."""
        from lab.models import thin

        name = self.value if name is None else name
        if name not in self._thin or name in self._user or name in self._loaded:
            return True
        return thin.model_path(name, data=self._data).is_file()

    def preparing(self, name: str | None = None) -> str:
        """What choosing ``name`` makes the lab do first, for a busy message: ``"fitting SVC
        on 10,000 images of fashion-mnist (took 38 s last time)"``; "" when it is ready."""
        from lab.datasets import as_data
        from lab.models import thin

        name = self.value if name is None else name
        if self.is_ready(name):
            return ""
        data = as_data(self._data)
        n = len(data.split("train"))
        if thin.quick_mode() and n > thin.QUICK_TRAIN_SIZE:
            n = thin.QUICK_TRAIN_SIZE
        noun = "images" if data.kind == "image" else "items"
        text = f"fitting {name} on {n:,} {noun} of {data.name}"
        last = last_fit(name, thin.model_path(name, data=self._data).parent)
        if last is not None:
            seconds, n_last = last
            on = "" if n_last == n else f" on {n_last:,}"
            text += f" (took {seconds:,.0f} s{on} last time)"
        else:
            text += " (first fit here: up to a few minutes)"
        return text

    def reload(self) -> None:
        """Forget loaded zoo models (e.g. after training a checkpoint), so they load afresh."""
        self._loaded.clear()
        self._failures.clear()


def last_fit(name: str, folder: object) -> tuple[float, int] | None:
    """(seconds, training samples) of the newest fit of thin model ``name`` recorded in the
    sidecars of lab's thin-model cache ``folder``; None when it was never fitted there."""
    import json
    from pathlib import Path

    newest: tuple[float, float, int] | None = None
    for sidecar in Path(folder).glob(f"{name}-*.skops.json"):
        try:
            meta = json.loads(sidecar.read_text())
            fit = (float(meta["created"]), float(meta["train_seconds"]), int(meta["n_train"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if newest is None or fit > newest:
            newest = fit
    return None if newest is None else newest[1:]


class RegionPicker(w.HBox):
    """Country whose grid prices the energy in CO2, with its carbon intensity shown.

    ``value`` is an ISO 3166 alpha-3 code known to codecarbon; ``intensity`` is its
    grid carbon intensity in g CO2-eq per kWh.
    """

    value = Checked(energy.DEFAULT_COUNTRY)  # checked by _check: an ISO alpha-3 code
    intensity = t.Float(0.0)

    def __init__(self, value: str = energy.DEFAULT_COUNTRY) -> None:
        names = energy.countries()
        options = sorted(
            ((f"{name} ({code})", code) for code, name in names.items()), key=lambda o: o[0].lower()
        )
        self.dropdown = w.Dropdown(
            options=options, description="Region", style=_STYLE, layout={"width": "260px"}
        )
        self.dropdown.add_class("lab-region-picker")
        self.label = w.HTML()
        self.label.add_class("lab-intensity")
        super().__init__([self.dropdown, self.label])
        self.value = value
        t.link((self, "value"), (self.dropdown, "value"))
        self._show_intensity({"new": self.value})

    @t.validate("value")
    def _check(self, proposal: dict) -> str:
        try:
            if not isinstance(proposal["value"], str):
                raise ValueError(
                    f"country must be an ISO 3166 alpha-3 code such as FRA, USA or IND; got "
                    f"{proposal['value']!r}"
                )
            return energy.validate_country(proposal["value"])
        except ValueError as exc:
            raise WidgetValueError(str(exc)) from None

    @t.observe("value")
    def _show_intensity(self, change: dict) -> None:
        self.intensity = energy.carbon_intensity(change["new"])
        self.label.value = (
            f"<span title='grid carbon intensity (codecarbon data)'>"
            f"{self.intensity:,.0f} g CO₂/kWh</span>"
        )


class MetricPicker(w.HBox):
    """The quality metric models are judged by: the metrics of the data's task only
    (:func:`lab.evaluation.quality.choices`), with the chosen one's unit and direction.

    ``value`` is a metric name; an unknown one, or one of another task, is refused with the
    names allowed for ``task``. Default: accuracy for classification, MAE for regression.

    Example:
        >>> picker = MetricPicker("regression")
        >>> picker.value, picker.dropdown.options[1]
        ('mae', ('RMSE', 'rmse'))
    """

    value = Checked("accuracy")  # checked by _check: a metric of the task

    def __init__(self, task: str = "multiclass", value: str | None = None) -> None:
        from lab.evaluation import quality

        try:
            allowed = quality.choices(task)
        except ValueError as exc:
            raise WidgetValueError(str(exc)) from None
        self.task = task
        value = quality.default_metric(task) if value is None else value
        self.dropdown = w.Dropdown(
            options=[(quality.METRICS[m].title, m) for m in allowed],
            description="Judge by",
            style=_STYLE,
            layout={"width": "230px"},
        )
        self.dropdown.add_class("lab-metric-picker")
        self.label = w.HTML()
        self.label.add_class("lab-metric-direction")
        super().__init__([self.dropdown, self.label])
        self.value = value
        t.link((self, "value"), (self.dropdown, "value"))
        self._describe({"new": self.value})

    @t.validate("value")
    def _check(self, proposal: dict) -> str:
        from lab.evaluation import quality

        try:
            if not isinstance(proposal["value"], str):
                raise ValueError(
                    f"metric must be one of {', '.join(quality.choices(self.task))} for a "
                    f"{self.task} task; got {proposal['value']!r}"
                )
            return quality.check_choice(proposal["value"], self.task).name
        except ValueError as exc:
            raise WidgetValueError(str(exc)) from None

    @t.observe("value")
    def _describe(self, change: dict) -> None:
        from lab.evaluation import quality

        entry = quality.METRICS[change["new"]]
        self.label.value = (
            f"<span title='{html.escape(entry.wording)}'>{html.escape(entry.unit_words)}, "
            f"{entry.direction_words}</span>"
        )
