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
import re
from collections.abc import Sequence

import ipywidgets as w
import traitlets as t
from torch import nn

from lab import data
from lab.techniques.configs import PruneConfig, QuantConfig, ResolutionConfig

from .status import render_feedback
from .units import parse_percent

__all__ = [
    "BitWidthSlider",
    "ResolutionSlider",
    "SparsitySlider",
    "bits_label",
    "parse_bits",
    "parse_size",
]

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


def _park(control, enabled: bool, off: object) -> None:
    """Disabled: remember ``control``'s position and show ``off`` (nothing stale on screen or
    in a link); enabled again: put the remembered position back."""
    parked = getattr(control, "_parked", None)
    if not enabled and parked is None:
        control._parked = control.value
        control.value = off
    elif enabled and parked is not None:
        control._parked = None
        control.value = parked


class _TypedBox:
    """The box beside a choice slider: shows the value and takes a typed one exactly, or
    refuses it with the reason under the slider (never silently changes it). ``owner`` has
    ``value`` and ``error`` traits; ``parse`` raises ValueError naming what is allowed."""

    def __init__(self, owner, parse, show, css: str, tooltip: str, width: str = "72px") -> None:
        self.owner, self.parse, self.show = owner, parse, show
        self._writing = False
        self.entry = w.Text(
            continuous_update=False,  # parse on Enter or when the box loses focus
            layout={"width": width},
            tooltip=tooltip,
        )
        self.entry.add_class(f"{css}-readout")
        self.feedback = w.HTML("", layout={"display": "none"})
        self.feedback.add_class(f"{css}-message")
        self.entry.observe(self._typed, names="value")

    def _typed(self, change: dict) -> None:
        if self._writing:
            return
        try:
            value = self.parse(change["new"])
        except ValueError as exc:
            self.refresh()
            self.owner.error = str(exc)
            render_feedback(self.feedback, error=self.owner.error)
            return
        self.owner.value = value
        self.moved()

    def moved(self) -> None:
        """The value changed (typed, dragged or set in code): show it, clear any message."""
        self.owner.error = ""
        render_feedback(self.feedback)
        self.refresh()

    def refresh(self) -> None:
        self._writing = True
        try:
            self.entry.value = self.show(self.owner.value) if not self.entry.disabled else "n/a"
        finally:
            self._writing = False


def parse_bits(text: str) -> int:
    """What a user typed as a bit-width: ``"4"``, ``"4 bits"``, ``"4-bit"``, ``"off"``,
    ``"fp32"`` or ``"32"``; anything else is refused naming what is allowed.

    Example:
        >>> parse_bits("4 bits"), parse_bits(" 1 bit "), parse_bits("off"), parse_bits("FP32")
        (4, 1, 32, 32)
        >>> parse_bits("9")
        Traceback (most recent call last):
        ...
        ValueError: Quantization must be 1 to 8 bits, or off (fp32) (type e.g. 4, 4 bits or off); got '9'
    """
    allowed = (
        "Quantization must be 1 to 8 bits, or off (fp32) (type e.g. 4, 4 bits or off); "
        f"got {text!r}"
    )
    if not isinstance(text, str):
        raise ValueError(allowed)
    typed = text.strip().lower()
    if typed in ("off", "fp32", "off (fp32)", "none"):
        return OFF_BITS
    match = re.fullmatch(r"(\d{1,2})\s*-?\s*(?:bits?|b)?", typed)
    if match is None or int(match.group(1)) not in BIT_CHOICES:
        raise ValueError(allowed)
    return int(match.group(1))


