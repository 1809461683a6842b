"""The device catalog: every number sourced, the MLPerf Tiny models as published, honest LOO."""

from __future__ import annotations

import json
import re
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import devices, flops, tiny_models

DOC = json.loads(devices.CATALOG_PATH.read_text(encoding="utf-8"))


def _numbers(node, path=""):
    """(path, the dict holding it) for every number in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                yield f"{path}.{key}", node
            else:
                yield from _numbers(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numbers(value, f"{path}[{i}]")


def test_every_number_carries_its_source():
    numbers = list(_numbers(DOC["devices"]))
    assert len(numbers) >= 80  # 5 devices: hardware, 52 latencies, 8 energies + their runs
    for path, holder in numbers:
        source = holder.get("source")
        assert isinstance(source, dict), path
        assert {"repo", "commit", "path", "quote"} <= set(source), path
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), path
    for entry in DOC["devices"].values():  # a missing figure says why instead of guessing
        for key in ("ram_bytes", "flash_bytes", "clock_hz"):
            assert entry[key]["value"] is not None or entry[key]["note"]


def _first_number(text: str) -> float:
    return float(re.search(r"(\d+(?:\.\d+)?)", text).group(1))


def test_each_value_is_what_its_quote_says():
    for entry in DOC["devices"].values():
        for key in ("ram_bytes", "flash_bytes", "clock_hz"):
            field = entry[key]
            if field["value"] is None:
                continue
            assert field["published"] in field["source"]["quote"]
            scale = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "MHz": 1e6, "Ghz": 1e9, "GHz": 1e9}
            unit = re.search(r"(KB|MB|GB|MHz|GHz|Ghz)", field["published"]).group(1)
            expected = _first_number(field["published"]) * scale[unit]
            assert field["value"] == pytest.approx(expected, rel=1e-6)
        for point in entry["points"]:
            latency = point["latency_ms"]
            quote = latency["source"]["quote"]
            if latency.get("derived", "").startswith("1000 / median throughput"):
                throughput = float(re.search(r"Median throughput is\s+([\d.]+)", quote).group(1))
                assert latency["value"] == pytest.approx(1000 / throughput, rel=1e-5)
            elif "m-lap-us" in quote:  # EEMBC runner laps: median over the windows
                windows = re.findall(
                    r"infer (\d+): m-lap-us-(\d+) \.\. m-lap-us-(\d+)", latency["published"]
                )
                per = [(int(b) - int(a)) / int(n) / 1000 for n, a, b in windows]
                assert len(per) == 5 and latency["value"] == pytest.approx(
                    statistics.median(per), abs=1e-6
                )
            else:
                assert f"{latency['value']:g} ms" in quote
            if "energy_uj" in point:
                assert (
                    f"{point['energy_uj']['value']:.3f} uJ" in point["energy_uj"]["source"]["quote"]
                )


def test_reference_models_have_the_published_operation_counts():
    # DS-CNN by hand: 25×5 outputs; conv 10×4 (64), 4 × (depthwise 3×3 + pointwise 64→64), FC
    kws = 25 * 5 * 64 * 40 + 4 * (25 * 5 * 64 * 9 + 25 * 5 * 64 * 64) + 64 * 12
    assert sum(devices.point_macs("kws").values()) == kws
    assert devices.point_macs("ad") == {"conv": 0, "depthwise": 0, "linear": 264_192}
    for name in tiny_models.NAMES:
        model, x = tiny_models.build(name), tiny_models.example(name)
        assert sum(tiny_models.macs_by_kind(model, x).values()) == flops.count_flops(model, x) // 2
        # point_macs counts on the meta device: the same split as on real tensors
        assert devices.point_macs(name) == tiny_models.macs_by_kind(model, x)
    # MobileNetV1 0.25-128 (tensorflow/models research/slim/nets/mobilenet_v1.md): 14 M MACs,
    # 0.47 M parameters
    small = tiny_models.mobilenet_v1(0.25, classes=1001)
    assert round(sum(devices.point_macs("mobilenet_v1_0.25_128").values()) / 1e6) == 14
    assert round(sum(p.numel() for p in small.parameters()) / 1e6, 2) == 0.47
    # ResNet-8 of MLPerf Tiny: 12.5 M MACs (MLPerf Tiny paper, Table 1)
    assert round(sum(devices.point_macs("ic").values()) / 1e6, 1) == 12.5


def test_leave_one_out_matches_a_hand_computation():
    table = devices.leave_one_out("nucleo-l4r5zi").set_index("model")
    points = {p["model"]: p["latency_ms"] for p in devices.get("nucleo-l4r5zi").points}
    total = {m: sum(devices.point_macs(m).values()) for m in points}
    # Leaving out the autoencoder: the remaining points have under 5 % linear MACs, so its
    # linear layers are priced at the pooled rate = median of latency / MACs of the others.
    pooled = statistics.median(points[m] / total[m] for m in ("kws", "vww", "ic"))
    assert table.loc["ad", "estimated_ms"] == pytest.approx(pooled * total["ad"], rel=1e-9)
    assert table.loc["ad", "error"] == pytest.approx(pooled * total["ad"] / points["ad"] - 1)
    # Energy: the median power (µJ / ms of the energy runs) of the other three × the estimate
    d = devices.get("nucleo-l4r5zi")
    power = statistics.median(
        p["energy_uj"] / p["energy_run_latency_ms"] for p in d.points if p["model"] != "ad"
    )
    assert table.loc["ad", "estimated_uj"] == pytest.approx(power * pooled * total["ad"])


def test_exactly_linear_points_are_recovered(monkeypatch):
    """A synthetic device whose latency is exactly per-kind MACs × rate: LOO error ≈ 0."""
    rate = {"conv": 2e-8, "depthwise": 9e-8, "linear": 4e-8}  # ms per MAC
    models = ["mobilenet_v1_0.25_128", "mobilenet_v1_0.25_160", "mobilenet_v1_0.5_128", "kws", "ic"]
    points = []
    for m in models:
        ms = sum(v * rate[k] for k, v in devices.point_macs(m).items())
        source = {"repo": "x/y", "commit": "0" * 40, "path": "p", "quote": "q"}
        points.append(
            {"model": m, "precision": "fp32", "latency_ms": {"value": ms, "source": source}}
        )
    fake = {"label": "synthetic", "kind": "test", "core": "none", "points": points}
    fake |= {k: {"value": None, "note": "n/a"} for k in ("ram_bytes", "flash_bytes", "clock_hz")}
    fake["runtime"] = {"value": "none"}
    doc = {**DOC, "devices": {**DOC["devices"], "synthetic": fake}}
    monkeypatch.setattr(devices, "_document", lambda: doc)
    table = devices.leave_one_out("synthetic")
    # exact but for the classifiers' linear layers (< 5 % of MACs: priced at the pooled rate)
    assert np.abs(table["error"]).max() < 0.01
    est = devices.estimate(
        devices.point_macs(models[0]),
        ram_bytes=1,
        flash_bytes=1,
        device="synthetic",
        precision="fp32",
    )
    assert est.fits_ram is None and est.energy_uj is None


def test_estimate_fits_margins_and_band():
    est = devices.estimate(
        devices.point_macs("vww"), ram_bytes=400 * 1024, flash_bytes=300_000, device="disco-f746ng"
    )
    assert est.fits_ram is False and est.ram_margin_bytes == 327_680 - 400 * 1024
    assert est.fits_flash is True and est.flash_margin_bytes == 1_048_576 - 300_000
    lo, hi = est.latency_ms_band
    assert lo <= est.latency_ms <= hi
    assert est.source.startswith("estimated from mlcommons/tiny_results_v1.0")
    assert "leave-one-out on 4 points" in est.error_band and "does not fit" in repr(est)
    energy = devices.estimate(1_000_000, ram_bytes=1, flash_bytes=1, device="nucleo-h7a3zi-q")
    assert energy.energy_uj > 0 and "pooled rate" in energy.error_band


def test_this_machine_is_measured_not_estimated():
    d = devices.get("this-machine")
    assert d.measured and d.precisions == ("fp32",) and len(d.points) == 4
    assert all(p["latency_ms"] > 0 and "measured" in p["source"] for p in d.points)
    with pytest.raises(ValueError, match="has no int8 points; it has fp32"):
        devices.estimate(1000, ram_bytes=1, flash_bytes=1, device="this-machine")
    assert "this-machine" in set(devices.catalog()["device"])


def test_bad_device_name_lists_the_names():
    with pytest.raises(ValueError, match="device must be one of 'nucleo-l4r5zi'.*'this-machine'"):
        devices.get("esp32")
    with pytest.raises(ValueError, match="precision must be one of"):
        devices.fit("nucleo-l4r5zi", "int4")


@settings(max_examples=30, deadline=None)
@given(
    st.one_of(st.integers(max_value=0), st.floats(), st.text(), st.just(True), st.none()),
    st.one_of(st.integers(max_value=-1), st.floats(), st.text(), st.none()),
)
def test_bad_arguments_are_refused_clearly(macs, ram):
    with pytest.raises(ValueError, match="macs must be"):
        devices.estimate(macs, ram_bytes=1, flash_bytes=1, device="nucleo-l4r5zi")
    with pytest.raises(ValueError, match="ram_bytes must be a non-negative integer"):
        devices.estimate(1000, ram_bytes=ram, flash_bytes=1, device="nucleo-l4r5zi")


def test_report_plans_ram_per_device_kind():
    from lab import memory

    model, x = tiny_models.build("kws"), tiny_models.example("kws")
    plan = memory.planned_peak(model, x)
    names = ["disco-f746ng", "raspberry-pi-4"]
    table = devices.report(model, x, flash_bytes=2_000_000, device_names=names).set_index("device")
    mcu, board = table.loc["disco-f746ng"], table.loc["raspberry-pi-4"]
    assert mcu["RAM needed (KB)"] == round(plan.peak_activation_bytes / 1024, 1)  # weights in flash
    assert board["RAM needed (KB)"] == round(plan.peak_bytes / 1024, 1)
    assert not mcu["fits flash"] and board["fits flash"]  # 2 MB > 1 MB flash; 32 GB card


def test_a_microcontroller_needs_the_arena_plan_not_eager_torchs():
    """Eager torch keeps a module call's argument alive to the call's return; an arena
    planner (TFLite Micro's) frees it after its last reader: a microcontroller's RAM is the
    latter, a Pi's the former plus weights."""
    import torch
    from test_memory_plan import _KeepsItsArgument

    from lab.meters import memory

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 64), _KeepsItsArgument()).eval()
    example = torch.zeros(1, 4)
    eager = memory.planned_peak(model, example)
    arena = memory.planned_peak(model, example, lifetimes="last-use")
    assert arena.peak_activation_bytes < eager.peak_activation_bytes  # the case that matters
    fields = memory.memory_fields(model, example)
    assert fields["peak_arena_bytes"] == arena.peak_activation_bytes
    table = devices.report(model, example, flash_bytes=10_000, macs=1_000, precision="int8")
    ram = dict(zip(table["device"], table["RAM needed (KB)"], strict=True))
    assert ram["nucleo-l4r5zi"] == round(arena.peak_activation_bytes / 1024, 1)
