"""Energy and CO2: how this machine measures, deployment-scale helpers, and training energy."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest

from lab import energy, zoo
from lab.__main__ import main

SOURCES = {"RAPL", "TDP", "CPU-load estimate", "constant", "powermetrics", "unavailable"}


def _available() -> bool:
    return energy._TRACKER.get() is not None


def _strict_json(text: str):
    """``json.loads`` that refuses NaN and Infinity (not JSON, though Python writes them)."""

    def reject(constant: str):
        raise ValueError(f"{constant} in a model card")

    return json.loads(text, parse_constant=reject)


# ------------------------------------------------------------------ how this machine measures


def test_method_says_which_source_and_why():
    info = energy.method()
    assert info["source"] in SOURCES
    assert info["tracking_mode"] == "process"
    assert info["why"]
    if info["source"] == "unavailable":
        pytest.skip(info["why"])
    assert isinstance(info["rapl_available"], bool) and info["rapl_reason"]
    assert (info["source"] == "RAPL") == info["rapl_available"]
    assert info["cpu_power_formula"] and info["ram"].startswith("modelled")
    if info["source"] != "RAPL":
        assert info["tdp_w"] > 0 and info["tdp_origin"]
    assert info["provenance"].startswith("codecarbon ")


def test_method_without_codecarbon_says_why(monkeypatch, fresh_energy):
    monkeypatch.setenv("LAB_DISABLE_ENERGY", "1")
    info = energy.method()
    assert info["source"] == "unavailable"
    assert "LAB_DISABLE_ENERGY" in info["why"]


def test_a_reading_states_mode_source_and_load():
    reading = energy.measure_energy(lambda: sum(range(200_000)))
    if not reading.available:
        pytest.skip(reading.reason)
    assert reading.kwh > 0 and reading.seconds > 0
    assert reading.cpu_kwh is not None and reading.ram_kwh is not None
    assert reading.cpu_kwh + reading.ram_kwh == pytest.approx(reading.kwh, rel=1e-6)
    source = energy.method()["source"]
    assert source in reading.provenance
    assert "whole CPU package" in reading.provenance or "process mode" in reading.provenance
    if reading.load_1min is not None:
        assert f"1-min load {reading.load_1min:.2f}" in reading.provenance


# ------------------------------------------------------------------ deployment-scale helpers


def test_yearly_co2_is_energy_times_intensity_times_volume():
    per_1k = 2e-5  # kWh per 1,000 inferences
    for country in ("FRA", "USA", "IND"):
        grams_per_1k = per_1k * energy.carbon_intensity(country)
        expected = 1e6 / 1000 * grams_per_1k * 365 / 1000
        assert energy.yearly_co2_kg(per_1k, 1e6, country) == pytest.approx(expected)
    volumes = np.array([1e3, 1e6, 1e9])
    curve = energy.yearly_co2_kg(per_1k, volumes, "USA")
    assert curve.shape == (3,) and np.allclose(curve[1:] / curve[:-1], 1000)
    assert energy.yearly_co2_kg(None, 1e6, "FRA") is None


def test_break_even_inferences():
    assert energy.break_even_inferences(0.01, 2e-5) == pytest.approx(0.01 / 2e-8)
    assert energy.break_even_inferences(None, 2e-5) is None
    assert energy.break_even_inferences(0.01, None) is None
    assert energy.break_even_inferences(0.01, 0.0) is None


# ------------------------------------------------------------------ training energy


def _check_training_fields(meta: dict) -> None:
    assert set(zoo.TRAIN_ENERGY_FIELDS) <= set(meta)
    assert meta["train_seconds"] >= 0  # the training loop's time, 0.1 s resolution
    assert meta["train_machine"] and meta["train_energy_run"]
    if meta["train_energy_source"].startswith("unavailable: "):
        assert meta["train_energy_kwh"] is None and meta["train_co2_g"] is None
        assert meta["train_energy_seconds"] is None
        return
    assert meta["train_energy_kwh"] > 0 and meta["train_energy_seconds"] > 0
    assert meta["train_co2_g"] == pytest.approx(
        meta["train_energy_kwh"] * meta["train_carbon_intensity_g_per_kwh"]
    )
    assert meta["train_carbon_intensity_g_per_kwh"] == pytest.approx(
        energy.carbon_intensity(meta["train_country"])
    )


def test_quick_training_run_records_time_energy_and_co2(tmp_path):
    config = replace(zoo.spec("mlp").train, max_batches=3)
    meta = zoo.train_and_save("mlp", tmp_path, config, progress=False, country="USA")
    assert meta["train_country"] == "USA"
    _check_training_fields(meta)
    assert _strict_json((tmp_path / "mlp.json").read_text()) == json.loads(json.dumps(meta))
    if _available():
        assert meta["train_energy_source"].startswith("codecarbon ")


def test_training_without_codecarbon_still_trains_and_says_why(tmp_path, monkeypatch, fresh_energy):
    monkeypatch.setenv("LAB_DISABLE_ENERGY", "1")
    config = replace(zoo.spec("mlp").train, max_batches=2)
    meta = zoo.train_and_save("mlp", tmp_path, config, progress=False)
    assert meta["train_energy_source"] == "unavailable: disabled by LAB_DISABLE_ENERGY"
    _check_training_fields(meta)
    assert zoo.load("mlp", tmp_path) is not None  # the checkpoint is there and verifies
    _strict_json((tmp_path / "mlp.json").read_text())  # None, never NaN


def test_cli_train_writes_the_energy_fields(tmp_path, capsys):
    assert (
        main(["train", "mlp", "--epochs", "0.005", "--out", str(tmp_path), "--country", "IND"]) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    card = _strict_json((tmp_path / "mlp.json").read_text())
    assert printed == card and card["train_country"] == "IND"
    _check_training_fields(card)


def test_cli_energy_only_keeps_the_checkpoint_and_records_a_rerun(tmp_path, capsys):
    for suffix in (".pt", ".json"):
        source = zoo.CHECKPOINT_DIR / f"mlp{suffix}"
        if not source.is_file():
            pytest.skip(f"{source} is not there yet")
        shutil.copy(source, tmp_path / f"mlp{suffix}")
    weights = (tmp_path / "mlp.pt").read_bytes()
    before = json.loads((tmp_path / "mlp.json").read_text())
    assert main(["train", "mlp", "--epochs", "0.005", "--out", str(tmp_path), "--energy-only"]) == 0
    capsys.readouterr()
    after = json.loads((tmp_path / "mlp.json").read_text())
    assert (tmp_path / "mlp.pt").read_bytes() == weights  # the checkpoint is kept
    assert zoo.load("mlp", tmp_path) is not None
    kept = {k: v for k, v in before.items() if k not in zoo.TRAIN_ENERGY_FIELDS}
    assert {k: after[k] for k in kept} == kept  # nothing else in the card changed
    assert after["train_energy_run"].startswith("re-run of a recipe differing from the card's")
    assert "epochs" in after["train_energy_run"]
    _check_training_fields(after)
    assert not math.isnan(after["train_energy_seconds"] or 0.0)
