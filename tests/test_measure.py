"""Measurement: accuracy, bytes on disk, FLOPs, latency, energy/CO2, and the persistent store."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading

import pytest
import torch

from lab import artifact, energy, kinds, measure, store
from lab.techniques import QuantConfig, Recipe


def test_flops_of_a_hand_checked_model(tiny_model):
    # conv 1→4, 3×3, on 28×28 (padding 1): 4·9·784 MACs; linear 4→10: 40 MACs; FLOPs = 2·MACs
    assert measure.count_flops(tiny_model, 28) == 2 * (4 * 9 * 28 * 28 + 4 * 10)
    assert measure.count_flops(tiny_model, 14) == 2 * (4 * 9 * 14 * 14 + 4 * 10)


def test_evaluate_reports_everything(tiny_model):
    result = measure.evaluate(tiny_model, split="live", effort="quick", name="tiny")
    row = result.to_row()
    for key in (
        "accuracy",
        "artifact_bytes",
        "state_dict_bytes",
        "parameters",
        "nonzero_parameters",
        "flops",
        "macs",
        "latency_ms_p50",
        "latency_ms_p95",
        "throughput_ips",
        "threads",
        "energy_kwh_per_1k",
        "co2_g_per_1k",
        "energy_source",
        "country",
    ):
        assert key in row
    assert 0.0 <= result.accuracy <= 1.0 and result.n_images == 2_000
    assert result.parameters == sum(p.numel() for p in tiny_model.parameters())
    assert result.latency_ms_p95 >= result.latency_ms_p50 > 0
    assert result.threads == torch.get_num_threads()
    assert result.macs * 2 == result.flops == measure.count_flops(tiny_model)
    assert result.energy_source  # provenance is always stated
    assert len(result.to_frame()) == 1


def test_artifact_size_is_the_file_size_on_disk(tiny_model, tmp_path):
    result = measure.evaluate(tiny_model, effort="quick")
    path = tmp_path / "m.lab"
    written = artifact.save(tiny_model, path)
    assert written == os.path.getsize(path) == result.artifact_bytes
    torch.save(tiny_model.state_dict(), tmp_path / "state_dict.pt")
    assert result.state_dict_bytes == os.path.getsize(tmp_path / "state_dict.pt")


def test_saved_artifact_reloads_to_identical_logits(trained_cnn, tmp_path):
    artifact.save(trained_cnn, tmp_path / "cnn.lab")
    reloaded = artifact.load(tmp_path / "cnn.lab")
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(trained_cnn(x), reloaded(x))


def test_accuracy_matches_an_independent_loop(trained_cnn):
    from lab import data

    live = data.load_split("live")
    with torch.no_grad():
        expected = float((trained_cnn(live.images).argmax(1) == live.labels).float().mean())
    assert measure.evaluate(trained_cnn, effort="quick").accuracy == pytest.approx(expected)


def test_results_persist_across_a_restart(tiny_model, tmp_path):
    path = tmp_path / "persist.sqlite"
    first = measure.evaluate(tiny_model, effort="quick", store=store.ResultStore(path))
    assert not first.cached
    again = measure.evaluate(
        tiny_model, effort="quick", store=store.ResultStore(path)
    )  # new process-like
    assert again.cached and again.accuracy == first.accuracy
    frame = store.ResultStore(path).to_frame()
    assert len(frame) == 1 and frame.loc[0, "accuracy"] == first.accuracy
    csv = store.ResultStore(path).export_csv(tmp_path / "out.csv")
    assert "artifact_bytes" in csv.read_text().splitlines()[0]


def test_recipe_is_part_of_the_key_and_model_is_untouched(tiny_model):
    before = measure.fingerprint(tiny_model)
    plain = measure.evaluate(tiny_model, effort="quick")
    quant = measure.evaluate(tiny_model, Recipe(quant=QuantConfig(bits=4)), effort="quick")
    assert not quant.cached and quant.artifact_bytes < plain.artifact_bytes
    assert measure.fingerprint(tiny_model) == before


def test_co2_is_energy_times_the_countrys_intensity(tiny_model):
    fra = measure.evaluate(tiny_model, effort="quick", country="FRA")
    if fra.energy_kwh_per_1k is None:
        pytest.skip(fra.energy_source)
    assert fra.co2_g_per_1k == pytest.approx(fra.energy_kwh_per_1k * energy.carbon_intensity("FRA"))
    assert (
        energy.carbon_intensity("IND")
        > energy.carbon_intensity("USA")
        > energy.carbon_intensity("FRA")
    )


def test_bad_input_gets_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="alpha-3"):
        measure.evaluate(tiny_model, country="France")
    with pytest.raises(ValueError, match="live, val, test"):
        measure.evaluate(tiny_model, split="train")
    with pytest.raises(ValueError, match="quick"):
        measure.evaluate(tiny_model, effort="slow")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        measure.evaluate("cnn")


# ---------------------------------------- energy never breaks the experiment (real branches)


def _no_codecarbon(monkeypatch) -> None:
    """Make every ``import codecarbon…`` fail, as on a machine without it."""
    for name in [n for n in sys.modules if n == "codecarbon" or n.startswith("codecarbon.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "codecarbon", None)


class _Task:
    energy_consumed, duration = 1e-6, 0.01


def _fake_tracker(monkeypatch, fail: str) -> None:
    """codecarbon importable, but its tracker raises in method ``fail``."""
    import codecarbon

    class Tracker:
        _hardware: list = []

        def __init__(self, **kwargs) -> None:
            if fail == "__init__":
                raise RuntimeError("no RAPL")

        def start(self) -> None:
            if fail == "start":
                raise RuntimeError("no RAPL")

        def start_task(self) -> None:
            if fail == "start_task":
                raise RuntimeError("no RAPL")

        def stop_task(self) -> _Task:
            if fail == "stop_task":
                raise RuntimeError("no RAPL")
            return _Task()

    monkeypatch.setattr(codecarbon, "OfflineEmissionsTracker", Tracker)


# Every place codecarbon can fail; a new failure point is one more entry.
FAILURES = ["import", "__init__", "start", "start_task", "stop_task"]


@pytest.mark.parametrize("fail", FAILURES)
def test_codecarbon_failure_leaves_everything_else_working(
    tiny_model, monkeypatch, fresh_energy, fail
):
    monkeypatch.delenv("LAB_DISABLE_ENERGY", raising=False)
    if fail == "import":
        _no_codecarbon(monkeypatch)
    else:
        _fake_tracker(monkeypatch, fail)
    result = measure.evaluate(tiny_model, effort="quick", use_cache=False, country="USA")
    assert result.energy_kwh_per_1k is None and result.co2_g_per_1k is None
    assert result.energy_source.startswith("unavailable: ")
    expected = "import of codecarbon" if fail == "import" else "RuntimeError: no RAPL"
    assert expected in result.energy_source
    assert result.accuracy >= 0 and result.artifact_bytes > 0 and result.latency_ms_p50 > 0
    assert result.country == "USA"


def test_fake_tracker_that_works_gives_a_reading(tiny_model, monkeypatch, fresh_energy):
    """The fake above is faithful: without a failure it yields energy (so the test can fail)."""
    monkeypatch.delenv("LAB_DISABLE_ENERGY", raising=False)
    _fake_tracker(monkeypatch, fail="")
    result = measure.evaluate(tiny_model, effort="quick", use_cache=False)
    assert result.energy_kwh_per_1k == pytest.approx(1e-6 / result.n_images * 1000)


def test_without_codecarbon_countries_are_checked_for_shape_only(monkeypatch, fresh_energy):
    monkeypatch.delenv("LAB_DISABLE_ENERGY", raising=False)
    _no_codecarbon(monkeypatch)
    assert energy.validate_country("usa") == "USA"
    with pytest.raises(ValueError, match="alpha-3"):
        energy.validate_country("France")
    assert math.isnan(energy.carbon_intensity("USA"))
    assert energy.DEFAULT_COUNTRY in energy.countries()


def test_disabled_energy_never_imports_codecarbon(tmp_path):
    script = f"""
