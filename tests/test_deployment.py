"""Runtimes side by side: timings interleaved, parity against torch fp32, arguments refused with
their name, and the caller's model and thread setting left as they were."""

from __future__ import annotations

import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lab import zoo
from lab.deployment import compare_runtimes, interleaved_ms, parity
from lab.techniques.configs import ConfigError


@pytest.fixture(scope="module")
def mlp():
    try:
        return zoo.load("mlp")
    except zoo.CheckpointError as exc:
        pytest.skip(str(exc))


class _Sleepy(nn.Module):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return x


def test_interleaved_timing_orders_models_by_what_they_cost():
    times = interleaved_ms({"slow": _Sleepy(0.004), "fast": _Sleepy(0.0)}, torch.zeros(1), rounds=3)
    assert [len(v) for v in times.values()] == [3, 3]
    assert min(times["slow"]) >= 4.0 > max(times["fast"])


def test_parity_of_a_model_with_itself_and_with_its_negation():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    x = torch.randn(50, 6)
    same = parity(model, model, x)
    assert same == {"max_abs_diff": 0.0, "relative_diff": 0.0, "top1_agreement": 1.0}

    class Negated(nn.Module):
        def forward(self, inputs):
            return -model(inputs)

    flipped = parity(model, Negated(), x)
    with torch.no_grad():
        logits = model(x)
        expected = (logits.argmax(1) == (-logits).argmax(1)).float().mean().item()
        assert flipped["max_abs_diff"] == pytest.approx(2 * logits.abs().max().item())
    assert flipped["top1_agreement"] == pytest.approx(expected)


def test_torch_runtimes_side_by_side(mlp):
    weights = {k: v.clone() for k, v in mlp.state_dict().items()}
    threads = torch.get_num_threads()
    table = compare_runtimes(
        mlp, batches=(1, 32), threads=(1,), rounds=2, runtimes=("torch fp32", "torch int8")
    )
    assert len(table) == 4 and set(table["batch"]) == {1, 32}
    fp32 = table[table["runtime"] == "torch fp32"]
    assert fp32["speedup_vs_torch_fp32"].eq(1.0).all() and fp32["top1_agreement"].eq(1.0).all()
    int8 = table[table["runtime"] == "torch int8"]
    assert int8["top1_agreement"].gt(0.95).all() and int8["executes_as"].str.contains("int8").all()
    assert (table["images_per_s"] == table["batch"] / table["ms_per_call"] * 1e3).all()
    assert (table["ms_per_call"] <= table["ms_per_call_slowest_round"]).all()
    assert torch.get_num_threads() == threads
    assert all(torch.equal(v, mlp.state_dict()[k]) for k, v in weights.items())


def test_onnx_runtime_computes_what_torch_computes(mlp):
    table = compare_runtimes(mlp, batches=(4,), rounds=1, runtimes=("onnxruntime fp32",))
    (row,) = table.to_dict("records")
    assert row["executes_as"].startswith("onnxruntime fp32")
    assert row["relative_diff"] < 1e-4 and row["top1_agreement"] == 1.0


_NOT_BATCHES = st.one_of(
    st.just([]),
    st.text(max_size=3),
    st.floats(),
    st.lists(st.integers(-10, 0), min_size=1, max_size=3),
    st.lists(st.integers(4097, 10**6), min_size=1, max_size=2),
    st.lists(st.booleans(), min_size=1, max_size=2),
    st.lists(st.floats(), min_size=1, max_size=2),
)


@given(value=_NOT_BATCHES)
@settings(max_examples=60, deadline=None)
def test_bad_batches_are_named(value):
    with pytest.raises(ConfigError, match="batches must be"):
        compare_runtimes(nn.Linear(784, 10), batches=value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threads": [0]}, "threads must be"),
        ({"rounds": 0}, "rounds must be"),
        ({"rounds": True}, "rounds must be"),
        ({"runtimes": ["tpu int4"]}, "runtimes must be some of"),
    ],
)
def test_bad_arguments_are_named(mlp, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        compare_runtimes(mlp, **kwargs)
    with pytest.raises(ConfigError, match="model must be"):
        compare_runtimes("cnn")
