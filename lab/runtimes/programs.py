"""Programs the lab runs as they are but cannot rewrite: a TorchScript program and an ONNX graph.

:func:`lab.runtimes.loading.load_model` gives one when a practitioner's file holds it. The lab
measures it like any model, in the program's own terms:

* **bytes on disk**: the program's own file (``torch.jit.save``; the ONNX bytes) — the lab's
  compact format stores a ``state_dict`` and its architecture, which a program does not expose;
* **parameters**: the TorchScript program's parameters; the ONNX graph's floating-point
  initializers (its weights);
* **FLOPs**: TorchScript through ``FlopCounterMode`` (its operators pass torch's dispatcher);
  ONNX from the graph: 2 × the multiply-accumulates of each ``Conv``, ``Gemm`` and ``MatMul``
  node (the rule :mod:`lab.meters.flops` applies to their torch counterparts), at the shapes
  ONNX Runtime computes on one sample — other operators (ReLU, pooling…) count 0, as in
  torch's ``FlopCounterMode``.

Pruning and quantization need the model's modules: load its ``state_dict`` with
``architecture=`` instead (:data:`REWRITE_HINT`).
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from torch import nn

from lab.runtimes.export import _INPUT_DTYPES, OnnxRuntimeModel, _session

__all__ = [
    "REWRITE_HINT",
    "described",
    "onnx_flops",
    "onnx_parameters",
    "program_bytes",
    "program_flops",
    "program_kind",
]

REWRITE_HINT = (
    "pruning and quantization rewrite a model's layers, which a {kind} program does not expose: "
    "save the model's state_dict (torch.save(model.state_dict(), path)) and load it with "
    "load_model(path, architecture=…)"
)


def program_kind(model: object) -> str | None:
    """``"TorchScript"`` or ``"ONNX"`` for a program the lab cannot rewrite, else None."""
    if isinstance(model, torch.jit.ScriptModule):
        return "TorchScript"
    if isinstance(model, OnnxRuntimeModel):
        return "ONNX"
    return None


def program_bytes(model: nn.Module) -> int:
    """Bytes of the program's own file: what ``torch.jit.save`` writes, or the ONNX bytes."""
    if isinstance(model, OnnxRuntimeModel):
        return len(model.onnx_bytes)
    buffer = io.BytesIO()
    torch.jit.save(model, buffer)
    return buffer.getbuffer().nbytes


def _onnx_weights(model: OnnxRuntimeModel) -> list[np.ndarray]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model.onnx_bytes).graph
    arrays = [numpy_helper.to_array(t) for t in graph.initializer]
    return [a for a in arrays if np.issubdtype(a.dtype, np.floating)]


def onnx_parameters(model: OnnxRuntimeModel) -> tuple[int, int]:
    """(parameters, non-zero parameters) of an ONNX graph: its floating-point initializers
    (a TorchScript program's are its ``parameters()``, counted as any module's)."""
    weights = _onnx_weights(model)
    return sum(a.size for a in weights), sum(int(np.count_nonzero(a)) for a in weights)


def described(model: nn.Module) -> tuple[str, str]:
    """(what executes, the note saying how the program is measured) for a program."""
    if isinstance(model, OnnxRuntimeModel):
        return model.executes_as, (
            "an ONNX program, measured as it is: its bytes are its own file's, its FLOPs "
            "counted from the graph (Conv, Gemm, MatMul)"
        )
    return "TorchScript fp32", (
        "a TorchScript program, measured as it is: its bytes are its own file's, its FLOPs "
        "counted by torch as it runs"
    )


def program_flops(model: nn.Module, example: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``example`` (see the module's notes)."""
    if isinstance(model, OnnxRuntimeModel):
        return onnx_flops(model.onnx_bytes, example)
    from lab.meters.flops import count_flops

    return count_flops(model, example, exact_mode=True)


_COUNTED = ("Conv", "Gemm", "MatMul")


def onnx_flops(onnx_bytes: bytes, example: torch.Tensor) -> int:
    """2 × the multiply-accumulates of the graph's Conv, Gemm and MatMul nodes on ``example``.

    The shapes are the ones ONNX Runtime computes on ``example`` (every input and output of
    those nodes made a graph output for one run): shape inference alone stops at a reshape
    whose target shape is computed in the graph, as exporters write ``flatten``."""
    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    graph = proto.graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    nodes = [node for node in graph.node if node.op_type in _COUNTED]
    wanted = {name for node in nodes for name in (*node.input[:2], node.output[0])}
    wanted -= set(shapes)
    outputs = {o.name for o in graph.output}
    graph.output.extend(onnx.ValueInfoProto(name=name) for name in sorted(wanted - outputs))
    session = _session(proto.SerializeToString(), threads=1)
    first = session.get_inputs()[0]
    dtype = _INPUT_DTYPES.get(first.type, "float32")
    names = sorted(wanted)
    values = session.run(names, {first.name: example.detach().cpu().numpy().astype(dtype)})
    shapes.update((name, tuple(value.shape)) for name, value in zip(names, values, strict=True))
    total = 0
    for node in nodes:
        a, b = (shapes[name] for name in node.input[:2])
        out = shapes[node.output[0]]
        if node.op_type == "Conv":  # per output element: (in channels / groups) × kernel area
            total += math.prod(out) * math.prod(b[1:])
        elif node.op_type == "Gemm":
            trans_a = next((x.i for x in node.attribute if x.name == "transA"), 0)
            total += math.prod(out) * (a[0] if trans_a else a[1])
        else:  # MatMul: each output element sums over the last axis of the first operand
            total += math.prod(out) * a[-1]
    return 2 * total
