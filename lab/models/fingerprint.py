"""A torch model's content hash: what the result store and the int8 cache key results by."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

__all__ = ["fingerprint"]


def _hash_value(digest, name: str, value: object) -> None:
    """Feed ``name`` and a tensor's shape, dtype and bytes (or another value's repr) to ``digest``."""
    digest.update(name.encode())
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    else:
        digest.update(repr(value).encode())


def fingerprint(model: nn.Module) -> str:
    """SHA-256 (16 hex) of a torch model's class, parameter/buffer names, shapes and values."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        _hash_value(digest, name, tensor)
    return digest.hexdigest()[:16]
