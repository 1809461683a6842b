"""What the per-inference figures mean at deployment scale: kg of CO2 per year.

Inferences per day come from a log slider or are typed ("5000", "1e6", "1,000,000", "2M");
a typed value outside the slider's range, or not a number, is refused with a message.

Example:
    >>> scale = DeploymentScale(per_day=1_000_000)
    >>> scale.co2_g_per_1k = 0.02  # grams per 1,000 inferences, from a Measurement
    >>> round(scale.kg_per_year, 3)
    7.3
    >>> scale.entry.value = "5000"  # typed into the box
    >>> scale.per_day, scale.entry.value
    (5000.0, '5,000')
    >>> scale.entry.value = "-5"
    >>> scale.per_day, scale.error
    (5000.0, "Inferences per day must be a number from 100 to 10 billion (e.g. 5000, 1e6, 1,000,000 or 2M); got '-5'")
"""

from __future__ import annotations

import html
import math
import numbers

import ipywidgets as w
import traitlets as t

from lab.meters.energy import kg_per_year
from widgets.validation import Checked, WidgetValueError

from .aria import SliderAria
from .status import render_feedback
from .units import format_count, format_grams, parse_count

__all__ = ["DeploymentScale"]


class DeploymentScale(w.VBox):
    """Inferences per day (log slider or typed, 100 – 10 billion) → kg CO2-eq per year.

    Set ``co2_g_per_1k`` (and optionally ``baseline_co2_g_per_1k``) from measurements;
    read ``kg_per_year``. ``error`` says why the last typed value was refused ("" if it was
    accepted); the same text is shown under the slider.
    """

    LOG_RANGE = (2, 10)  # 10**2 to 10**10 inferences per day
    per_day = Checked(1e6)  # checked by _positive (a str is refused there, in its words)
    co2_g_per_1k = t.Float(None, allow_none=True)
    baseline_co2_g_per_1k = t.Float(None, allow_none=True)
    within_noise = t.Bool(False)  # the CO₂ change vs the baseline is measurement noise
    runtime_change = t.Unicode("")  # e.g. "scikit-learn → torch": not the technique's alone
    measuring = t.Bool(False)  # the figures are on their way (nothing stale is shown meanwhile)
    kg_per_year = t.Float(None, allow_none=True, read_only=True)
    error = t.Unicode("")

    def __init__(self, per_day: float = 1e6) -> None:
        real = isinstance(per_day, numbers.Real) and not isinstance(per_day, bool)
        if not (real and 10 ** self.LOG_RANGE[0] <= float(per_day) <= 10 ** self.LOG_RANGE[1]):
            raise WidgetValueError(
                f"per_day (inferences per day) must be a number from "
                f"{format_count(10 ** self.LOG_RANGE[0])} to "
                f"{format_count(10 ** self.LOG_RANGE[1])}; got {per_day!r}"
            )
        self._writing = False  # True while the widget itself rewrites the box
        self.slider = w.FloatLogSlider(
            value=per_day,
            base=10,
            min=self.LOG_RANGE[0],
            max=self.LOG_RANGE[1],
            step=0.25,
            readout=False,  # its editable readout snaps 5000 to 5.62k and -5 or 0 to 100
            description="Inferences/day",
            continuous_update=True,
            style={"description_width": "100px"},
            layout={"width": "290px"},
        )
        self.slider.add_class("lab-scale-slider")
        self.entry = w.Text(
            continuous_update=False,  # parse on Enter or when the box loses focus
            layout={"width": "120px"},
            tooltip=f"Type a number from {format_count(self._low)} to {format_count(self._high)}"
            " (5000, 1e6, 1,000,000 or 2M)",
        )
        self.entry.add_class("lab-scale-entry")
        self.feedback = w.HTML("", layout={"display": "none"})
        self.feedback.add_class("lab-scale-message")
        self.summary = w.HTML()
        self.summary.add_class("lab-scale-summary")
        # a screen reader hears "1,000,000 per day", not the exponent 6; a typed 5000 is said
        # as typed at the position the page snaps it to (10^3.75)
        self.aria = SliderAria(self.slider, "lab-scale-slider", self._aria_text, self._aria_now)
        super().__init__(
            [w.HBox([self.slider, self.entry]), self.feedback, self.summary, self.aria]
        )
        self.add_class("lab-scale")
        # not linked both ways: the page's slider snaps a typed 5000 to its step (10^3.75 =
        # 5,623) and sends that back; a position within half a step of per_day is that echo
        self.per_day = per_day
        self.slider.value = per_day
        self.slider.observe(self._dragged, names="value")
        self.entry.observe(self._typed, names="value")
        self._show()
        self._update()

    @property
    def _low(self) -> float:
        return self.slider.base**self.slider.min

    @property
    def _high(self) -> float:
        return self.slider.base**self.slider.max

    @t.validate("per_day")
    def _positive(self, proposal: dict) -> float:
        """A number within the slider's range (a value outside it is refused, not clamped)."""
        value = proposal["value"]
        low, high = self._low, self._high
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (real and low <= float(value) <= high):  # also catches NaN
            raise WidgetValueError(
                f"per_day (inferences per day) must be a number from {format_count(low)} to "
                f"{format_count(high)}; got {value!r}"
            )
        return float(value)

    def _dragged(self, change: dict) -> None:
        new = change["new"]
        if new > 0 and self.per_day > 0:
            half_step = self.slider.step / 2 * (1 - 1e-9)
            if abs(math.log10(new) - math.log10(self.per_day)) <= half_step:
                return  # the page snapping our own value to its step: keep ours
        self.per_day = new

    def _typed(self, change: dict) -> None:
        if self._writing:
            return
        try:
            value = parse_count(change["new"], self._low, self._high, name="Inferences per day")
        except ValueError as exc:
            self.error = str(exc)
            self._show()
            render_feedback(self.feedback, error=self.error)
            return
        self.per_day = value
        self.error = ""
        self._show()
        render_feedback(self.feedback)

    def _at_position(self, value: float) -> float:
        """What the slider stands for at ``value`` (one of its positions): ``per_day`` where
        the page shows it (the position it snaps to), else the position's own number."""
        low, step = self.slider.min, self.slider.step
        position = round((math.log10(value) - low) / step)
        if position == round((math.log10(self.per_day) - low) / step):
            return self.per_day
        return value

    def _aria_now(self, value: float) -> float:
        return round(self._at_position(value))

    def _aria_text(self, value: float) -> str:
        return f"{format_count(self._at_position(value))} per day"

    def _show(self) -> None:
        self._writing = True
        try:
            self.entry.value = format_count(self.per_day)
        finally:
            self._writing = False

    @t.observe(
        "per_day",
        "co2_g_per_1k",
        "baseline_co2_g_per_1k",
        "within_noise",
        "runtime_change",
        "measuring",
    )
    def _update(self, change: dict | None = None) -> None:
        if change is not None and change["name"] == "per_day":
            if self.slider.value != self.per_day:
                self.slider.value = self.per_day
            self.error = ""
            render_feedback(self.feedback)
            self._show()
            if hasattr(self, "aria"):
                self.aria.refresh()
        kg = None if self.measuring else kg_per_year(self.per_day, self.co2_g_per_1k)
        self.set_trait("kg_per_year", kg)
        if self.measuring:
            self.summary.value = "CO₂ per year: measuring…"
            return
        if kg is None:
            self.summary.value = "CO₂ per year: n/a (energy not measured)"
            return
        text = f"≈ <b>{format_grams(kg * 1000)}</b> CO₂-eq per year"
        base = kg_per_year(self.per_day, self.baseline_co2_g_per_1k)
        if base is not None and base != kg and self.within_noise:
            text += " (≈ same as uncompressed: the difference is within measurement noise)"
        elif base is not None and base != kg:
            verb = "saves" if base > kg else "adds"
            text += f" ({verb} {format_grams(abs(base - kg) * 1000)} vs uncompressed"
            if self.runtime_change:  # a new runtime, not the technique alone
                text += f"; runtime changed: {html.escape(self.runtime_change)}"
            text += ")"
        self.summary.value = text
