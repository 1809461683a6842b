"""Energy and CO2 of inference, measured with codecarbon — and never allowed to break the experiment.

One offline tracker per process (codecarbon's first ``start()`` costs ~1.5 s), one
task per measured workload (~1–10 ms each). CO2 is energy × the chosen country's
carbon intensity from codecarbon's bundled energy-mix data, so the same measured
energy can be priced for any country without a new tracker.

The tracker runs in codecarbon's ``process`` tracking mode: energy is attributed to
*this* Python process (and its children), not to the whole machine, so other jobs on a
shared machine do not inflate the figures. Without RAPL, codecarbon then estimates CPU
power as ``TDP × (CPU-seconds this process used / wall seconds) / logical CPUs`` (read
from ``psutil``'s per-process CPU times), and RAM power from a DIMM model of the memory
this process holds (5 W per DIMM, two DIMMs at least on x86, so 10 W minimum).

The *provenance* of the power figure is always reported: ``RAPL`` when the CPU's
energy counters are readable (they count the whole CPU package, whatever the mode),
``TDP`` when codecarbon uses the CPU's rated power, ``CPU-load estimate`` when it
scales a TDP by the CPU load (the usual case in containers), ``constant`` when it
falls back to a fixed per-core power; then the tracking mode and the machine's 1-minute
load average when the reading was taken. :func:`method` says how *this* machine
measures, and why. RAM power is modelled by codecarbon, not measured.

With ``LAB_DISABLE_ENERGY=1`` codecarbon is never imported; when it cannot be imported
or fails at any step, readings say ``unavailable: <reason>``, :func:`validate_country`
accepts any well-formed alpha-3 code and :func:`carbon_intensity` is NaN — the rest of
an evaluation is unaffected.

Example:
    >>> reading = measure_energy(lambda: sum(range(10_000)))
    >>> reading.available or reading.reason != ""
    True
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "EnergyReading",
    "break_even_inferences",
    "carbon_intensity",
    "countries",
    "grid",
    "kg_per_year",
    "measure_energy",
    "method",
    "validate_country",
    "yearly_co2_kg",
]

DEFAULT_COUNTRY = "FRA"
_ALPHA3 = re.compile("[A-Z]{3}")
DAYS_PER_YEAR = 365
TRACKING_MODE = "process"  # codecarbon's tracking_mode: this process, not the whole machine
RAPL_DIR = "/sys/class/powercap/intel-rapl"
_MODES = {
    "intel_rapl": "RAPL",
    "cpu_load": "CPU-load estimate",
    "tdp": "TDP",
    "constant": "constant",
    "apple_powermetrics": "powermetrics",
    "amd_rapl": "RAPL",
}


@dataclass(frozen=True)
class EnergyReading:
    """Energy (kWh) of one workload, with where the power figure came from; or why it is unavailable."""

    kwh: float | None
    seconds: float | None
    # e.g. "codecarbon CPU-load estimate, process mode (AMD EPYC, TDP 8 W) + modelled RAM;
    # 1-min load 0.41", or "unavailable: <reason>"
    provenance: str
    cpu_kwh: float | None = None  # the CPU's share of ``kwh``
    ram_kwh: float | None = None  # the (modelled) RAM's share of ``kwh``
    load_1min: float | None = None  # the machine's 1-minute load average at the end

    @property
    def available(self) -> bool:
        return self.kwh is not None

    @property
    def reason(self) -> str:
        return "" if self.available else self.provenance

    def co2_grams(self, country: str) -> float | None:
        """CO2-equivalent in grams for ``country`` (ISO 3166 alpha-3), or None when unavailable."""
        if self.kwh is None:
            return None
        return self.kwh * carbon_intensity(country)


def _disabled() -> bool:
    """True when ``LAB_DISABLE_ENERGY`` is set: codecarbon is then never imported."""
    return bool(os.environ.get("LAB_DISABLE_ENERGY"))


@lru_cache(maxsize=1)
def _energy_mix() -> dict:
    from codecarbon.input import DataSource

    return DataSource().get_global_energy_mix_data()


def _energy_mix_or_none() -> dict | None:
    """codecarbon's per-country data, or None when energy is disabled or codecarbon fails."""
    if _disabled():
        return None
    try:
        return _energy_mix()
    except Exception:  # not installed, broken install, unreadable data: energy is optional
        return None


def countries() -> dict[str, str]:
    """ISO alpha-3 code → country name, for every country codecarbon has energy-mix data for.

    Only :data:`DEFAULT_COUNTRY` when codecarbon is disabled or unavailable.
    """
    mix = _energy_mix_or_none()
    if mix is None:
        return {DEFAULT_COUNTRY: DEFAULT_COUNTRY}
    return {code: entry.get("country_name", code) for code, entry in sorted(mix.items())}


