"""The dashboard's device picker: fits against the catalog's published memory, estimates with
their band, this machine's own measured figures, and a device change that evaluates nothing."""

from __future__ import annotations

import functools
import json
import re
import threading
from dataclasses import replace

import psutil
import pytest

from lab.evaluation.measure import Measurement
from lab.meters import memory
from lab.models import tiny_models
from lab.runtimes import devices
from lab.techniques.configs import Recipe
from widgets import Dashboard
from widgets.device_panel import DevicePanel, device_view, format_memory
from widgets.validation import WidgetValueError

DOC = json.loads(devices.CATALOG_PATH.read_text(encoding="utf-8"))["devices"]


def _published(device: str, model: str, precision: str = "int8") -> float:
    (point,) = [
        p["latency_ms"]["value"]
        for p in DOC[device]["points"]
        if p["model"] == model and p["precision"] == precision
    ]
    return point


def _measurement(model: str = "kws", executes_as: str = "int8 (fbgemm)", **extra) -> Measurement:
    """A Measurement of an MLPerf Tiny model: memory planned on the model itself, MACs counted,
    the other figures plausible (the panel reads memory, bytes, MACs and timings only)."""
    return replace(_base(model), executes_as=executes_as, **extra)


@functools.lru_cache(maxsize=4)
def _base(model: str) -> Measurement:
    net, x = tiny_models.build(model), tiny_models.example(model)
    plan = memory.planned_peak(net, x)
    kinds = tiny_models.macs_by_kind(net, x)
    fields = dict(
        name=model,
        recipe="{}",
        label="no compression",
        split="live",
        n_images=2000,
        accuracy=0.9,
        artifact_bytes=300_000,
        state_dict_bytes=1_200_000,
        parameters=1,
        nonzero_parameters=1,
        resolution=None,
        flops=2 * sum(kinds.values()),
        macs=sum(kinds.values()),
        latency_ms_p50=1.25,
        latency_ms_p95=1.5,
        throughput_ips=None,
        threads=2,
        energy_kwh_per_1k=2e-7,
        co2_g_per_1k=1e-5,
        country="FRA",
        carbon_intensity_g_per_kwh=56.0,
        energy_source="RAPL (test)",
        executes_as="int8 (fbgemm)",
        peak_memory_bytes=plan.peak_bytes,
        peak_activation_bytes=plan.peak_activation_bytes,
        peak_memory_measured_bytes=plan.peak_bytes,
        macs_by_kind=kinds,
    )
    return Measurement(**fields)


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def test_fit_lines_use_the_catalogs_published_memory():
    m = _measurement("kws")
    activations = m.peak_activation_bytes  # a microcontroller's RAM: weights run from flash
    for device in ("disco-f746ng", "nucleo-l4r5zi"):
        ram, flash = DOC[device]["ram_bytes"]["value"], DOC[device]["flash_bytes"]["value"]
        view = device_view(m, device)
        verdict = "fits" if activations <= ram else "does not fit"
        assert view.ram.startswith(f"RAM {_kb(activations)} (activations; weights run from flash)")
        assert f"of {format_memory(ram)} — {verdict}" in view.ram
        assert view.flash.startswith(f"flash {_kb(300_000)} of {format_memory(flash)} — fits")
        assert view.fits is (activations <= ram and 300_000 <= flash)
    # more than the device has: "does not fit", with how much over
    big = _measurement("kws", peak_activation_bytes=400 * 1024)
    view = device_view(big, "disco-f746ng")
    assert view.ram.endswith("of 320 KB — does not fit (80 KB over)") and view.fits is False


def test_estimate_is_labelled_with_its_source_and_covers_the_published_point():
    m = _measurement("kws")
    view = device_view(m, "disco-f746ng")
    source = DOC["disco-f746ng"]["points"][0]["latency_ms"]["source"]
    assert f"estimated from {source['repo']}@{source['commit'][:7]}" in view.latency
    band = re.search(r"\(([\d.,]+)–([\d.,]+) ms\)", view.latency)
    lo, hi = (float(v.replace(",", "")) for v in band.groups())
    assert lo <= _published("disco-f746ng", "kws") <= hi  # the band covers what was published
    worst = devices.leave_one_out("disco-f746ng", "int8")["error"].abs().max()
    assert view.latency.endswith(f"points) ±{100 * worst:.0f} %")
    assert view.band.startswith("error band: leave-one-out on 4 points")
    # energy where the device publishes it (NUCLEO-L4R5ZI), "not published" where it does not
    assert device_view(m, "nucleo-l4r5zi").energy.startswith("energy ≈ ")
    assert "not published" in view.energy


