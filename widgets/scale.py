"""What the per-inference figures mean at deployment scale: kg of CO2 per year.

Example:
    >>> scale = DeploymentScale(per_day=1_000_000)
    >>> scale.co2_g_per_1k = 0.02  # grams per 1,000 inferences, from a Measurement
    >>> round(scale.kg_per_year, 3)
    7.3
"""

from __future__ import annotations

import ipywidgets as w
import traitlets as t

from lab.energy import kg_per_year

from .units import format_grams

__all__ = ["DeploymentScale"]


class DeploymentScale(w.VBox):
    """Inferences per day (log slider, 100 – 10 billion) → kg CO2-eq per year.

    Set ``co2_g_per_1k`` (and optionally ``baseline_co2_g_per_1k``) from measurements;
    read ``kg_per_year``.
    """

    per_day = t.Float(1e6)
    co2_g_per_1k = t.Float(None, allow_none=True)
    baseline_co2_g_per_1k = t.Float(None, allow_none=True)
    kg_per_year = t.Float(None, allow_none=True, read_only=True)

    def __init__(self, per_day: float = 1e6) -> None:
        self.slider = w.FloatLogSlider(
            value=per_day,
            base=10,
            min=2,
            max=10,
            step=0.25,
            readout_format=".3s",
            description="Inferences/day",
            continuous_update=True,
            style={"description_width": "100px"},
            layout={"width": "340px"},
        )
        self.slider.add_class("lab-scale-slider")
        self.summary = w.HTML()
        self.summary.add_class("lab-scale-summary")
        super().__init__([self.slider, self.summary])
        self.add_class("lab-scale")
        t.link((self, "per_day"), (self.slider, "value"))
        self.per_day = per_day
        self._update()

    @t.validate("per_day")
    def _positive(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not value >= 0:  # also catches NaN
            raise t.TraitError(f"inferences per day must be ≥ 0; got {proposal['value']!r}")
        return value

    @t.observe("per_day", "co2_g_per_1k", "baseline_co2_g_per_1k")
    def _update(self, change: dict | None = None) -> None:
        kg = kg_per_year(self.per_day, self.co2_g_per_1k)
        self.set_trait("kg_per_year", kg)
        if kg is None:
            self.summary.value = "CO₂ per year: n/a (energy not measured)"
            return
        text = f"≈ <b>{format_grams(kg * 1000)}</b> CO₂-eq per year"
        base = kg_per_year(self.per_day, self.baseline_co2_g_per_1k)
        if base is not None and base != kg:
            verb = "saves" if base > kg else "adds"
            text += f" ({verb} {format_grams(abs(base - kg) * 1000)} vs uncompressed)"
        self.summary.value = text
