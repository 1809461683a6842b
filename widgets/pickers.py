"""Choosers: which model to compress (:class:`ModelPicker`) and where it runs (:class:`RegionPicker`).

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

from collections.abc import Mapping

import ipywidgets as w
import traitlets as t
from torch import nn

from lab import energy, zoo

__all__ = ["ModelPicker", "RegionPicker"]

_STYLE = {"description_width": "60px"}


class ModelPicker(w.HBox):
    """A dropdown of the zoo's models plus your own ``{"name": module}``.

    ``value`` is the chosen name; :attr:`model` the module (zoo models are loaded
    once; an untrained zoo model is used, with :attr:`warning` set, while its
    checkpoint is missing).
    """

    value = t.Unicode("cnn")
    warning = t.Unicode("")  # e.g. "cnn: showing untrained weights (checkpoint … is missing)"

    def __init__(
        self, value: str = "cnn", user_models: Mapping[str, nn.Module] | None = None
    ) -> None:
        self._user: dict[str, nn.Module] = {}
        self._loaded: dict[str, nn.Module] = {}
        self._failures: dict[str, str] = {}  # zoo name → why its checkpoint did not load
        self.dropdown = w.Dropdown(description="Model", style=_STYLE, layout={"width": "230px"})
        self.dropdown.add_class("lab-model-picker")
        super().__init__([self.dropdown])
        for name, module in (user_models or {}).items():
            self.add_model(name, module, select=False)
        self._refresh()
        self.value = value
        t.link((self, "value"), (self.dropdown, "value"))

    @property
    def options(self) -> list[str]:
        """Every choosable name: zoo models first, then yours."""
        return [*zoo.names(), *self._user]

    def is_zoo(self, name: str) -> bool:
        return name in zoo.names() and name not in self._user

    def add_model(self, name: str, module: nn.Module, select: bool = True) -> None:
        """Offer your own ``module`` under ``name`` (and choose it when ``select``)."""
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"model {name!r} must be a torch.nn.Module, got {type(module).__name__}"
            )
        if name in zoo.names():
            raise ValueError(f"{name!r} is a zoo model's name; pick another name for yours")
        self._user[name] = module
        self._refresh()
        if select:
            self.value = name

    def _refresh(self) -> None:
        labels = [(f"{n} (zoo)", n) for n in zoo.names()] + [
            (f"{n} (yours)", n) for n in self._user
        ]
        with self.dropdown.hold_trait_notifications():
            self.dropdown.options = labels

    @t.validate("value")
    def _check(self, proposal: dict) -> str:
        if proposal["value"] not in self.options:
            raise t.TraitError(
                f"unknown model {proposal['value']!r}; choose one of {', '.join(self.options)}"
            )
        return proposal["value"]

    @property
    def model(self) -> nn.Module:
        """The chosen module (never modified by the lab); zoo models are loaded once."""
        name = self.value
        if name in self._user:
            self.warning = ""
            return self._user[name]
        if name not in self._loaded:
            try:
                self._loaded[name] = zoo.load(name)
            except zoo.CheckpointError as exc:
                self._loaded[name] = zoo.build(name).eval()
                reason = str(exc).splitlines()[0].rstrip(":")
                self._failures[name] = f"{name}: showing untrained weights ({reason})"
        self.warning = self._failures.get(name, "")
        return self._loaded[name]

    def reload(self) -> None:
        """Forget loaded zoo models (e.g. after training a checkpoint), so they load afresh."""
        self._loaded.clear()
        self._failures.clear()


class RegionPicker(w.HBox):
    """Country whose grid prices the energy in CO2, with its carbon intensity shown.

    ``value`` is an ISO 3166 alpha-3 code known to codecarbon; ``intensity`` is its
    grid carbon intensity in g CO2-eq per kWh.
    """

    value = t.Unicode(energy.DEFAULT_COUNTRY)
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
            return energy.validate_country(proposal["value"])
        except ValueError as exc:
            raise t.TraitError(str(exc)) from None

    @t.observe("value")
    def _show_intensity(self, change: dict) -> None:
        self.intensity = energy.carbon_intensity(change["new"])
        self.label.value = (
            f"<span title='grid carbon intensity (codecarbon data)'>"
            f"{self.intensity:,.0f} g CO₂/kWh</span>"
        )
