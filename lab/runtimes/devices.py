"""An offline device catalog: does a model fit, and how fast would it run — with the error band.

``lab/runtimes/devices.json`` holds, for each device, its RAM, flash and clock and *published*
per-inference latencies (and energies, where published) of known models, every number with
its source: the repository, commit, file and the quoted line it comes from.

* Microcontrollers and the Raspberry Pi: MLPerf Tiny results (mlcommons/tiny_results_v0.5
  and v1.0) for the four reference models, rebuilt in :mod:`lab.tiny_models`.
* A phone CPU core: TensorFlow Lite's hosted-model table (Pixel 2, one large core, one
  thread) for the 16 MobileNetV1 widths × resolutions, fp32 and int8.
* ``this-machine``: measured here, not estimated — the four reference models timed in
  fp32 with torch at batch 1 (once per process), RAM from ``psutil``, free disk as "flash".

**The estimate.** A device's effective time per multiply-accumulate is fitted per operation
kind (``conv``, ``depthwise``, ``linear``; :func:`lab.tiny_models.macs_by_kind`) to its
published points by non-negative least squares on relative error:
``latency ≈ Σ_kind MACs_kind × seconds_per_MAC_kind``. A kind that makes up under 5 % of every
point's MACs cannot be told apart from the rest, so it gets the device's pooled rate (the
median of latency / MACs over the points); so does a kind the points never contain.
Energy = latency × the median published power (energy / latency of the same run).
The **error band** is measured by leave-one-out: each published point is estimated from a
fit to the others (:func:`leave_one_out`), and an estimate's band spans the smallest to the
largest of those relative errors. Latency from MACs alone ignores memory traffic, operator
support and the runtime's skill: the band says how much that mattered on the published
points, nothing more.

Example:
    >>> est = estimate(7_500_000, ram_bytes=100_000, flash_bytes=300_000, device="nucleo-l4r5zi")
    >>> est.fits_ram, est.fits_flash
    (True, True)
    >>> est.source.startswith("estimated from mlcommons/tiny_results_v1.0")
    True
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lab.meters import machine, memory
from lab.models import tiny_models

__all__ = [
    "CATALOG_PATH",
    "Device",
    "DeviceEstimate",
    "Fit",
    "catalog",
    "estimate",
    "fit",
    "get",
    "hardware",
    "leave_one_out",
    "names",
    "point_macs",
    "report",
]

CATALOG_PATH = Path(__file__).with_name("devices.json")
THIS_MACHINE = "this-machine"
KINDS = ("conv", "depthwise", "linear")
MIN_SHARE = 0.05  # a kind is fitted on its own when it is ≥ 5 % of some point's MACs
PRECISIONS = ("int8", "fp32")


@dataclass(frozen=True)
class Device:
    """A catalog entry: what the device has, and the published points its rates come from."""

    name: str
    label: str
    kind: str
    core: str
    ram_bytes: int | None
    flash_bytes: int | None
    clock_hz: int | None
    runtime: str
    points: tuple[dict, ...] = field(repr=False)
    sources: tuple[str, ...] = field(repr=False)  # "repo@commit" of the points
    measured: bool = False  # this machine: points timed here

    @property
    def precisions(self) -> tuple[str, ...]:
        return tuple(p for p in PRECISIONS if any(q["precision"] == p for q in self.points))


@dataclass(frozen=True)
class Fit:
    """Effective rates of one device at one precision."""

    device: str
    precision: str
    seconds_per_mac: dict[str, float]  # per kind (pooled where the points cannot tell)
    fitted_kinds: tuple[str, ...]  # kinds with their own rate; the rest use the pooled rate
    pooled_seconds_per_mac: float
    power_mw: float | None  # median published power (energy / latency), None if unpublished
    points: int

    def macs_per_second(self) -> dict[str, float]:
        return {k: (1.0 / v if v > 0 else float("inf")) for k, v in self.seconds_per_mac.items()}


@dataclass(frozen=True)
class DeviceEstimate:
    """Does it fit, and how fast / how much energy per inference — estimated, with a band."""

    device: str
    precision: str
    macs: int
    ram_bytes: int
    flash_bytes: int
    device_ram_bytes: int | None
    device_flash_bytes: int | None
    fits_ram: bool | None  # None: the device's RAM is not in the catalog
    fits_flash: bool | None
    ram_margin_bytes: int | None  # device RAM − ram_bytes (negative: does not fit)
    flash_margin_bytes: int | None
    latency_ms: float
    latency_ms_band: tuple[float, float]  # from the leave-one-out errors
    energy_uj: float | None
    energy_uj_band: tuple[float, float] | None
    source: str  # "estimated from <source>" or "measured on this machine …"
    error_band: str  # how the band was measured

    def __repr__(self) -> str:
        def fit_text(need: int, have: int | None, fits: bool | None, what: str) -> str:
            if have is None:
                return f"{what} {need / 1024:,.0f} KB (device {what} unknown)"
            verdict = "fits" if fits else "does not fit"
            return f"{what} {need / 1024:,.0f} KB of {have / 1024:,.0f} KB — {verdict}"

        lo, hi = self.latency_ms_band
        energy = (
            f", ~{self.energy_uj:,.0f} µJ" if self.energy_uj is not None else ", energy unknown"
        )
        return (
            f"DeviceEstimate({self.device}, {self.precision}: "
            f"{fit_text(self.ram_bytes, self.device_ram_bytes, self.fits_ram, 'RAM')}; "
            f"{fit_text(self.flash_bytes, self.device_flash_bytes, self.fits_flash, 'flash')}; "
            f"~{self.latency_ms:,.2f} ms [{lo:,.2f}–{hi:,.2f}]{energy}; {self.source})"
        )


# ---------------------------------------------------------------------------------- catalog


@functools.lru_cache(maxsize=1)
def _document() -> dict:
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))


def names() -> list[str]:
    """Device names: the catalog's and ``this-machine``."""
    return [*_document()["devices"], THIS_MACHINE]