def parse_size(text: str, sizes: Sequence[int]) -> int:
    """What a user typed as a resolution (``"14"``, ``"14 px"``), if it is one of ``sizes``;
    anything else is refused naming the sizes offered (never rounded to another size).

    Example:
        >>> parse_size("14 px", (28, 14, 7))
        14
        >>> parse_size("15", (28, 14, 7))
        Traceback (most recent call last):
        ...
        ValueError: Resolution must be one of 28, 14, 7 px here; got '15'
    """
    allowed = f"Resolution must be one of {', '.join(map(str, sizes))} px here; got {text!r}"
    match = (
        re.fullmatch(r"(\d{1,4})\s*(?:px)?", text.strip().lower())
        if isinstance(text, str)
        else None
    )
    if match is None or int(match.group(1)) not in sizes:
        raise ValueError(allowed)
    return int(match.group(1))


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
        # in whole percent: the page's slider library writes aria-valuemax with one decimal
        # (0.95 read as "0.9") and stops a fraction slider one step short of 0.95
        self.slider = w.IntSlider(
            value=0,
            min=0,
            max=round(100 * max_sparsity),
            step=max(1, round(100 * step)),
            readout=False,  # ipywidgets' editable readout misreads "50" as 50 (→ 95 %)
            description="Pruning",
            continuous_update=True,
            style=_STYLE,
            layout={"width": "230px"},
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
            style={"button_width": "84px"},  # "channels" needs 83 px (test_ui_input)
        )
        self.feedback = w.HTML("", layout={"display": "none"})
        self.feedback.add_class("lab-sparsity-message")
        super().__init__([w.HBox([self.slider, self.entry, self.toggle]), self.feedback])
        self.add_class("lab-sparsity")
        self.value, self.structure = value, structure
        t.link(
            (self, "value"),
            (self.slider, "value"),
            transform=(lambda v: round(100 * v), lambda p: p / 100),
        )
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

    def set_enabled(self, enabled: bool) -> None:
        """Enable (the position it had comes back), or disable showing no value ("n/a")."""
        _park(self, enabled, 0.0)
        for control in (self.slider, self.entry, self.toggle):
            control.disabled = not enabled
        self.error = ""
        render_feedback(self.feedback)
        self._show(self.value)

    def _format(self, fraction: float) -> str:
        if getattr(self, "entry", None) is not None and self.entry.disabled:
            return "n/a"
        return f"{100 * fraction:.3g}%"

    @property
    def config(self) -> PruneConfig | None:
        """The :class:`~lab.techniques.configs.PruneConfig`, or None at 0 %."""
        if self.value == 0:
            return None
        return PruneConfig(sparsity=self.value, structure=self.structure)


class BitWidthSlider(w.VBox):
    """Weight bit-width: off (fp32), 8 … 1 bits; one scale per channel or per tensor.

    ``value`` is an int from 1 to 8, or 32 for "off"; any other value is rejected
    with a :class:`traitlets.TraitError` naming the allowed ones. The box beside the slider
    (``entry``) shows the value and takes a typed one ("4", "4 bits", "off"); anything else
    is refused, with the reason in ``error`` and shown under the slider.
    """

    value = t.Int(OFF_BITS)
    granularity = t.Enum(("channel", "tensor"), default_value="channel")
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(self, value: int = OFF_BITS, granularity: str = "channel") -> None:
        options = [(bits_label(b), b) for b in BIT_CHOICES]
        self.slider = w.SelectionSlider(
            options=options,
            value=OFF_BITS,
            description="Quantization",
            continuous_update=True,
            readout=False,  # its editable readout took "4 bits" + Enter and did nothing
            style=_STYLE,
            layout={"width": "206px"},
            tooltip="Bits per stored weight (32 = quantization off)",
        )
        self.slider.add_class("lab-bits-slider")
        self.box = _TypedBox(
            self,
            parse_bits,
            bits_label,
            "lab-bits",
            "Type a bit-width from 1 to 8, or off (fp32)",
            width="64px",
        )
        self.entry, self.feedback = self.box.entry, self.box.feedback
        self.toggle = w.ToggleButtons(
            options=[("per channel", "channel"), ("per tensor", "tensor")],
            value=granularity,
            tooltips=["one scale per output channel (more accurate)", "one scale per tensor"],
            style={"button_width": "104px"},  # fits "per channel" in JupyterLab's font
        )
        super().__init__([w.HBox([self.slider, self.entry, self.toggle]), self.feedback])
        self.add_class("lab-bits")
        self.value, self.granularity = value, granularity
        t.link((self, "value"), (self.slider, "value"))
        t.link((self, "granularity"), (self.toggle, "value"))
        self.box.refresh()

    @t.validate("value")
    def _check(self, proposal: dict) -> int:
        value = proposal["value"]
        if value not in BIT_CHOICES:
            raise t.TraitError(
                f"bit-width must be an integer from 1 to 8, or {OFF_BITS} for off; got {value!r}"
            )
        return value

    @t.observe("value")
    def _moved(self, change: dict) -> None:
        if hasattr(self, "box"):
            self.box.moved()

    def set_enabled(self, enabled: bool) -> None:
        """Enable (the position it had comes back), or disable showing no value ("n/a"; the
        slider at off, nothing stale)."""
        _park(self, enabled, OFF_BITS)
        for control in (self.slider, self.entry, self.toggle):
            control.disabled = not enabled
        self.box.moved()

    @property
    def config(self) -> QuantConfig | None:
        """The :class:`~lab.techniques.configs.QuantConfig`, or None when off."""
        if self.value == OFF_BITS:
            return None
        return QuantConfig(bits=self.value, granularity=self.granularity)


