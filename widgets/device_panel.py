"""The device a model must run on: does it fit, and how fast / how much energy per inference.

:class:`DevicePanel` is a dropdown of :func:`lab.runtimes.devices.names` (default: this
machine) above a few lines for the shown measurement::

    RAM 312 KB of 256 KB — does not fit (56 KB over)
    flash 93 KB of 1.0 MB — fits (931 KB to spare)
    latency ≈ 68.7 ms per inference (40.9–75.3 ms) — estimated from mlcommons/… ±24 %

On a catalog device the figures come from :meth:`lab.evaluation.measure.Measurement.on_device`
(its published points, leave-one-out error band); on this machine they are the measurement's
own (measured). Choosing a device evaluates nothing: it re-reads the measurement already
shown, like a change of country re-prices it. The first estimate on a device fits its rates
(counting the MACs of its published models); that runs on the panel's own background thread.

Sizes use the binary units of microcontroller datasheets (1 KB = 1,024 bytes).

Example:
    >>> from types import SimpleNamespace as NS
    >>> m = NS(name="cnn", peak_memory_bytes=2_000_000, peak_activation_bytes=200_000,
    ...        peak_memory_measured_bytes=None, artifact_bytes=400_000, latency_ms_p50=0.5,
    ...        energy_kwh_per_1k=1e-7, energy_source="RAPL", operations_kind="MACs",
    ...        executes_as="fp32")
    >>> view = device_view(m, "this-machine")
    >>> view.fits, view.latency
    (True, 'latency 0.50 ms per inference — measured on this machine')
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import traitlets as t

from lab.runtimes import devices
from widgets.validation import Checked, WidgetValueError

from .worker import LatestWorker

__all__ = ["DevicePanel", "DeviceView", "device_view", "format_memory"]

UJ_PER_KWH_PER_1K = 3.6e9  # kWh per 1,000 inferences → µJ per inference


def format_memory(n: int | None) -> str:
    """Bytes in datasheet units (1 KB = 1,024 B): ``"312 KB"``, ``"1.5 MB"``, ``"7.8 GB"``.

    Example:
        >>> format_memory(319_488), format_memory(1_572_864), format_memory(None)
        ('312 KB', '1.5 MB', 'unknown')
    """
    if n is None:
        return "unknown"
    for scale, unit in ((2**30, "GB"), (2**20, "MB")):
        if abs(n) >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 2**10:,.0f} KB"


@dataclass(frozen=True)
class DeviceView:
    """What the panel says about one measurement on one device (plain text lines)."""

    device: str
    ram: str  # "RAM 312 KB of 256 KB — does not fit (56 KB over)"
    flash: str
    latency: str
    energy: str
    band: str  # how the estimate's error band was measured ("" on this machine)
    fits: bool | None  # RAM and flash both fit (None: unknown)


def _fit_line(what: str, need: int, have: int | None, fits: bool | None, extra: str = "") -> str:
    if have is None:
        return f"{what} {format_memory(need)}{extra} — the device's {what} is not published"
    margin = have - need
    verdict = (
        f"fits ({format_memory(margin)} to spare)"
        if fits
        else f"does not fit ({format_memory(-margin)} over)"
    )
    return f"{what} {format_memory(need)}{extra} of {format_memory(have)} — {verdict}"


def _worst_error(estimate: devices.DeviceEstimate) -> float:
    """The largest leave-one-out error behind the estimate's band (0.24 for ±24 %)."""
    lo, hi = estimate.latency_ms_band
    return max(abs(estimate.latency_ms / lo - 1), abs(estimate.latency_ms / hi - 1))


