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
    >>> s.value = 0.52  # set in code: snapped to the slider's 5 % grid
    >>> s.value, SparsitySlider().config is None
    (0.5, True)
    >>> s.value = 50  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    WidgetValueError: sparsity must be a fraction from 0 to 0.95 … — a percentage? write 0.5 for 50 %
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

import ipywidgets as w
import traitlets as t
from torch import nn

from lab.datasets import fashion as data
from lab.techniques import schema
from lab.techniques.configs import PruneConfig, QuantConfig, ResolutionConfig

from .aria import SliderAria
from .status import render_feedback
from .units import parse_percent
from .validation import Checked, Choice, WidgetValueError, choice, fraction, integer

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
OFF_BITS = schema.OFF_BITS  # the "quantization off" position (fp32 weights)
BIT_CHOICES = (OFF_BITS, *sorted(schema.BITS, reverse=True))
STRUCTURES = ("unstructured", "channel")
GRANULARITIES = ("channel", "tensor")
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

    ``value`` set in code must be a fraction from 0 to ``max_sparsity`` (anything else, a
    percentage such as 50 included, is refused with a :class:`~widgets.validation.WidgetValueError`,
    as :class:`~lab.techniques.configs.PruneConfig` refuses it) and is snapped to the step;
    ``structure`` is
    ``"unstructured"`` (single weights) or ``"channel"`` (whole filters). The box next to
    the slider (``entry``) shows the value and takes typed ones (see
    :func:`~widgets.units.parse_percent`): a value off the 5 % grid is rounded, with a note;
    an invalid one is refused, with the reason in ``error`` and shown under the slider.
    """

    value = Checked(0.0)  # a fraction; checked (and snapped) by _snap
    structure = Choice(("unstructured", "channel"), default_value="unstructured")
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(
        self,
        value: float = 0.0,
        structure: str = "unstructured",
        *,
        max_sparsity: float = schema.SPARSITY_SLIDER_MAX,
        step: float = schema.SPARSITY_STEP,
    ) -> None:
        top = schema.SPARSITY
        if not (top.contains(max_sparsity) and max_sparsity > 0):
            raise WidgetValueError(
                f"max_sparsity must be a fraction in (0, {top.high:g}) — the recipe's sparsity "
                f"range is {top.describe()}; got {max_sparsity!r}"
            )
        step = fraction("step", step, 0.0, max_sparsity, " (at most max_sparsity)")
        if step <= 0 or abs(100 * step - round(100 * step)) > 1e-9:
            raise WidgetValueError(
                f"step must be a whole number of percent > 0 (0.01, 0.05, …: the slider moves "
                f"in whole percents); got {step!r}"
            )
        if abs(max_sparsity / step - round(max_sparsity / step)) > 1e-9:
            raise WidgetValueError(
                f"max_sparsity must be a whole number of steps of {step:g} (the slider's top "
                f"is a step), e.g. {math.floor(max_sparsity / step + 1e-9) * step:g}; got {max_sparsity!r}"
            )
        choice("structure", structure, STRUCTURES)
        self.max_sparsity, self.step = float(max_sparsity), step
        fraction("sparsity", value, 0.0, self.max_sparsity, " (fraction of weights removed)")
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
        # a screen reader hears "70 %" (noUiSlider alone says "70", its position)
        self.aria = SliderAria(self.slider, "lab-sparsity-slider", lambda p: f"{p} %")
        super().__init__([w.HBox([self.slider, self.entry, self.toggle]), self.feedback, self.aria])
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
    def _snap(self, proposal: dict) -> float:
        """A fraction in range, snapped to the step; anything else refused (not clamped)."""
        value = fraction(
            "sparsity", proposal["value"], 0.0, self.max_sparsity, " (fraction of weights removed)"
        )
        return min(round(round(value / self.step) * self.step, 6), self.max_sparsity)

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

    value = Checked(OFF_BITS)  # checked by _check
    granularity = Choice(("channel", "tensor"), default_value="channel")
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(self, value: int = OFF_BITS, granularity: str = "channel") -> None:
        self._check_bits(value)
        choice("granularity", granularity, GRANULARITIES)
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
        # a screen reader hears "4 bits" and 4, not the option's index
        self.aria = SliderAria(self.slider, "lab-bits-slider", bits_label)
        super().__init__([w.HBox([self.slider, self.entry, self.toggle]), self.feedback, self.aria])
        self.add_class("lab-bits")
        self.value, self.granularity = value, granularity
        t.link((self, "value"), (self.slider, "value"))
        t.link((self, "granularity"), (self.toggle, "value"))
        self.box.refresh()

    @t.validate("value")
    def _check(self, proposal: dict) -> int:
        return self._check_bits(proposal["value"])

    @staticmethod
    def _check_bits(value: object) -> int:
        bits = schema.BITS
        integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if not integral or value not in BIT_CHOICES:
            raise WidgetValueError(
                f"bit-width must be an integer from {min(bits)} to {max(bits)}, or {OFF_BITS} "
                f"for off; got {value!r}"
            )
        return int(value)

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

    A ``value`` set in code between supported sizes snaps to the nearest one; one outside
    them (or not an integer) is refused with a :class:`~widgets.validation.WidgetValueError`.
    A size typed into the box beside the slider (``entry``: "14", "14 px") is taken only if it
    is offered, else refused with the sizes offered in ``error`` (never rounded to another size).
    """

    value = Checked(data.NATIVE_SIZE)  # checked (and snapped) by _snap
    error = t.Unicode("")  # why the last typed value was refused; "" when it was accepted

    def __init__(self, value: int = data.NATIVE_SIZE, sizes: Sequence[int] = SIZES) -> None:
        self.sizes = self._check_sizes(sizes)
        self._in_range(value)
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
        # a screen reader hears "14 px" and 14, not the option's index
        self.aria = SliderAria(self.slider, "lab-resolution-slider", lambda size: f"{size} px")
        super().__init__([w.HBox([self.slider, self.entry]), self.feedback, self.aria])
        self.add_class("lab-resolution")
        self.value = value
        t.link((self, "value"), (self.slider, "value"))
        self.box.refresh()

    def _options(self) -> list[tuple[str, int]]:
        return [(f"{s} px", s) for s in self.sizes]

    @staticmethod
    def _check_sizes(sizes: object) -> tuple[int, ...]:
        """Sizes offered: a non-empty list of integers in the recipe schema's pixel range."""
        low, high = schema.RESOLUTION_MIN, schema.RESOLUTION_MAX
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
            raise WidgetValueError(
                f"sizes must be a non-empty list of pixel sizes from {low} to {high}, e.g. "
                f"{list(SIZES[:3])}; got {sizes!r}"
            )
        for size in sizes:
            integer("sizes entry", size, low, high, " (pixels per side)")
        return tuple(sorted({int(s) for s in sizes}, reverse=True))

    def _in_range(self, value: object) -> int:
        return integer("resolution", value, min(self.sizes), max(self.sizes), " px (offered)")

    @t.validate("value")
    def _snap(self, proposal: dict) -> int:
        value = self._in_range(proposal["value"])
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
        """Offer only ``sizes`` (e.g. those a new model runs at); keeps the nearest position,
        or the largest size when the slider was at the largest (native) one before — also
        when the new sizes share none with the old (other data: 224 px images after 28 px).
        """
        at_largest = self.value == self.sizes[0]
        sizes = self._check_sizes(sizes)
        self.sizes = sizes
        target = sizes[0] if at_largest else min(sizes, key=lambda s: (abs(s - self.value), -s))
        # options first, outside hold_trait_notifications: ipywidgets then moves the slider
        # onto the new list itself; a held change validates the old value against it and fails
        self.slider.options = self._options()
        self.value = target
        self.slider.value = target
        self.box.refresh()
        self.aria.refresh()

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
