"""Energy and CO2 of inference, measured with codecarbon — and never allowed to break the experiment.

One offline tracker per process (codecarbon's first ``start()`` costs ~1.5 s), one
task per measured workload (~1–10 ms each). CO2 is energy × the chosen country's
carbon intensity from codecarbon's bundled energy-mix data, so the same measured
energy can be priced for any country without a new tracker.

The *provenance* of the power figure is always reported: ``RAPL`` when the CPU's
energy counters are readable, ``TDP`` when codecarbon uses the CPU's rated power,
``CPU-load estimate`` when it scales a TDP by this process's CPU load (the usual
case in containers), ``constant`` when it falls back to a fixed per-core power.
RAM power is modelled by codecarbon, not measured.

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
    "carbon_intensity",
    "countries",
    "kg_per_year",
    "measure_energy",
    "validate_country",
]

DEFAULT_COUNTRY = "FRA"
_ALPHA3 = re.compile("[A-Z]{3}")
DAYS_PER_YEAR = 365
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
    provenance: (
        str  # e.g. "CPU-load estimate (AMD EPYC, TDP 8 W) + modelled RAM" or "unavailable: …"
    )

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
                tracking_mode="process",
                measure_power_secs=60,
            )
            tracker.start()
            cpu = next((h for h in tracker._hardware if type(h).__name__ == "CPU"), None)
            if cpu is None:
                source = "no CPU power source found"
            else:
                mode = _MODES.get(getattr(cpu, "_mode", ""), str(getattr(cpu, "_mode", "?")))
                model = getattr(cpu, "_model", "?")
                tdp = getattr(cpu, "_tdp", None)
                source = f"{mode} ({model}" + (f", TDP {tdp} W" if tdp else "") + ")"
            self.provenance = f"codecarbon {source} + modelled RAM"
            self._tracker = tracker
        except Exception as exc:  # codecarbon must never break the experiment
            self._failure = f"{type(exc).__name__}: {exc}"
            self.provenance = f"unavailable: {self._failure}"


_TRACKER = _Tracker()


def measure_energy(workload: Callable[[], object]) -> EnergyReading:
    """Run ``workload()`` once as a codecarbon task and return its energy.

    The workload always runs; if codecarbon fails, the reading says why.
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
    return EnergyReading(float(result.energy_consumed), float(result.duration), _TRACKER.provenance)