def test_fp32_model_on_an_int8_only_device_shows_the_fit_not_a_latency():
    m = _measurement("kws", executes_as="fp32")
    view = device_view(m, "nucleo-h7a3zi-q")
    assert view.ram.startswith("RAM ") and "fit" in view.ram
    assert view.latency.startswith("latency not estimated") and "int8" in view.latency
    assert "8-bit weights and activations run as int8" in view.latency
    # a device with fp32 points prices it at fp32
    assert "fp32 points" in device_view(m, "raspberry-pi-4").latency


def test_this_machine_is_measured_not_estimated():
    m = _measurement("kws")
    view = device_view(m, "this-machine")
    assert view.latency == "latency 1.25 ms per inference — measured on this machine"
    assert view.energy.startswith("energy 720.0 µJ per inference — measured")  # 2e-7 kWh / 1k
    assert "estimated" not in view.ram + view.latency + view.energy and view.band == ""
    total = psutil.virtual_memory().total  # this machine's RAM, read independently
    assert f"of {format_memory(total)} — fits" in view.ram


def test_bad_device_and_missing_memory_are_refused():
    m = _measurement("ad")
    with pytest.raises(ValueError, match="device must be one of 'nucleo-l4r5zi'"):
        device_view(m, "arduino")
    with pytest.raises(ValueError, match="no planned peak memory for ad"):
        device_view(_measurement("ad", peak_memory_bytes=None), "this-machine")
    panel = DevicePanel()
    try:
        with pytest.raises(WidgetValueError, match="device must be one of"):
            panel.device = "arduino"
        assert panel.device == "this-machine"
    finally:
        panel.close()


def test_format_memory_uses_datasheet_units():
    assert format_memory(256 * 1024) == "256 KB"
    assert format_memory(2 * 2**20) == "2.0 MB"
    assert format_memory(4 * 2**30) == "4.0 GB"


class RealMeasurements:
    """A custom evaluator returning real Measurements of MLPerf Tiny's KWS model, counted."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, model, recipe: Recipe, **kwargs) -> Measurement:
        with self.lock:
            self.calls += 1
        sparsity = recipe.prune.sparsity if recipe.prune else 0.0
        return _measurement(
            "kws",
            name=kwargs["name"],
            recipe=recipe.to_json(),
            label=recipe.describe(),
            artifact_bytes=int(300_000 * (1 - sparsity)) + 1000,
            country=kwargs["country"],
        )


def test_device_change_reprices_without_evaluating():
    evaluator = RealMeasurements()
    dash = Dashboard(model="mlp", evaluator=evaluator)
    try:
        dash.sparsity.value = 0.5
        assert dash.wait(30) and dash.device.wait(60)
        assert dash.device.view.device == "this-machine"
        assert "measured on this machine" in dash.device.view.latency
        calls, evaluations, runs = evaluator.calls, dash.evaluations, dash.worker.runs
        outcome, measurement = dash.last_outcome, dash.measurement
        for device in ("disco-f746ng", "raspberry-pi-4", "nucleo-l4r5zi", "this-machine"):
            dash.device.dropdown.value = device  # as a user picks it
            assert dash.device.wait(120) and dash.device.error == "", dash.device.error
            assert dash.device.view.device == device
        dash.device.device = "disco-f746ng"
        assert dash.device.wait(60)
        assert "of 320 KB" in dash.device.report.value
        assert "estimated from mlcommons/tiny_results_v1.0" in dash.device.report.value
        assert dash.wait(5)
        assert (evaluator.calls, dash.evaluations, dash.worker.runs) == (calls, evaluations, runs)
        # not even re-shown from the session's memo: the panel re-read what was on screen
        assert dash.last_outcome is outcome and dash.measurement is measurement
        # the next measurement is shown on the chosen device
        dash.sparsity.value = 0.9
        assert dash.wait(30) and dash.device.wait(60)
        assert dash.device.view.device == "disco-f746ng"
        assert dash.device.view.flash.startswith(f"flash {_kb(30_000 + 1000)} of 1.0 MB")
    finally:
        dash.close()
    assert not dash.device._worker._thread.is_alive()
