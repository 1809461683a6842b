"""One slider per technique; each turns its position into a lab config (or None for "off").

Moving any slider to the right compresses more. Every component exposes ``value``
(and a second choice, e.g. ``structure``) as traitlets — observe them with
``slider.observe(handler, names="value")`` — and a ``config`` property.

The pruning amount can also be typed: ``50``, ``50 %`` and ``0.5`` all mean 50 %;
anything else is refused with a message next to the box naming the allowed range.

Example:
    >>> s = SparsitySlider()
    >>> s.value = 0.8
    >>> s.config
    PruneConfig(sparsity=0.8, structure='unstructured', scope='global', per_layer={})
    >>> s.entry.value = "50"  # typed into the box
    >>> s.value, s.entry.value, s.error
    (0.5, '50%', '')
    >>> s.entry.value = "abc"
    >>> s.value, s.error
    (0.5, "Pruning must be from 0 % to 95 % (type e.g. 50, 50 % or 0.5); got 'abc'")
    >>> s.value = 1.7  # set in code: clamped to the slider's range
    >>> s.value, SparsitySlider().config is None
    (0.95, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets as w
import traitlets as t
from torch import nn

from lab import data
from lab.techniques.configs import PruneConfig, QuantConfig, ResolutionConfig

from .status import render_feedback
from .units import parse_percent

__all__ = ["BitWidthSlider", "ResolutionSlider", "SparsitySlider", "bits_label"]

_STYLE = {"description_width": "88px"}
_SLIDER_LAYOUT = {"width": "340px"}
OFF_BITS = 32  # the "quantization off" position (fp32 weights)
BIT_CHOICES = (OFF_BITS, 8, 7, 6, 5, 4, 3, 2, 1)
SIZES = (28, 24, 21, 18, 14, 12, 10, 8, 7)


def bits_label(bits: int) -> str:
    """``"off (fp32)"`` for 32, else ``"1 bit"``, ``"4 bits"`` (singular for one).

    Example:
        >>> bits_label(1), bits_label(4), bits_label(32)
        ('1 bit', '4 bits', 'off (fp32)')
    """
    if bits == OFF_BITS:
        return "off (fp32)"
    return f"{bits} bit" if bits == 1 else f"{bits} bits"


class SparsitySlider(w.VBox):
    """Fraction of weights (or output channels) pruned, 0 – ``max_sparsity`` in 5 % steps.

    ``value`` set in code is clamped into range and snapped to the step; ``structure`` is
    ``"unstructured"`` (single weights) or ``"channel"`` (whole filters). The box next to
    the slider (``entry``) shows the value and takes typed ones (see
    :func:`~widgets.units.parse_percent`): a value off the 5 % grid is rounded, with a note;
    an invalid one is refused, with the reason in ``error`` and shown under the slider.
    """

    value = t.Float(0.0)
    structure = t.Enum(("unstructured", "channel"), default_value="unstructured")
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(
        self,
        value: float = 0.0,
        structure: str = "unstructured",
        *,
        max_sparsity: float = 0.95,
        step: float = 0.05,
    ) -> None:
        self.max_sparsity, self.step = max_sparsity, step
        self._writing = False  # True while the widget itself rewrites the box
        self.slider = w.FloatSlider(
            value=0.0,
            min=0.0,
            max=max_sparsity,
            step=step,
            readout=False,  # ipywidgets' editable readout misreads "50" as 50 (→ 95 %)
            description="Pruning",
            continuous_update=True,
            style=_STYLE,
            layout={"width": "290px"},
            tooltip="Fraction of weights set to zero (unstructured) or of filters removed (channels)",
        )
        self.slider.add_class("lab-sparsity-slider")
        self.entry = w.Text(
            value=self._format(0.0),
            continuous_update=False,  # parse on Enter or when the box loses focus
            layout={"width": "56px"},
            tooltip=f"Type a percentage from 0 to {100 * max_sparsity:g} (50, 50 % or 0.5)",
        )
        self.entry.add_class("lab-sparsity-readout")
        self.toggle = w.ToggleButtons(
            options=[("weights", "unstructured"), ("channels", "channel")],
            value=structure,
            tooltips=[
                "unstructured: single weights (smaller file, same latency)",
                "channel: whole filters (fewer FLOPs, really faster)",
            ],
            style={"button_width": "90px"},
        )
        self.feedback = w.HTML("", layout={"display": "none"})
        self.feedback.add_class("lab-sparsity-message")
        super().__init__([w.HBox([self.slider, self.entry, self.toggle]), self.feedback])
        self.add_class("lab-sparsity")
        self.value, self.structure = value, structure
        t.link((self, "value"), (self.slider, "value"))
        t.link((self, "structure"), (self.toggle, "value"))
        self.entry.observe(self._typed, names="value")
        self._show(self.value)

    @t.validate("value")
    def _clamp(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if math.isnan(value):
            raise t.TraitError(
                "sparsity must be a number from 0 to "
                f"{self.max_sparsity:g} (fraction of weights removed); got NaN"
            )
        value = min(max(value, 0.0), self.max_sparsity)
        return round(round(value / self.step) * self.step, 6)

    @t.observe("value")
    def _moved(self, change: dict) -> None:
        self.error = ""
        render_feedback(self.feedback)
        self._show(change["new"])

    def _typed(self, change: dict) -> None:
        if self._writing:
            return
        try:
            typed = parse_percent(change["new"], self.max_sparsity, name="Pruning")
        except ValueError as exc:
            self._show(self.value)
            self.error = str(exc)
            render_feedback(self.feedback, error=self.error)
            return
        self.value = typed
        self._show(self.value)
        self.error = ""
        if abs(typed - self.value) > 1e-9:
            shown, step = self._format(self.value), self._format(self.step)
            render_feedback(
                self.feedback, note=f"{self._format(typed)} rounded to {shown} ({step} steps)"
            )
        else:
            render_feedback(self.feedback)

    def _show(self, value: float) -> None:
        self._writing = True
        try:
            self.entry.value = self._format(value)
        finally:
            self._writing = False

    @staticmethod
    def _format(fraction: float) -> str:
        return f"{100 * fraction:.3g}%"

    @property
    def config(self) -> PruneConfig | None:
        """The :class:`~lab.techniques.configs.PruneConfig`, or None at 0 %."""
        if self.value == 0:
            return None
        return PruneConfig(sparsity=self.value, structure=self.structure)


class BitWidthSlider(w.HBox):
    """Weight bit-width: off (fp32), 8 … 1 bits; one scale per channel or per tensor.

    ``value`` is an int from 1 to 8, or 32 for "off"; any other value is rejected
    with a :class:`traitlets.TraitError` naming the allowed ones.
    """

    value = t.Int(OFF_BITS)
    granularity = t.Enum(("channel", "tensor"), default_value="channel")

    def __init__(self, value: int = OFF_BITS, granularity: str = "channel") -> None:
        options = [(bits_label(b), b) for b in BIT_CHOICES]
        self.slider = w.SelectionSlider(
            options=options,
            value=OFF_BITS,
            description="Quantization",
            continuous_update=True,
            style=_STYLE,
            layout=_SLIDER_LAYOUT,
            tooltip="Bits per stored weight (32 = quantization off)",
        )
        self.slider.add_class("lab-bits-slider")
        self.toggle = w.ToggleButtons(
            options=[("per channel", "channel"), ("per tensor", "tensor")],
            value=granularity,
            tooltips=["one scale per output channel (more accurate)", "one scale per tensor"],
            style={"button_width": "104px"},  # fits "per channel" in JupyterLab's font
        )
        super().__init__([self.slider, self.toggle])
        self.add_class("lab-bits")
        self.value, self.granularity = value, granularity
        t.link((self, "value"), (self.slider, "value"))
        t.link((self, "granularity"), (self.toggle, "value"))

    @t.validate("value")
    def _check(self, proposal: dict) -> int:
        value = proposal["value"]
        if value not in BIT_CHOICES:
            raise t.TraitError(
                f"bit-width must be an integer from 1 to 8, or {OFF_BITS} for off; got {value!r}"
            )
        return value

    @property
    def config(self) -> QuantConfig | None:
        """The :class:`~lab.techniques.configs.QuantConfig`, or None when off."""
        if self.value == OFF_BITS:
            return None
        return QuantConfig(bits=self.value, granularity=self.granularity)


class ResolutionSlider(w.HBox):
    """Input size in pixels, from the native 28 px down to the smallest supported size.

    A ``value`` between supported sizes snaps to the nearest one.
    """

    value = t.Int(data.NATIVE_SIZE)

    def __init__(self, value: int = data.NATIVE_SIZE, sizes: Sequence[int] = SIZES) -> None:
        self.sizes = tuple(sorted(set(sizes), reverse=True))
        self.slider = w.SelectionSlider(
            options=self._options(),
            value=self.sizes[0],
            description="Resolution",
            continuous_update=True,
            style=_STYLE,
            layout=_SLIDER_LAYOUT,
            tooltip="Input pixels per side the network processes (area-downsampled)",
        )
        self.slider.add_class("lab-resolution-slider")
        super().__init__([self.slider])
        self.add_class("lab-resolution")
        self.value = value
        t.link((self, "value"), (self.slider, "value"))

    def _options(self) -> list[tuple[str, int]]:
        return [(f"{s} px", s) for s in self.sizes]

    @t.validate("value")
    def _snap(self, proposal: dict) -> int:
        value = proposal["value"]
        return min(self.sizes, key=lambda s: (abs(s - value), -s))

    def set_sizes(self, sizes: Sequence[int]) -> None:
        """Offer only ``sizes`` (e.g. those a new model runs at); keeps the nearest position,
        or the largest size when the slider was at the largest (native) one before — also
        when the new sizes share none with the old (other data: 224 px images after 28 px).
        """
        sizes = tuple(sorted({int(s) for s in sizes}, reverse=True))
        if not sizes:
            raise ValueError("set_sizes needs at least one size (px)")
        at_largest = self.value == self.sizes[0]
        self.sizes = sizes
        target = sizes[0] if at_largest else min(sizes, key=lambda s: (abs(s - self.value), -s))
        # options first, outside hold_trait_notifications: ipywidgets then moves the slider
        # onto the new list itself; a held change validates the old value against it and fails
        self.slider.options = self._options()
        self.value = target
        self.slider.value = target

    @staticmethod
    def sizes_for(model: nn.Module, candidates: Sequence[int] = SIZES) -> tuple[int, ...]:
        """The ``candidates`` (px) that ``model`` can run at; always includes the native size.

        Example:
            >>> from lab import zoo
            >>> ResolutionSlider.sizes_for(zoo.build("cnn"))[:3]
            (28, 24, 21)
        """
        from lab.techniques.resolution import check_runs_at

        ok = [data.NATIVE_SIZE]
        for size in candidates:
            if size == data.NATIVE_SIZE:
                continue
            try:
                check_runs_at(model, size)
                ok.append(size)
            except ValueError:
                pass
        return tuple(sorted(ok, reverse=True))

    @property
    def config(self) -> ResolutionConfig | None:
        """The :class:`~lab.techniques.configs.ResolutionConfig`, or None at the native size."""
        return None if self.value == data.NATIVE_SIZE else ResolutionConfig(self.value)