def _measured_view(m: Any) -> DeviceView:
    hw = devices.hardware(devices.THIS_MACHINE)
    need = int(m.peak_memory_bytes)
    measured = getattr(m, "peak_memory_measured_bytes", None)
    extra = f" planned (measured {format_memory(measured)})" if measured else " planned"
    ram_fits = need <= hw.ram_bytes
    flash_fits = int(m.artifact_bytes) <= hw.flash_bytes
    if m.latency_ms_p50 is None:
        latency = "latency: not timed yet"
    else:
        latency = f"latency {m.latency_ms_p50:,.2f} ms per inference — measured on this machine"
    kwh = getattr(m, "energy_kwh_per_1k", None)
    if kwh is None:
        energy = f"energy: {getattr(m, 'energy_source', 'not measured')}"
    else:
        energy = (
            f"energy {kwh * UJ_PER_KWH_PER_1K:,.1f} µJ per inference — measured on this "
            f"machine ({m.energy_source})"
        )
    return DeviceView(
        device=devices.THIS_MACHINE,
        ram=_fit_line("RAM", need, hw.ram_bytes, ram_fits, extra),
        flash=_fit_line("storage", int(m.artifact_bytes), hw.flash_bytes, flash_fits, ""),
        latency=latency,
        energy=energy,
        band="",
        fits=ram_fits and flash_fits,
    )


def device_view(measurement: Any, device: str) -> DeviceView:
    """What ``measurement`` needs on ``device`` and how fast it would run there.

    This machine: the planned peak memory against its RAM, the artifact against its free
    disk, and the measured latency and energy. A catalog device:
    ``measurement.on_device(device)`` — RAM (a microcontroller's: the activations; weights
    run from flash) and flash against the device's, latency and energy estimated from its
    published points with the leave-one-out band. Where the device publishes no point at the
    precision the model executes in (an fp32 model on an int8-only microcontroller), or the
    model's operations are not multiply-accumulates (a tree's comparisons), the fit is shown
    and the latency is not estimated, saying why.

    Raises:
        ValueError: ``device`` is not in the catalog, or the measurement has no planned
            peak memory.
    """
    if device not in devices.names():
        raise ValueError(
            f"device must be one of {', '.join(map(repr, devices.names()))}; got {device!r}"
        )
    if getattr(measurement, "peak_memory_bytes", None) is None:
        raise ValueError(f"no planned peak memory for {getattr(measurement, 'name', 'this model')}")
    if device == devices.THIS_MACHINE:
        return _measured_view(measurement)
    hw = devices.hardware(device)
    int8 = "int8" in (getattr(measurement, "executes_as", "") or "")
    wanted = "int8" if int8 else "fp32"
    why_not = ""
    if wanted not in hw.precisions:
        why_not = (
            f"latency not estimated: {hw.label} publishes {', '.join(hw.precisions)} points only "
            f"and this model executes as {wanted}"
            + ("" if int8 else " (8-bit weights and activations run as int8)")
        )
    elif getattr(measurement, "operations_kind", "MACs") != "MACs":
        why_not = (
            f"latency not estimated: this model's operations are {measurement.operations_kind}, "
            "the device's rates are per multiply-accumulate"
        )
    est = measurement.on_device(device, wanted if wanted in hw.precisions else hw.precisions[0])
    ram_extra = " (activations; weights run from flash)" if hw.kind == "microcontroller" else ""
    if why_not:
        latency, energy = why_not, "energy not estimated"
    else:
        lo, hi = est.latency_ms_band
        latency = (
            f"latency ≈ {est.latency_ms:,.2f} ms per inference ({lo:,.2f}–{hi:,.2f} ms) — "
            f"{est.source} ±{100 * _worst_error(est):.0f} %"
        )
        if est.energy_uj is None:
            energy = f"energy: not published for {hw.label}"
        else:
            elo, ehi = est.energy_uj_band
            energy = (
                f"energy ≈ {est.energy_uj:,.0f} µJ per inference ({elo:,.0f}–{ehi:,.0f} µJ) — "
                f"{est.source}, at the median published power"
            )
    fits = None if None in (est.fits_ram, est.fits_flash) else est.fits_ram and est.fits_flash
    return DeviceView(
        device=device,
        ram=_fit_line("RAM", est.ram_bytes, est.device_ram_bytes, est.fits_ram, ram_extra),
        flash=_fit_line("flash", est.flash_bytes, est.device_flash_bytes, est.fits_flash),
        latency=latency,
        energy=energy,
        band="" if why_not else f"error band: {est.error_band}",
        fits=fits,
    )