def _source_text(source: dict) -> str:
    return f"{source['repo']}@{source['commit'][:7]}"


def get(name: str) -> Device:
    """The device called ``name`` (see :func:`names`).

    Example:
        >>> get("disco-f746ng").ram_bytes
        327680
    """
    if name == THIS_MACHINE:
        return _this_machine()
    entries = _document()["devices"]
    if not isinstance(name, str) or name not in entries:
        raise ValueError(f"device must be one of {', '.join(map(repr, names()))}; got {name!r}")
    e = entries[name]
    sources = []
    for p in e["points"]:
        text = _source_text(p["latency_ms"]["source"])
        if text not in sources:
            sources.append(text)
    return Device(
        name=name,
        label=e["label"],
        kind=e["kind"],
        core=e["core"],
        ram_bytes=e["ram_bytes"]["value"],
        flash_bytes=e["flash_bytes"]["value"],
        clock_hz=e["clock_hz"]["value"],
        runtime=e["runtime"]["value"],
        points=tuple(
            {
                "model": p["model"],
                "precision": p["precision"],
                "latency_ms": p["latency_ms"]["value"],
                "energy_uj": p["energy_uj"]["value"] if "energy_uj" in p else None,
                "energy_run_latency_ms": (
                    p["energy_run_latency_ms"]["value"] if "energy_run_latency_ms" in p else None
                ),
                "source": p["latency_ms"]["source"],
            }
            for p in e["points"]
        ),
        sources=tuple(sources),
    )


def hardware(name: str) -> Device:
    """The device called ``name`` without timing anything: for ``this-machine`` its RAM,
    free disk and clock only (its points are timed by :func:`get`, once per process).

    Example:
        >>> hardware("this-machine").ram_bytes > 0, hardware("disco-f746ng").flash_bytes
        (True, 1048576)
    """
    return _this_machine_hardware() if name == THIS_MACHINE else get(name)