def grid(country: str) -> dict:
    """What codecarbon's bundled data says about ``country``'s electricity grid.

    Keys: ``country`` (alpha-3), ``name``, ``carbon_intensity_g_per_kwh``, ``year`` of the
    data, ``low_carbon_share`` (nuclear + renewables, 0–1) and ``source``. Intensity and
    share are NaN, and year None, when codecarbon is disabled or unavailable.

    Example:
        >>> grid("FRA")["carbon_intensity_g_per_kwh"] == carbon_intensity("FRA")
        True
    """
    code = validate_country(country)
    mix = _energy_mix_or_none()
    entry = (mix or {}).get(code, {})
    total, low = entry.get("total_TWh"), entry.get("low_carbon_TWh")
    year = entry.get("year")
    version = "?"
    if mix is not None:
        try:
            import codecarbon

            version = codecarbon.__version__
        except Exception:
            pass
    return {
        "country": code,
        "name": entry.get("country_name", code),
        "carbon_intensity_g_per_kwh": carbon_intensity(code),
        "year": year,
        "low_carbon_share": low / total if total and low is not None else math.nan,
        "source": (
            f"codecarbon {version}'s bundled energy mix ({year})"
            if mix is not None
            else "unavailable: codecarbon disabled or not importable"
        ),
    }


def validate_country(country: str) -> str:
    """Upper-cased ``country`` if codecarbon knows it, else a ValueError naming valid codes.

    Without codecarbon (disabled or not importable) any three-letter code is accepted.
    """
    code = str(country).upper()
    examples = ", ".join(["FRA", "DEU", "USA", "GBR", "IND", "CHN", "BRA", "NOR"])
    mix = _energy_mix_or_none()
    if mix is None:
        if _ALPHA3.fullmatch(code):
            return code
        raise ValueError(
            f"unknown country code {country!r}: use an ISO 3166 alpha-3 code, e.g. {examples}"
        )
    if code not in mix:
        raise ValueError(
            f"unknown country code {country!r}: use an ISO 3166 alpha-3 code known to codecarbon, "
            f"e.g. {examples} ({len(mix)} available: lab.energy.countries())"
        )
    return code


def yearly_co2_kg(per_1k_kwh: float | None, per_day, country: str = DEFAULT_COUNTRY):
    """kg CO2-eq per year of serving ``per_day`` inferences a day at ``per_1k_kwh`` kWh per 1,000.

    ``per_day`` may be a number or a NumPy array (for a plot). None when the energy is
    unknown (codecarbon unavailable); NaN when the country's intensity is unknown.

    Example:
        >>> yearly_co2_kg(1e-3, 1000, "FRA") == kg_per_year(1000, 1e-3 * carbon_intensity("FRA"))
        True
    """
    if per_1k_kwh is None:
        return None
    return kg_per_year(per_day, per_1k_kwh * carbon_intensity(country))


def break_even_inferences(train_kwh: float | None, per_1k_kwh: float | None) -> float | None:
    """After how many inferences their energy equals the training energy ``train_kwh``.

    Both energies must come from the same kind of measurement (see :func:`method`); the
    answer does not depend on the country, since both are priced with the same grid.

    Example:
        >>> break_even_inferences(0.005, 1e-6)  # 5 Wh of training, 1 mWh per 1,000 images
        5000000.0
    """
    if train_kwh is None or per_1k_kwh is None or per_1k_kwh <= 0:
        return None
    return train_kwh / per_1k_kwh * 1000


def kg_per_year(per_day: float, co2_g_per_1k: float | None) -> float | None:
    """kg CO2-eq per year for ``per_day`` inferences at ``co2_g_per_1k`` grams per 1,000.

    Example:
        >>> kg_per_year(1000, 1.0)  # 1 g a day
        0.365
    """
    if co2_g_per_1k is None:
        return None
    return per_day / 1000 * co2_g_per_1k * DAYS_PER_YEAR / 1000


def carbon_intensity(country: str) -> float:
    """Grid carbon intensity in g CO2-eq per kWh for ``country`` (codecarbon's data).

    NaN when codecarbon is disabled or fails (then no energy is measured either).
    """
    code = validate_country(country)
    if _disabled():
        return math.nan
    try:
        return _carbon_intensity(code)
    except Exception:  # energy never breaks the experiment
        return math.nan


@lru_cache(maxsize=256)
def _carbon_intensity(code: str) -> float:
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    kg = Emissions(DataSource()).get_country_emissions(
        Energy.from_energy(kWh=1.0), GeoMetadata(code)
    )
    return kg * 1000.0


