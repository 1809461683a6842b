"""A torch model's content hash: what the result store and the int8 cache key results by."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["fingerprint", "structure_key"]


def _hash_value(digest, name: str, value: object) -> None:
    """Feed ``name`` and a tensor's shape, dtype and bytes (or another value's repr) to ``digest``."""
    digest.update(name.encode())
    if isinstance(value, torch.Tensor):
        if value.is_meta:
            raise ValueError(
                f"{name!r} is on the 'meta' device: the model's weights have no values yet. "
                "Give them values first, e.g. model.to_empty(device='cpu') then "
                "model.load_state_dict(torch.load(path))"
            )
        t = value.detach().cpu().contiguous()
        digest.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        digest.update(repr(value).encode())


def fingerprint(model: nn.Module) -> str:
    """SHA-256 (16 hex) of a torch model's class, parameter/buffer names, shapes and values
    (and a TorchScript program's code, an ONNX graph's bytes)."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        _hash_value(digest, name, tensor)
    program = getattr(model, "onnx_bytes", None)  # a program whose graph holds the weights
    if isinstance(program, bytes):
        digest.update(program)
    if isinstance(model, torch.jit.ScriptModule):  # the same weights may run other code
        digest.update(str(model.inlined_graph).encode())
    return digest.hexdigest()[:16]


_PLAIN = (bool, int, float, str, bytes, type(None))


def _plain(value: object) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def structure_key(model: nn.Module) -> tuple:
    """What decides a model's computation apart from its weights' values: each module's
    name, class and plain settings (numbers, strings, flags and tuples of them: strides,
    ``inplace``, a user's ``repeats = 3``) and each parameter's and buffer's shape and dtype.
    Two models with equal keys run the same operators on the same shapes, so their FLOPs,
    and the validity of a rewrite checked on one, carry over to the other."""
    parts: list[tuple] = []
    for name, module in model.named_modules():
        settings = tuple(
            (k, repr(v))
            for k, v in sorted(vars(module).items())
            if not k.startswith("_") and _plain(v)
        )
        tensors = tuple(
            (k, tuple(t.shape), t.dtype)
            for k, t in (*module._parameters.items(), *module._buffers.items())
            if t is not None
        )
        parts.append((name, type(module), settings, tensors))
    return tuple(parts)
