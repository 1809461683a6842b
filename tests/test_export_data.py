"""lab.export: an ONNX file takes the samples of the data its model was made for.

A Compressed made on 8×8 digits exports a graph for 8×8 inputs (not Fashion-MNIST's
28×28, which a model with global pooling would silently accept); an example or ``data``
of another shape, or a module that does not fit the data, is a clear ValueError.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from torch import nn

import lab
from lab.datasets import as_data
from lab.export import OnnxRuntimeModel, _example, to_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

DIGITS = as_data(load_digits(), name="digits")


def _pooled() -> nn.Module:
    """Runs on any image size (global pooling): the kind of model a wrong shape fools."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()


def _input_dims(path) -> list:
    import onnx

    graph_input = onnx.load(str(path)).graph.input[0]
    return [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim]


def test_a_compressed_model_exports_for_its_own_datas_shape(tmp_path):
    compressed = lab.apply(_pooled(), None, data=DIGITS, progress=False)
    path = to_onnx(compressed, tmp_path / "digits.onnx")
    assert _input_dims(path)[1:] == [1, 8, 8]
    images = DIGITS.split("test").images[:16]
    onnx_logits = OnnxRuntimeModel(path, threads=1)(images)
    torch.testing.assert_close(onnx_logits, compressed.model(images), atol=1e-4, rtol=1e-4)


def test_an_example_of_another_datas_shape_is_refused(tmp_path):
    compressed = lab.apply(_pooled(), None, data=DIGITS, progress=False)
    with pytest.raises(ValueError, match="made for 'digits', whose samples are 1×8×8"):
        to_onnx(compressed, tmp_path / "x.onnx", example=torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="this Compressed was made for 'digits'"):
        to_onnx(compressed, tmp_path / "x.onnx", data=lab.datasets.fashion_mnist())
    assert not (tmp_path / "x.onnx").exists()


def test_a_module_made_for_other_data_is_refused_naming_data(tmp_path):
    flat = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))  # 8×8 digits only
    with pytest.raises(ValueError, match="cannot export for 'fashion-mnist'.*Pass data="):
        to_onnx(flat, tmp_path / "x.onnx")
    path = to_onnx(flat, tmp_path / "digits.onnx", data=DIGITS)
    assert _input_dims(path)[1:] == [1, 8, 8]
    with pytest.raises(ValueError, match="made for 'digits'"):
        to_onnx(_pooled(), tmp_path / "y.onnx", data=DIGITS, example=torch.zeros(2, 1, 28, 28))


@settings(max_examples=100, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 30), st.integers(1, 30)),
    strict=st.booleans(),
)
def test_an_example_is_taken_exactly_when_it_has_the_datas_shape(shape, strict):
    example = torch.rand(3, *shape)
    try:
        batch = _example(example, False, DIGITS, strict)
    except ValueError as exc:
        assert strict and shape != (1, 8, 8) and "made for 'digits'" in str(exc)
        return
    assert not strict or shape == (1, 8, 8)
    assert batch.shape == (2, *shape) and torch.equal(batch[0], example[0])