class ResolutionSlider(w.VBox):
    """Input size in pixels, from the native 28 px down to the smallest supported size.

    A ``value`` set in code between supported sizes snaps to the nearest one; a size typed
    into the box beside the slider (``entry``: "14", "14 px") is taken only if it is offered,
    else refused with the sizes offered in ``error`` (never rounded to another size).
    """

    value = t.Int(data.NATIVE_SIZE)
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(self, value: int = data.NATIVE_SIZE, sizes: Sequence[int] = SIZES) -> None:
        self.sizes = tuple(sorted(set(sizes), reverse=True))
        self.slider = w.SelectionSlider(
            options=self._options(),
            value=self.sizes[0],
            description="Resolution",
            continuous_update=True,
            readout=False,  # its editable readout showed a typed "14" while 7 px ran
            style=_STYLE,
            layout={"width": "230px"},
            tooltip="Input pixels per side the network processes (area-downsampled)",
        )
        self.slider.add_class("lab-resolution-slider")
        self.box = _TypedBox(
            self,
            lambda text: parse_size(text, self.sizes),
            lambda size: f"{size} px",
            "lab-resolution",
            "Type a size in pixels the model runs at (e.g. 14)",
            width="64px",
        )
        self.entry, self.feedback = self.box.entry, self.box.feedback
        super().__init__([w.HBox([self.slider, self.entry]), self.feedback])
        self.add_class("lab-resolution")
        self.value = value
        t.link((self, "value"), (self.slider, "value"))
        self.box.refresh()

    def _options(self) -> list[tuple[str, int]]:
        return [(f"{s} px", s) for s in self.sizes]

    @t.validate("value")
    def _snap(self, proposal: dict) -> int:
        value = proposal["value"]
        return min(self.sizes, key=lambda s: (abs(s - value), -s))

    @t.observe("value")
    def _moved(self, change: dict) -> None:
        if hasattr(self, "box"):
            self.box.moved()

    def set_enabled(self, enabled: bool) -> None:
        """Enable (the position it had comes back), or disable showing no value ("n/a")."""
        _park(self, enabled, self.sizes[0])
        self.slider.disabled = self.entry.disabled = not enabled
        self.box.moved()

    def set_sizes(self, sizes: Sequence[int]) -> None:
        """Offer only ``sizes`` (e.g. those a new model runs at); keeps the nearest position."""
        current = self.value
        self.sizes = tuple(sorted(set(sizes), reverse=True))
        with self.slider.hold_trait_notifications():
            self.slider.options = self._options()
            self.value = current  # re-validated: snaps to a supported size
            self.slider.value = self.value
        self.box.refresh()

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
