"""FLOPs of one forward pass, counted as torch's ``FlopCounterMode`` counts them, at a fraction
of its memory cost.

``torch.utils.flop_counter.FlopCounterMode`` intercepts every aten operator with a
``TorchDispatchMode``; running a model under it imports ``torch._dynamo`` (and with it
sympy and, on CUDA builds, triton): ~150 MiB of resident memory in every kernel that
measures anything. The lab counts the same operators one level up, with a
``TorchFunctionMode`` (no import beyond torch): convolutions, ``linear`` and matrix products,
2 FLOPs per multiply-accumulate, bias additions and element-wise work not counted — torch's
own rules. A forward pass that calls a torch function whose insides this level cannot see
(e.g. ``F.multi_head_attention_forward``, ``einsum``, scaled-dot-product attention) is
counted by ``FlopCounterMode`` instead, so every count stays torch's count; the tests check
both paths against it.

Example:
    >>> import torch
    >>> count_flops(torch.nn.Linear(784, 10), torch.zeros(1, 784))
    15680
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["count_flops"]


def _conv(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args, **kwargs) -> int:
    # every output element: (input channels per group) × kernel multiply-accumulates
    return 2 * out.numel() * math.prod(weight.shape[1:])


def _conv_transpose(
    out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args, **kwargs
) -> int:
    # every input element is scattered through (output channels per group) × kernel weights
    return 2 * x.numel() * math.prod(weight.shape[1:])


def _linear(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args, **kwargs) -> int:
    return 2 * out.numel() * weight.shape[-1]


def _matmul(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *args, **kwargs) -> int:
    # out has the batch and the M×N result; each element sums over K = a's last dimension
    return 2 * out.numel() * a.shape[-1] if a.dim() > 1 else 2 * out.numel() * a.shape[0]


def _addmm(out: torch.Tensor, bias: torch.Tensor, a: torch.Tensor, *args, **kwargs) -> int:
    return 2 * out.numel() * a.shape[-1]


RULES: dict[Callable, Callable[..., int]] = {
    torch.conv1d: _conv,
    torch.conv2d: _conv,
    torch.conv3d: _conv,
    torch.conv_transpose1d: _conv_transpose,
    torch.conv_transpose2d: _conv_transpose,
    torch.conv_transpose3d: _conv_transpose,
    F.linear: _linear,
    torch.matmul: _matmul,
    torch.mm: _matmul,
    torch.bmm: _matmul,
    torch.Tensor.matmul: _matmul,
    torch.Tensor.__matmul__: _matmul,
    torch.Tensor.mm: _matmul,
    torch.Tensor.bmm: _matmul,
    torch.addmm: _addmm,
    torch.baddbmm: _addmm,
}

# Functions whose insides this level cannot see (they run counted operators inside, where a
# function mode does not reach): a pass that calls one is counted by FlopCounterMode.
OPAQUE = {
    F.multi_head_attention_forward,
    F.scaled_dot_product_attention,
    F.bilinear,
    torch.einsum,
    torch.tensordot,
    torch.cdist,
    torch.chain_matmul,
    torch.linalg.multi_dot,
    torch.linalg.matmul,
    torch.linalg.vecdot,
    torch.kron,
    torch.addbmm,
    torch.addmv,
    torch.mv,
    torch.dot,
    torch.inner,
    torch.Tensor.__rmatmul__,
    torch.Tensor.addmm,
    torch.Tensor.addbmm,
    torch.Tensor.baddbmm,
    torch.Tensor.addmv,
    torch.Tensor.mv,
    torch.Tensor.dot,
    torch.Tensor.inner,
}


_ATEN_OPERATORS = (torch._ops.OpOverload, torch._ops.OpOverloadPacket)


class _FunctionCounter(TorchFunctionMode):
    """Counts FLOPs of the torch functions called while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.opaque: set[str] = set()

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = RULES.get(func)
        if rule is not None and isinstance(out, torch.Tensor):
            self.flops += int(rule(out, *args, **kwargs))
        elif func in OPAQUE or isinstance(func, _ATEN_OPERATORS):
            # an aten operator called directly (a torch.export program's graph): no rule here
            self.opaque.add(getattr(func, "__qualname__", repr(func)))
        return out


def _with_flop_counter_mode(model: nn.Module, example: torch.Tensor) -> int:
    """torch's own count (imports ``torch._dynamo`` on first use; triton hidden: CPU only)."""
    if "torch.utils.flop_counter" in sys.modules or "triton" in sys.modules:
        from torch.utils.flop_counter import FlopCounterMode
    else:
        logger = logging.getLogger("torch.utils.flop_counter")
        level = logger.level
        sys.modules["triton"] = None  # type: ignore[assignment]  # "not installed", one import
        logger.setLevel(logging.ERROR)  # its "triton not found" warning is about GPU kernels
        try:
            from torch.utils.flop_counter import FlopCounterMode
        finally:
            del sys.modules["triton"]
            logger.setLevel(level)
    _register_cpu_attention()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    return int(counter.get_total_flops())


def _register_cpu_attention() -> None:
    """Give ``FlopCounterMode`` the rule it lacks for the CPU's fused scaled-dot-product
    attention kernel (``aten._scaled_dot_product_flash_attention_for_cpu``, what attention
    with a padding mask runs on the CPU): torch's own formula for its GPU flash kernel,
    ``sdpa_flop_count`` (two matmuls, Q·Kᵀ and weights·V). Without it those FLOPs count 0."""
    from torch.utils import flop_counter

    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is None or op in flop_counter.flop_registry:
        return

    @flop_counter.register_flop_formula(op)
    def _cpu_flash_attention(query_shape, key_shape, value_shape, *args, out_shape=None, **kw):
        return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def count_flops(model: nn.Module, example: torch.Tensor, *, exact_mode: bool = False) -> int:
    """FLOPs of ``model(example)`` as torch's ``FlopCounterMode`` counts them.

    Args:
        model: the module (run once, without gradients; its modes are not changed).
        example: its input (e.g. one sample, batch 1).
        exact_mode: always use ``FlopCounterMode`` itself (as the tests do).
    """
    with _unfused_attention():
        if exact_mode:
            return _with_flop_counter_mode(model, example)
        counter = _FunctionCounter()
        with torch.no_grad(), counter:
            model(example)
        if counter.opaque:
            return _with_flop_counter_mode(model, example)
        return counter.flops


@contextmanager
def _unfused_attention() -> Iterator[None]:
    """Count ``nn.TransformerEncoderLayer``/``nn.MultiheadAttention`` through their unfused
    path: their fused inference kernel (eval mode, no grad) hides every matmul from both
    counters. The same FLOPs; the setting is restored afterwards."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
