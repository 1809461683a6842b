"""Transformers in ONNX Runtime: an fp32 graph, or its dynamic int8 form (ORT ``quantize_dynamic``).

ONNX Runtime's standard int8 path for transformers (``onnxruntime.quantization.
quantize_dynamic``): MatMul/Gemm weights stored as int8 (per output channel), activations
quantized per batch at run time — no calibration data, like torch's ``quantize_dynamic``
(:mod:`lab.techniques.transformers`). The graph takes the model's own input — token ids
stay int64 — with a dynamic batch dimension, exported from an eval copy of the model with
torch's TorchScript-based exporter (its fused attention path is not taken while tracing).

Example:
    >>> from lab.text import TextTransformer
    >>> import torch
    >>> model = TextTransformer(100, 2, max_length=8).eval()
    >>> fast = onnxruntime_model(model, torch.randint(1, 100, (2, 8)), int8=True)  # doctest: +SKIP
    >>> fast.executes_as  # doctest: +SKIP
    'onnxruntime dynamic int8 (MatMul weights int8, activations quantized per batch)'
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from lab.runtimes.export import OnnxRuntimeModel
from lab.techniques.transformers import unfuse_attention

__all__ = ["export_fp32", "onnxruntime_model"]

FP32 = "onnxruntime fp32"
DYNAMIC_INT8 = "onnxruntime dynamic int8 (MatMul weights int8, activations quantized per batch)"


def export_fp32(model: nn.Module, example: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write an eval copy of ``model`` as an fp32 ONNX graph taking ``example``'s dtype and
    shape (the batch dimension dynamic) and return the path."""
    module = copy.deepcopy(model).eval()
    unfuse_attention(module)  # torch's fused encoder kernel has no ONNX form
    path = Path(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example[:2] if len(example) >= 2 else example.repeat(2, *[1] * (example.ndim - 1)),),
            str(path),
            dynamo=False,
            input_names=["inputs"],
            output_names=["logits"],
            dynamic_axes={"inputs": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path


def onnxruntime_model(
    model: nn.Module, example: torch.Tensor, *, int8: bool, threads: int | None = None
) -> OnnxRuntimeModel:
    """``model`` run by ONNX Runtime: fp32, or dynamic int8 when ``int8`` (model unchanged)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="lab-onnx-dynamic-") as tmp:
        fp32 = export_fp32(model, example, Path(tmp) / "fp32.onnx")
        if not int8:
            return OnnxRuntimeModel(fp32, threads=threads, executes_as=FP32)
        target = Path(tmp) / "int8.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True)
        return OnnxRuntimeModel(target, threads=threads, executes_as=DYNAMIC_INT8)