def catalog() -> pd.DataFrame:
    """Every device with its memory, clock, runtime and how many published points it has."""
    rows = []
    for name in names():
        d = hardware(name)
        rows.append(
            {
                "device": d.name,
                "label": d.label,
                "kind": d.kind,
                "core": d.core,
                "ram_bytes": d.ram_bytes,
                "flash_bytes": d.flash_bytes,
                "clock_mhz": d.clock_hz / 1e6 if d.clock_hz else None,
                "runtime": d.runtime,
                "precisions": ", ".join(d.precisions) if d.points else "fp32",
                "points": len(d.points) if d.points else "measured on first use",
                "source": "measured here" if d.measured else ", ".join(d.sources),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- operation counts


@functools.lru_cache(maxsize=64)
def point_macs(model: str) -> dict[str, int]:
    """MACs per kind of a catalog model name: ``kws``, ``vww``, ``ic``, ``ad`` or
    ``mobilenet_v1_<width>_<resolution>`` (1001 classes), counted with :mod:`lab.flops`."""
    import torch

    # counted on the meta device: shapes only, no arithmetic (a 224 px MobileNet in ~0.1 s)
    with torch.device("meta"):
        if model in tiny_models.NAMES:
            net, x = tiny_models.build(model), tiny_models.example(model).to("meta")
            return tiny_models.macs_by_kind(net, x)
        prefix = "mobilenet_v1_"
        if model.startswith(prefix):
            width, resolution = model[len(prefix) :].split("_")
            net = tiny_models.mobilenet_v1(float(width), classes=1001).eval()
            size = int(resolution)
            return tiny_models.macs_by_kind(net, torch.zeros(1, 3, size, size))
    raise ValueError(
        f"model must be one of {', '.join(tiny_models.NAMES)} or mobilenet_v1_<width>_<res>; "
        f"got {model!r}"
    )


def _as_kinds(macs: object) -> tuple[dict[str, int], bool]:
    """(MACs per kind, whether the split is known) from an int or a dict."""
    if isinstance(macs, dict):
        unknown = set(macs) - set(KINDS)
        if unknown:
            raise ValueError(f"macs keys must be among {KINDS}; got {sorted(unknown)}")
        out = {k: int(macs.get(k, 0)) for k in KINDS}
        if any(v < 0 for v in out.values()) or sum(out.values()) <= 0:
            raise ValueError(f"macs must be non-negative with a positive total; got {macs!r}")
        return out, True
    if isinstance(macs, bool) or not isinstance(macs, (int, np.integer)) or macs <= 0:
        raise ValueError(
            "macs must be a positive integer (multiply-accumulates per inference) or a dict "
            f"of them per kind {KINDS}; got {macs!r}"
        )
    return {"conv": int(macs), "depthwise": 0, "linear": 0}, False


# ---------------------------------------------------------------------------------- fitting


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    return nnls(a, b)[0]


def _fit_points(device: str, precision: str, points: list[dict]) -> Fit:
    if not points:
        raise ValueError(f"no published {precision} points for {device!r}")
    macs = np.array([[point_macs(p["model"])[k] for k in KINDS] for p in points], dtype=float)
    latency_s = np.array([p["latency_ms"] / 1e3 for p in points])
    totals = macs.sum(axis=1)
    pooled = float(np.median(latency_s / totals))
    share = (macs / totals[:, None]).max(axis=0)
    fitted = [k for k, s in zip(KINDS, share, strict=True) if s >= MIN_SHARE]
    rates = dict.fromkeys(KINDS, pooled)
    if fitted:
        idx = [KINDS.index(k) for k in fitted]
        rest = np.delete(macs, idx, axis=1).sum(axis=1) * pooled
        a = macs[:, idx] / latency_s[:, None]  # relative error: each row divided by its latency
        b = (latency_s - rest) / latency_s
        solution = _nnls(a, b)
        for k, value in zip(fitted, solution, strict=True):
            rates[k] = float(value) if value > 0 else pooled  # a zero rate would be free work
    powers = [
        p["energy_uj"] / p["energy_run_latency_ms"]
        for p in points
        if p.get("energy_uj") is not None and p.get("energy_run_latency_ms")
    ]
    return Fit(
        device=device,
        precision=precision,
        seconds_per_mac=rates,
        fitted_kinds=tuple(fitted),
        pooled_seconds_per_mac=pooled,
        power_mw=float(statistics.median(powers)) if powers else None,
        points=len(points),
    )


def _points(device: Device, precision: str) -> list[dict]:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")
    chosen = [p for p in device.points if p["precision"] == precision]
    if not chosen:
        raise ValueError(
            f"{device.name!r} has no {precision} points; it has "
            f"{', '.join(device.precisions) or 'none'}"
        )
    return chosen


def fit(device: str, precision: str = "int8") -> Fit:
    """The device's effective rates at ``precision``, fitted to all its points."""
    d = get(device)
    return _fit_points(d.name, precision, _points(d, precision))


def _latency_s(f: Fit, kinds: dict[str, int]) -> float:
    return float(sum(kinds[k] * f.seconds_per_mac[k] for k in KINDS))


def leave_one_out(device: str, precision: str | None = None) -> pd.DataFrame:
    """Each published point estimated from a fit to the device's other points.

    Returns one row per point: ``model``, ``precision``, ``published_ms``, ``estimated_ms``,
    ``error`` (estimated / published − 1) and, where energy is published,
    ``published_uj``, ``estimated_uj``, ``energy_error``.

    Example:
        >>> table = leave_one_out("nucleo-l4r5zi")
        >>> list(table["model"])
        ['kws', 'vww', 'ic', 'ad']
    """
    d = get(device)
    rows = []
    for prec in (precision,) if precision else d.precisions:
        points = _points(d, prec)
        if len(points) < 2:
            raise ValueError(f"{device!r} has {len(points)} {prec} point: nothing to leave out")
        for i, p in enumerate(points):
            f = _fit_points(d.name, prec, points[:i] + points[i + 1 :])
            estimated = _latency_s(f, point_macs(p["model"])) * 1e3
            row = {
                "device": d.name,
                "model": p["model"],
                "precision": prec,
                "published_ms": p["latency_ms"],
                "estimated_ms": estimated,
                "error": estimated / p["latency_ms"] - 1,
            }
            if p.get("energy_uj") is not None and f.power_mw is not None:
                row["published_uj"] = p["energy_uj"]
                row["estimated_uj"] = f.power_mw * estimated
                row["energy_error"] = row["estimated_uj"] / p["energy_uj"] - 1
            rows.append(row)
    return pd.DataFrame(rows)


def _band(value: float, errors: pd.Series) -> tuple[float, float]:
    """Where the true value lies if the estimate errs as it did on the published points."""
    return value / (1 + float(errors.max())), value / (1 + float(errors.min()))


def estimate(
    macs: int | dict,
    *,
    ram_bytes: int,
    flash_bytes: int,
    device: str,
    precision: str = "int8",
) -> DeviceEstimate:
    """Fits (RAM, flash, with margins) and estimated latency / energy of one inference.

    Args:
        macs: multiply-accumulates per inference (``lab.flops.count_flops(...) // 2``), or a
            dict per kind (:func:`lab.tiny_models.macs_by_kind`) for per-kind rates; a plain
            total is priced at the device's pooled rate.
        ram_bytes: the model's peak memory (e.g. :func:`lab.memory.planned_peak`'s
            ``peak_activation_bytes``; weights too when they sit in RAM).
        flash_bytes: what must be stored (the artifact's bytes).
        device: a name from :func:`names`.
        precision: ``"int8"`` or ``"fp32"`` — which published points price it.
    """
    for what, value in (("ram_bytes", ram_bytes), ("flash_bytes", flash_bytes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{what} must be a non-negative integer of bytes; got {value!r}")
    kinds, split_known = _as_kinds(macs)
    d = get(device)
    f = fit(d.name, precision)
    if not split_known:
        f = Fit(**{**f.__dict__, "seconds_per_mac": dict.fromkeys(KINDS, f.pooled_seconds_per_mac)})
    latency_ms = _latency_s(f, kinds) * 1e3
    table = leave_one_out(d.name, precision)
    energy = f.power_mw * latency_ms if f.power_mw is not None else None
    energy_band = (
        _band(energy, table["energy_error"].dropna())
        if energy is not None and "energy_error" in table
        else None
    )
    errors = table["error"].abs()
    if d.measured:
        source = f"estimated from {len(table)} latencies measured on this machine ({d.label})"
    else:
        source = (
            f"estimated from {', '.join(d.sources)} ({len(table)} published {precision} points)"
        )
    return DeviceEstimate(
        device=d.name,
        precision=precision,
        macs=int(sum(kinds.values())),
        ram_bytes=int(ram_bytes),
        flash_bytes=int(flash_bytes),
        device_ram_bytes=d.ram_bytes,
        device_flash_bytes=d.flash_bytes,
        fits_ram=None if d.ram_bytes is None else ram_bytes <= d.ram_bytes,
        fits_flash=None if d.flash_bytes is None else flash_bytes <= d.flash_bytes,
        ram_margin_bytes=None if d.ram_bytes is None else d.ram_bytes - int(ram_bytes),
        flash_margin_bytes=None if d.flash_bytes is None else d.flash_bytes - int(flash_bytes),
        latency_ms=latency_ms,
        latency_ms_band=_band(latency_ms, table["error"]),
        energy_uj=energy,
        energy_uj_band=energy_band,
        source=source,
        error_band=(
            f"leave-one-out on {len(table)} points: median |error| "
            f"{errors.median():.0%}, worst {errors.max():.0%}"
            + ("" if split_known else "; MACs not split by kind: pooled rate")
        ),
    )


def report(
    model,
    example,
    *,
    flash_bytes: int,
    macs: int | dict | None = None,
    precision: str = "int8",
    device_names: list[str] | None = None,
) -> pd.DataFrame:
    """Fits and estimates of one model on every catalog device (that has ``precision`` points).

    RAM needed: on a microcontroller the planned peak of the activations as an arena
    planner frees them (:func:`lab.memory.planned_peak` with ``lifetimes="last-use"``;
    weights execute from flash, as in TFLite Micro and X-CUBE-AI); elsewhere the activations plus the weights. Flash: ``flash_bytes`` (the
    artifact's size on disk).

    Args:
        model: the module as it executes (an int8 runtime plans 1-byte activations).
        example: one input sample with its batch dimension.
        flash_bytes: what must be stored, e.g. ``lab.artifact.save(...)``'s return value.
        macs: MACs per inference (int or per kind); default: counted on ``model`` with
            :func:`lab.tiny_models.macs_by_kind` (pass them for int8 runtimes, whose
            quantized kernels :mod:`lab.flops` does not count).
        precision: which published points price the latency.
        device_names: the devices to report (default: every catalog device with points at
            ``precision``).
    """

    plan = memory.planned_peak(model, example)
    arena = memory.planned_peak(model, example, lifetimes="last-use")  # a microcontroller's
    if macs is None:
        macs = tiny_models.macs_by_kind(model, example)
        if sum(macs.values()) == 0:
            raise ValueError(
                "no multiply-accumulates counted on this model (quantized kernels are not "
                "counted): pass macs=, e.g. counted on its float version"
            )
    rows = []
    for name in device_names or names():
        if name == THIS_MACHINE and device_names is None:
            continue  # timed on request only
        d = get(name)
        if precision not in d.precisions:
            continue
        ram = arena.peak_activation_bytes  # weights run from flash
        if d.kind != "microcontroller":
            ram = plan.peak_activation_bytes + plan.weights_bytes
        est = estimate(
            macs, ram_bytes=ram, flash_bytes=flash_bytes, device=name, precision=precision
        )
        rows.append(
            {
                "device": name,
                "RAM needed (KB)": round(ram / 1024, 1),
                "RAM (KB)": None if d.ram_bytes is None else round(d.ram_bytes / 1024),
                "fits RAM": est.fits_ram,
                "flash needed (KB)": round(flash_bytes / 1024, 1),
                "flash (KB)": None if d.flash_bytes is None else round(d.flash_bytes / 1024),
                "fits flash": est.fits_flash,
                "latency (ms)": round(est.latency_ms, 2),
                "latency band (ms)": tuple(round(v, 2) for v in est.latency_ms_band),
                "energy (µJ)": None if est.energy_uj is None else round(est.energy_uj),
                "source": est.source,
                "error": est.error_band,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ this machine


def _this_machine_hardware(points: tuple[dict, ...] = ()) -> Device:
    import psutil

    freq = psutil.cpu_freq()
    return Device(
        name=THIS_MACHINE,
        label=f"{machine.cpu_model()}, torch fp32, batch 1",
        kind="this machine",
        core=machine.cpu_model(),
        ram_bytes=int(psutil.virtual_memory().total),
        flash_bytes=int(shutil.disk_usage(os.getcwd()).free),
        clock_hz=int(freq.max * 1e6) if freq and freq.max else None,
        runtime="torch (eager, fp32)",
        points=points,
        sources=(),
        measured=True,
    )


def _time_ms(model, x, budget_s: float = 0.25, repeats: int = 7) -> float:
    import torch

    with torch.no_grad():
        for _ in range(3):
            model(x)
        times = []
        start = time.perf_counter()
        while len(times) < repeats or (time.perf_counter() - start < budget_s and len(times) < 200):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


@functools.lru_cache(maxsize=1)
def _this_machine() -> Device:
    """This machine, its four reference-model latencies measured now (once per process)."""

    load = os.getloadavg()[0]
    points = tuple(
        {
            "model": name,
            "precision": "fp32",
            "latency_ms": _time_ms(tiny_models.build(name), tiny_models.example(name)),
            "energy_uj": None,
            "energy_run_latency_ms": None,
            "source": {"measured": time.strftime("%Y-%m-%d %H:%M:%S"), "load_1min": load},
        }
        for name in tiny_models.NAMES
    )
    return _this_machine_hardware(points)
