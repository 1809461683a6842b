"""The screen tells one story: verdicts agree with the notes and the noise tests, one definition
of every ratio and unit, typed input taken exactly or refused visibly (issue 20)."""

from __future__ import annotations

import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets.metrics import SAME_WORK, MetricsPanel, cost_verdict, size_change
from widgets.scale import DeploymentScale

VERDICT_WORDS = re.compile(r"faster|slower|\bmore\b|\bless\b")


def measurement(**fields) -> NS:
    """A Measurement-like object; ``samples`` are batch-1 latencies (ms)."""
    samples = fields.pop("samples", None)
    energy_test = fields.pop("energy_test", None)
    m = NS(
        name="cnn",
        label=fields.pop("label", "baseline"),
        accuracy=0.9,
        artifact_bytes=100_000,
        state_dict_bytes=400_000,
        flops=1_000_000,
        resolution=28,
        latency_ms_p50=1.0,
        energy_kwh_per_1k=1e-6,
        co2_g_per_1k=5.6e-5,
        carbon_intensity_g_per_kwh=56.0,
        country="FRA",
        notes=[],
        threads=2,
        executes_as="fp32",
        energy_source="codecarbon CPU-load estimate (test)",
        split="live",
        n_images=2000,
        effort="quick",
        cached=False,
        operations_kind="MACs",
        latency_samples_ms=list(samples) if samples is not None else [],
    )
    vars(m).update(fields)
    if samples is not None:
        from lab import stats

        m.latency_within_noise = lambda base: stats.same_within_noise(
            base.latency_samples_ms, m.latency_samples_ms
        )
    if energy_test is not None:
        m.energy_within_noise = lambda base: energy_test
    return m


RNG = np.random.default_rng(0)
FAST = list(1.0 + 0.01 * RNG.standard_normal(30))
SLOW = list(1.5 + 0.01 * RNG.standard_normal(30))
SAME = list(1.0 + 0.01 * RNG.standard_normal(30))


def test_same_computation_shows_no_latency_or_energy_verdict_even_when_timed_apart():
    """Unstructured pruning (zeros still execute) timed at another moment: 1.5× slower on
    the clock, but the note says latency is unchanged, so no verdict may contradict it."""
    base = measurement(samples=FAST)
    pruned = measurement(
        label="prune 30% unstructured",
        samples=SLOW,
        latency_ms_p50=1.5,
        energy_kwh_per_1k=1.6e-6,
        co2_g_per_1k=9e-5,
        artifact_bytes=70_000,
        notes=["unstructured sparsity …: latency and FLOPs unchanged"],
    )
    panel = MetricsPanel()
    panel.show(pruned, base)
    for key in ("latency", "energy", "co2"):
        assert panel.changes[key] == SAME_WORK, key
        assert not VERDICT_WORDS.search(panel.changes[key])
    assert panel.changes["size"] == "5.7× smaller vs fp32 file"  # 400,000 / 70,000
    scale = DeploymentScale()
    scale.within_noise = cost_verdict("co2", base, pruned) != "real"
    scale.baseline_co2_g_per_1k, scale.co2_g_per_1k = base.co2_g_per_1k, pruned.co2_g_per_1k
    assert "adds" not in scale.summary.value and "within measurement noise" in scale.summary.value


def test_latency_verdict_follows_the_measurements_own_noise_test():
    base = measurement(samples=FAST)
    smaller = {"flops": 250_000, "resolution": 14}  # really less work
    real = measurement(samples=list(np.array(FAST) / 1.5), latency_ms_p50=0.667, **smaller)
    noisy = measurement(samples=SAME, latency_ms_p50=1.02, **smaller)
    panel = MetricsPanel()
    panel.show(real, base)
    assert panel.changes["latency"] == "1.50× faster"
    panel.show(noisy, base)
    assert panel.changes["latency"] == "≈ same (within noise)"
    untested = measurement(latency_ms_p50=0.5, **smaller)  # no timed runs to test
    panel.show(untested, measurement())
    assert panel.changes["latency"] == "not tested for noise"


@pytest.mark.parametrize("test_says_noise", [True, False])
def test_energy_verdict_uses_energy_within_noise_when_the_measurement_has_it(test_says_noise):
    base = measurement()
    # a 2× energy difference the measurement's own test calls noise (or a 5 % one it calls real)
    value = 2e-6 if test_says_noise else 1.05e-6
    m = measurement(
        flops=250_000,
        energy_kwh_per_1k=value,
        co2_g_per_1k=value * 56,
        energy_test=test_says_noise,
    )
    panel = MetricsPanel()
    panel.show(m, base)
    for key in ("energy", "co2"):
        if test_says_noise:
            assert panel.changes[key] == "≈ same (within noise)"
        else:
            assert panel.changes[key].endswith("× more")
    assert (cost_verdict("co2", base, m) == "real") is (not test_says_noise)


PANEL = MetricsPanel()


@settings(max_examples=40, deadline=None)
@given(
    latency=st.floats(0.1, 10),
    kwh=st.floats(1e-8, 1e-4),
    executes_as=st.sampled_from(["fp32", "int8", "scikit-learn 1.7 SVC"]),
    flops=st.sampled_from([1_000_000, 250_000]),
)
def test_no_cost_verdict_without_a_test_that_says_the_difference_is_real(
    latency, kwh, executes_as, flops
):
    base = measurement(samples=FAST)
    m = measurement(
        latency_ms_p50=latency,
        energy_kwh_per_1k=kwh,
        co2_g_per_1k=kwh * 56,
        executes_as=executes_as,
        flops=flops,
    )  # no samples, no energy test: latency untested, energy by the tolerance fallback
    panel = PANEL
    panel.show(m, base)
    assert not VERDICT_WORDS.search(panel.changes["latency"])
    if executes_as == "fp32" and flops == 1_000_000:
        assert {panel.changes[k] for k in ("latency", "energy", "co2")} <= {SAME_WORK, "unchanged"}
    for key in ("energy", "co2"):
        real = cost_verdict(key, base, m) == "real"
        assert bool(VERDICT_WORDS.search(panel.changes[key])) is real


def test_trees_count_comparisons_and_tabular_data_says_items():
    forest = measurement(
        name="RandomForestClassifier",
        operations_kind="comparisons",
        flops=1_234,
        resolution=None,
        n_images=30,
        state_dict_bytes=100_000,
        executes_as="scikit-learn 1.7 RandomForestClassifier",
    )
    panel = MetricsPanel(item="item")
    panel.show(forest, forest)
    assert panel.texts["flops"] == "1.23 kcomparisons"
    assert "Comparisons per item" in panel._labels["flops"].value
    text = panel.notes.value + "".join(label.value for label in panel._labels.values())
    assert "image" not in text and "MACs" not in text and "30 items" in panel.notes.value
    assert size_change(forest) == "unchanged vs fp32 file"