import sys, torch
from lab import measure, store
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
result = measure.evaluate(model, effort="quick", country="DEU",
                          store=store.ResultStore({str(tmp_path / "s.sqlite")!r}))
print(result.energy_source)
print(sorted(n for n in sys.modules if n.split(".")[0] == "codecarbon"))
"""
    env = {**os.environ, "LAB_DISABLE_ENERGY": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    source, imported = out.stdout.strip().splitlines()[-2:]
    assert source == "unavailable: disabled by LAB_DISABLE_ENERGY"
    assert imported == "[]"


@pytest.mark.slow
def test_cli_evaluate_prints_one_json_object(trained_cnn, tmp_path):
    env = {**os.environ, "LAB_STORE": str(tmp_path / "cli.sqlite")}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "evaluate",
            "--model",
            "cnn",
            "--split",
            "live",
            "--country",
            "USA",
            "--effort",
            "quick",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    payload = json.loads(out.stdout)
    assert payload["country"] == "USA" and payload["split"] == "live" and payload["accuracy"] > 0.85


def test_cli_rejects_bad_input_with_a_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "lab", "evaluate", "--model", "resnet"],
        capture_output=True,
        text=True,
    )
    assert (
        out.returncode == 2 and "invalid choice: 'resnet'" in out.stderr and "'cnn'" in out.stderr
    )


def test_cli_zoo_json_lists_every_model():
    out = subprocess.run(
        [sys.executable, "-m", "lab", "zoo", "--json"], capture_output=True, text=True, check=True
    )
    assert [row["name"] for row in json.loads(out.stdout)] == ["cnn", "teacher", "mobile", "mlp"]


# ------------------------------------------------------------------ cancellation


def test_a_set_cancel_event_raises_cancelled_and_stores_nothing(tiny_model, tmp_path):
    results = store.ResultStore(tmp_path / "cancel.sqlite")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(measure.Cancelled):
        measure.evaluate(tiny_model, effort="quick", store=results, cancel=cancel)
    assert len(results) == 0
    assert not measure.evaluate(
        tiny_model, effort="quick", store=results, cancel=threading.Event()
    ).cached  # an unset event: runs
    assert len(results) == 1


class _CancelsAfter(torch.nn.Module):
    """Wraps a model; sets ``event`` once it has been called on ``calls`` batches of > 1 image."""

    def __init__(self, model, event, calls=1):
        super().__init__()
        self.model, self.event, self.calls, self.batches = model, event, calls, 0

    def forward(self, x):
        if len(x) > 1:
            self.batches += 1
            if self.batches >= self.calls:
                self.event.set()
        return self.model(x)


def test_cancel_during_the_accuracy_pass_stops_between_batches(tiny_model, tmp_path):
    from lab import data
    from lab.techniques import apply

    results = store.ResultStore(tmp_path / "cancel.sqlite")
    cancel = threading.Event()
    compressed = apply(tiny_model)
    compressed.runtime = _CancelsAfter(compressed.runtime, cancel)
    with pytest.raises(measure.Cancelled):
        measure.evaluate(compressed, effort="quick", store=results, cancel=cancel)
    assert (
        compressed.runtime.batches == 1 < len(measure._pass_batches(len(data.load_split("live"))))
    )
    assert len(results) == 0


@pytest.mark.parametrize("accuracy_batch", [256, 1000])
def test_accuracy_pass_batches_cover_the_split_and_include_256_images(accuracy_batch, monkeypatch):
    monkeypatch.setattr(measure, "ACCURACY_BATCH", accuracy_batch)
    for n in (2_000, 10_000, 257, 256, 100):
        batches = measure._pass_batches(n)
        assert [lo for lo, _ in batches] == [0] + [hi for _, hi in batches[:-1]]
        assert batches[-1][1] == n
        assert max(hi - lo for lo, hi in batches) <= max(
            measure.ACCURACY_BATCH, measure.THROUGHPUT_BATCH
        )
        if n >= measure.THROUGHPUT_BATCH:  # the quick throughput is timed on batches of 256
            assert any(hi - lo == measure.THROUGHPUT_BATCH for lo, hi in batches)


def test_artifact_bytes_are_computed_once_per_stored_model(tiny_model, monkeypatch):
    saves = []
    original = artifact.save
    monkeypatch.setattr(artifact, "save", lambda *a, **k: saves.append(1) or original(*a, **k))
    kinds._SIZES.clear()
    first = measure.evaluate(tiny_model, effort="quick", country="FRA")
    again = measure.evaluate(tiny_model, effort="quick", use_cache=False)  # a new evaluation
    assert not again.cached and len(saves) == 1
    assert again.artifact_bytes == first.artifact_bytes
    assert again.state_dict_bytes == first.state_dict_bytes
    quant = measure.evaluate(tiny_model, Recipe(quant=QuantConfig(bits=4)), effort="quick")
    assert len(saves) == 2 and quant.artifact_bytes < first.artifact_bytes


def test_the_baseline_timed_beside_a_configuration_is_prepared_once_per_model(monkeypatch):
    import gc
    import weakref

    torch.manual_seed(0)
    tiny_model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))

    identity = []
    original = kinds.TorchKind.prepare

    def counting(self, recipe, data, runtime="torch"):
        identity.append(recipe.is_identity)
        return original(self, recipe, data, runtime)

    monkeypatch.setattr(kinds.TorchKind, "prepare", counting)
    for bits in (4, 6, 8):  # three configurations: one baseline prepared for all
        m = measure.evaluate(
            tiny_model, Recipe(quant=QuantConfig(bits=bits)), effort="quick", use_cache=False
        )
        assert m.baseline_latency_samples_ms  # timed interleaved with the baseline
    assert identity.count(True) == 1 and identity.count(False) == 3
    with torch.no_grad():  # the user changes the weights: a new baseline
        tiny_model[1].weight.add_(0.01)
    measure.evaluate(tiny_model, Recipe(quant=QuantConfig(bits=4)), effort="quick", use_cache=False)
    assert identity.count(True) == 2
    alive = weakref.ref(tiny_model)  # the entry holds no reference to the user's model
    del tiny_model
    gc.collect()
    assert alive() is None