def _load_1min() -> float | None:
    """The machine's 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _cpu_hardware(tracker):
    return next((h for h in tracker._hardware if type(h).__name__ == "CPU"), None)


class _Tracker:
    """The process's single codecarbon tracker, started lazily; remembers why it failed, if it did."""

    def __init__(self) -> None:
        self._tracker = None
        self._failure: str | None = None
        self._lock = threading.Lock()
        self.provenance = "unavailable: not started"

    def get(self):
        with self._lock:
            if self._tracker is None and self._failure is None:
                self._start()
            return self._tracker

    def _start(self) -> None:
        if _disabled():
            self._failure = "disabled by LAB_DISABLE_ENERGY"
            self.provenance = f"unavailable: {self._failure}"
            return
        try:
            from codecarbon import OfflineEmissionsTracker

            logging.getLogger("codecarbon").setLevel(logging.ERROR)  # after import: it sets its own

            tracker = OfflineEmissionsTracker(
                country_iso_code=DEFAULT_COUNTRY,
                output_methods=[],
                log_level="error",
                allow_multiple_runs=True,
                tracking_mode=TRACKING_MODE,
                measure_power_secs=60,
            )
            tracker.start()
            # The first task after start() sets codecarbon's emissions engine up (~0.1 CPU-s,
            # before its measurement window opens): an empty task here keeps that one-off
            # cost out of the first measured workload's call. If it fails,
            # measure_energy's own tasks will say why.
            try:
                tracker.start_task()
                tracker.stop_task()
            except Exception:
                pass
            cpu = _cpu_hardware(tracker)
            if cpu is None:
                source = "no CPU power source found"
            else:
                mode = _MODES.get(getattr(cpu, "_mode", ""), str(getattr(cpu, "_mode", "?")))
                model = getattr(cpu, "_model", "?")
                tdp = getattr(cpu, "_tdp", None)
                scope = (
                    "whole CPU package"
                    if mode == "RAPL"
                    else f"{getattr(cpu, '_tracking_mode', TRACKING_MODE)} mode"
                )
                source = f"{mode}, {scope} ({model}" + (f", TDP {tdp} W" if tdp else "") + ")"
            self.provenance = f"codecarbon {source} + modelled RAM"
            self._tracker = tracker
        except Exception as exc:  # codecarbon must never break the experiment
            self._failure = f"{type(exc).__name__}: {exc}"
            self.provenance = f"unavailable: {self._failure}"


_TRACKER = _Tracker()


def _with_load(provenance: str, load: float | None) -> str:
    return provenance if load is None else f"{provenance}; 1-min load {load:.2f}"


def _kwh(result, name: str) -> float | None:
    value = getattr(result, name, None)
    return None if value is None else float(value)


def measure_energy(workload: Callable[[], object]) -> EnergyReading:
    """Run ``workload()`` once as a codecarbon task and return its energy.

    The workload always runs (its exceptions propagate); if codecarbon fails, the
    reading says why. The provenance ends with the machine's 1-minute load average
    taken when the workload finished.
    """
    tracker = _TRACKER.get()
    if tracker is None:
        workload()
        return EnergyReading(None, None, _TRACKER.provenance)
    try:
        tracker.start_task()
    except Exception as exc:
        workload()
        return EnergyReading(None, None, f"unavailable: {type(exc).__name__}: {exc}")
    reason = "no task data"
    try:
        workload()
    finally:
        try:
            result = tracker.stop_task()
        except Exception as exc:
            result, reason = None, f"{type(exc).__name__}: {exc}"
    if result is None:
        return EnergyReading(None, None, f"unavailable: {reason}")
    load = _load_1min()
    return EnergyReading(
        float(result.energy_consumed),
        float(result.duration),
        _with_load(_TRACKER.provenance, load),
        cpu_kwh=_kwh(result, "cpu_energy"),
        ram_kwh=_kwh(result, "ram_energy"),
        load_1min=load,
    )


# ------------------------------------------------------------------ how this machine measures


def _rapl_status() -> tuple[bool, str]:
    """Whether codecarbon can read RAPL counters here, and why (not)."""
    try:
        from codecarbon.core.cpu import is_rapl_available

        available = bool(is_rapl_available())
    except Exception as exc:
        return False, f"cannot check ({type(exc).__name__}: {exc})"
    if available:
        return True, f"readable energy counters under {RAPL_DIR}"
    if not os.path.isdir(RAPL_DIR):
        return False, (
            f"no {RAPL_DIR}: the kernel exposes no RAPL energy counters here "
            "(the usual case in virtual machines and containers)"
        )
    return False, (
        f"{RAPL_DIR} exists but its energy_uj files are not readable by this user "
        "(root-only since CVE-2020-8694; a sysadmin can chmod them)"
    )


