"""Programs run as they are (issue 21, "your model from a file"): a TorchScript program, an
ONNX graph and a ``torch.export`` program are measured in their own terms — the file's bytes,
the weights they hold, torch's FLOP count — checked against torch and the files on disk;
two different programs never share a stored result; pruning one names what to load instead."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from lab.datasets import as_data
from lab.evaluation.measure import evaluate
from lab.io.store import ResultStore
from lab.meters.flops import count_flops
from lab.runtimes.loading import load_model
from lab.techniques.configs import PruneConfig

RNG = np.random.default_rng(3)
DATA = as_data(
    (RNG.integers(0, 256, (60, 3, 16, 16), dtype=np.uint8), np.arange(60) % 5), name="rgb"
)


class _Mixed(nn.Module):
    """A grouped convolution (Conv), a matrix product (MatMul) and a Linear (Gemm)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, groups=2)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        x = self.grouped(self.conv(x).relu())  # N×8×14×14
        tokens = x.flatten(2).transpose(1, 2)  # N×196×8
        mixed = torch.matmul(tokens.transpose(1, 2), tokens) / 196  # N×8×8
        return self.head(mixed.mean(2))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("programs")
    model = _Mixed().eval()
    example = torch.randn(2, 3, 16, 16)
    paths = {"onnx": folder / "m.onnx", "ts": folder / "m.ts", "pt2": folder / "m.pt2"}
    torch.onnx.export(
        model, example, paths["onnx"], dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}}
    )
    torch.jit.save(torch.jit.trace(model, example), paths["ts"])
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, paths["pt2"])
    return model, paths


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultStore:
    return ResultStore(tmp_path_factory.mktemp("store") / "results.sqlite")


@pytest.mark.parametrize("kind", ["onnx", "ts", "pt2"])
def test_a_program_from_a_file_is_measured_in_its_own_terms(files, store, kind):
    model, paths = files
    torch_flops = count_flops(model, DATA.example(1), exact_mode=True)
    parameters = sum(p.numel() for p in model.parameters())
    m = evaluate(load_model(paths[kind]), data=DATA, effort="quick", store=store, use_cache=False)
    assert m.flops == torch_flops > 0  # ONNX: from the graph; TorchScript/.pt2: torch's count
    assert m.parameters == parameters and m.nonzero_parameters == parameters
    if kind == "onnx":
        assert m.artifact_bytes == paths["onnx"].stat().st_size == m.state_dict_bytes
        assert m.executes_as == "onnxruntime fp32" and "ONNX program" in " ".join(m.notes)
    elif kind == "ts":
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.load(paths["ts"]), buffer)
        assert m.artifact_bytes == buffer.getbuffer().nbytes == m.state_dict_bytes
        assert "TorchScript program" in " ".join(m.notes)
    expected = model(DATA.split("live").images).argmax(1)
    assert m.accuracy == pytest.approx(
        float((expected == DATA.split("live").labels).float().mean())
    )


def test_two_onnx_graphs_with_other_weights_never_share_a_stored_result(files, store, tmp_path):
    """An ONNX model holds its weights in the graph, not in a state_dict: the stored result's
    key includes the graph's bytes (it was the class name alone)."""
    _, paths = files
    other = tmp_path / "other.onnx"
    torch.onnx.export(
        _Mixed(seed=1).eval(),
        torch.randn(2, 3, 16, 16),
        other,
        dynamo=False,
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )
    first = evaluate(load_model(paths["onnx"]), data=DATA, effort="quick", store=store)
    second = evaluate(load_model(other), data=DATA, effort="quick", store=store)
    assert not second.cached
    assert (
        first.correct_bits != second.correct_bits
        or first.accuracy != second.accuracy
        or (first.artifact_bytes != second.artifact_bytes)
    )


@pytest.mark.parametrize("kind", ["onnx", "ts"])
def test_pruning_a_program_names_what_to_load_instead(files, kind):
    _, paths = files
    with pytest.raises(ValueError, match=r"sparsity cannot be applied.*architecture="):
        evaluate(load_model(paths[kind]), PruneConfig(0.5), data=DATA, effort="quick")


def test_an_onnx_file_made_for_one_batch_names_the_export_to_redo(tmp_path):
    from lab.models.interface import ModelInterfaceError

    path = tmp_path / "fixed.onnx"
    torch.onnx.export(
        _Mixed().eval(), torch.randn(4, 3, 16, 16), path, input_names=["pixels"], dynamo=False
    )
    with pytest.raises(ModelInterfaceError, match=r"ONNX Runtime said.*dynamic_axes=\{'pixels'"):
        evaluate(load_model(path), data=DATA, effort="quick", use_cache=False)