def _html(view: DeviceView) -> str:
    verdict = {True: "lab-device-fits", False: "lab-device-does-not-fit", None: ""}[view.fits]
    lines = [line for line in (view.ram, view.flash, view.latency, view.energy, view.band) if line]
    return (
        f"<div class='lab-device {verdict}'>"
        + "".join(f"<div>{html.escape(line)}</div>" for line in lines)
        + "</div>"
    )


class DevicePanel(w.VBox):
    """A device picker and what the shown measurement needs there (see :func:`device_view`).

    Set :attr:`measurement` (the dashboard does after every result); choose :attr:`device`.
    ``view`` is the :class:`DeviceView` shown (None while estimating or with no measurement);
    ``error`` says why nothing could be shown. Call :meth:`close` to stop its thread.
    """

    device = Checked(devices.THIS_MACHINE)  # checked by _check: a device's name
    measurement = t.Any(None)
    view = t.Any(None)
    error = t.Unicode("")

    def __init__(self, device: str = devices.THIS_MACHINE) -> None:
        options = [("this machine (measured)", devices.THIS_MACHINE)] + [
            (f"{devices.hardware(n).label}", n) for n in devices.names()[:-1]
        ]
        self.dropdown = w.Dropdown(
            options=options,
            description="Device",
            style={"description_width": "60px"},
            layout={"width": "430px"},
        )
        self.dropdown.add_class("lab-device-picker")
        self.report = w.HTML()
        self.report.add_class("lab-device-report")
        super().__init__([self.dropdown, self.report])
        self.device = device
        t.link((self, "device"), (self.dropdown, "value"))
        self._worker = LatestWorker(debounce=0.0, name="lab-device-panel")
        self.observe(self._update, names=["device", "measurement"])

    @t.validate("device")
    def _check(self, proposal: dict) -> str:
        if not isinstance(proposal["value"], str) or proposal["value"] not in devices.names():
            raise WidgetValueError(
                f"device must be one of {', '.join(map(repr, devices.names()))}; "
                f"got {proposal['value']!r}"
            )
        return proposal["value"]

    def wait(self, timeout: float | None = 60) -> bool:
        """Block until the shown device's figures are on screen (for scripts and tests)."""
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.close()
        super().close()

    def _update(self, change: dict | None = None) -> None:
        m, device = self.measurement, self.device
        if m is None:
            self._worker.invalidate()
            self.view, self.error, self.report.value = None, "", ""
            return
        self.view = None
        waiting = [  # a big model's first look: the file's size and its memory follow
            what
            for what, missing in (
                ("the file's size", getattr(m, "artifact_bytes", 0) is None),
                (
                    "peak memory",
                    getattr(m, "preliminary", False) and getattr(m, "memory_method", 0) is None,
                ),
            )
            if missing
        ]
        if waiting:
            self._worker.invalidate()
            self.error = ""
            self.report.value = f"<i class='lab-waiting'>waiting for {' and '.join(waiting)}…</i>"
            return
        self.report.value = f"<i class='lab-waiting'>estimating on {html.escape(device)}…</i>"
        self._worker.submit(lambda: device_view(m, device), self._shown, self._failed)

    def _shown(self, view: DeviceView) -> None:
        with self.hold_sync():
            self.error = ""
            self.view = view
            self.report.value = _html(view)

    def _failed(self, exc: BaseException) -> None:
        self.view = None
        self.error = str(exc)
        self.report.value = f"<i class='lab-device-unavailable'>{html.escape(str(exc))}</i>"