def _tdp_origin(cpu) -> str:
    """Where codecarbon's TDP figure for ``cpu`` comes from."""
    model, tdp = getattr(cpu, "_model", None), getattr(cpu, "_tdp", None)
    if getattr(cpu, "_is_generic_tdp", False):
        return f"codecarbon's generic {tdp} W (no TDP found for {model!r})"
    try:
        from codecarbon.core.cpu import DEFAULT_POWER_PER_CORE, TDP
        from codecarbon.core.util import count_cpus

        table = object.__new__(TDP)._get_cpu_power_from_registry(model)
    except Exception as exc:
        return f"unknown ({type(exc).__name__}: {exc})"
    if table:
        return f"codecarbon's CPU table: {model} → {table:g} W"
    return (
        f"codecarbon's default {DEFAULT_POWER_PER_CORE} W per logical CPU × {count_cpus()} "
        f"({model!r} is not in its CPU table), not a rated TDP"
    )


def method() -> dict:
    """How energy is measured on this machine: power source, tracking mode, TDP, RAPL, and why.

    Starts the tracker if it has not started yet (about 1.5 s once per process).

    Keys: ``source`` (``RAPL`` / ``TDP`` / ``CPU-load estimate`` / ``constant`` /
    ``unavailable``), ``tracking_mode``, ``cpu_model``, ``tdp_w`` and ``tdp_origin``,
    ``rapl_available`` and ``rapl_reason``, ``cpu_power_formula``, ``ram`` (how RAM
    power is modelled), ``logical_cpus``, ``load_1min``, ``codecarbon`` (version),
    ``provenance`` (the string every reading carries) and ``why`` (one paragraph).
    """
    info: dict = {
        "source": "unavailable",
        "tracking_mode": TRACKING_MODE,
        "cpu_model": None,
        "tdp_w": None,
        "tdp_origin": None,
        "rapl_available": None,
        "rapl_reason": None,
        "cpu_power_formula": None,
        "ram": None,
        "logical_cpus": os.cpu_count(),
        "load_1min": _load_1min(),
        "codecarbon": None,
        "provenance": None,
        "why": None,
    }
    tracker = _TRACKER.get()
    info["provenance"] = _TRACKER.provenance
    if tracker is None:
        info["why"] = f"no energy figures: {_TRACKER.provenance.removeprefix('unavailable: ')}"
        return info
    try:
        import codecarbon

        info["codecarbon"] = codecarbon.__version__
        info["rapl_available"], info["rapl_reason"] = _rapl_status()
        cpu = _cpu_hardware(tracker)
        raw = getattr(cpu, "_mode", "") if cpu is not None else ""
        source = _MODES.get(raw, raw or "none")
        info["source"] = source
        info["tracking_mode"] = getattr(cpu, "_tracking_mode", TRACKING_MODE)
        info["cpu_model"] = getattr(cpu, "_model", None)
        info["tdp_w"] = getattr(cpu, "_tdp", None)
        ncpu = getattr(cpu, "_cpu_count", None) or os.cpu_count()
        if source == "RAPL":
            info["tdp_origin"] = "not used: RAPL counters are read"
            info["cpu_power_formula"] = (
                "energy read from the CPU package's RAPL counters (the whole package: "
                "other processes included, whatever the tracking mode)"
            )
            info["why"] = f"RAPL counters are readable ({info['rapl_reason']})."
        else:
            info["tdp_origin"] = _tdp_origin(cpu) if cpu is not None else None
            if source == "CPU-load estimate" and info["tracking_mode"] == "process":
                formula = (
                    f"TDP {info['tdp_w']} W × (this process's CPU-seconds / wall seconds) / "
                    f"{ncpu} logical CPUs"
                )
            elif source == "CPU-load estimate":
                formula = f"TDP {info['tdp_w']} W × (0.1 + 0.9 × machine CPU load³)"
            else:
                formula = f"a constant share of TDP {info['tdp_w']} W"
            info["cpu_power_formula"] = formula
            info["why"] = (
                f"No RAPL ({info['rapl_reason']}), so codecarbon estimates CPU power from "
                f"a TDP and the CPU load: {formula}. TDP: {info['tdp_origin']}. "
                "The figures are estimates, comparable with each other on this machine, "
                "not metered watts."
            )
        info["ram"] = (
            "modelled, not measured: 5 W per estimated DIMM of the memory "
            + ("this process holds" if info["tracking_mode"] == "process" else "installed")
            + " (x86: 2 DIMMs minimum, so ≥ 10 W)"
        )
    except Exception as exc:  # describing the method must not break the notebook either
        info["why"] = f"could not describe the method: {type(exc).__name__}: {exc}"
    return info
