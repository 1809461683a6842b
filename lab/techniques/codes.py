"""The lab's shared convention for quantized weights: integer codes that decode bit-exactly.

A quantized layer keeps an ordinary float weight (so every forward pass, every tool
and ``state_dict`` keep working) *and* a :class:`WeightCodes` attribute
``module.weight_codes`` from which that weight is reproduced exactly. The artifact
writer stores the codes (bit-packed) instead of the floats; the int8 path reads them.

Two kinds of codes:

* **uniform** — ``weight = (codes - zero_point) * scale``, one ``scale``/``zero_point``
  per group broadcast along dim 0 (groups = output channels, or 1 for the whole tensor).
  ``zero_point`` holds integers, with one documented exception: 1-bit *symmetric*
  (sign) quantization ``{-a, +a}`` uses ``zero_point = 0.5`` and ``scale = 2a``.
* **kmeans** — ``weight = codebook[group, codes]`` (Deep Compression weight sharing);
  ``codebook`` has shape ``(groups, 2**bits)``, ``groups = 1`` for per-layer sharing.

Zero survives: an exactly-zero (pruned) weight decodes to exactly ``0.0`` (uniform:
its code equals the zero point; kmeans: the codebook reserves an entry ``0.0``).

Example:
    >>> import torch
    >>> from torch import nn
    >>> layer = nn.Linear(2, 2, bias=False)
    >>> codes = WeightCodes(bits=2, codes=torch.tensor([[0, 1], [2, 1]], dtype=torch.uint8),
    ...                     scale=torch.tensor([0.5, 1.0]), zero_point=torch.tensor([1.0, 1.0]))
    >>> attach(layer, codes)
    >>> layer.weight.data
    tensor([[-0.5000,  0.0000],
            [ 1.0000,  0.0000]])
    >>> codes_of(layer) is codes
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["WeightCodes", "attach", "codes_of", "detach_codes"]


@dataclass
class WeightCodes:
    """Integer codes of a quantized weight; decode() reproduces the module's weight bit-exactly."""

    bits: int  # 1..8
    codes: torch.Tensor  # uint8, same shape as the weight, values in [0, 2**bits)
    scale: torch.Tensor | None = None  # float32, uniform: one per group, shape (groups,)
    zero_point: torch.Tensor | None = None  # float32 holding integers, shape (groups,)
    codebook: torch.Tensor | None = None  # float32, kmeans: shape (groups, 2**bits)

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 1 <= self.bits <= 8:
            raise ValueError(f"bits must be an integer from 1 to 8; got {self.bits!r}")
        if self.codes.dtype != torch.uint8:
            raise ValueError(f"codes must be a uint8 tensor; got {self.codes.dtype}")
        uniform = self.scale is not None and self.zero_point is not None
        if uniform == (self.codebook is not None):
            raise ValueError("give either scale and zero_point (uniform) or a codebook (kmeans)")
        if uniform:
            if self.scale.shape != self.zero_point.shape or self.scale.dim() != 1:
                raise ValueError("scale and zero_point must both have shape (groups,)")
        elif self.codebook.dim() != 2 or self.codebook.shape[1] != 2**self.bits:
            raise ValueError(
                f"codebook must have shape (groups, {2**self.bits}); "
                f"got {tuple(self.codebook.shape)}"
            )
        if self.groups not in (1, self.codes.shape[0]):
            raise ValueError(
                f"{self.groups} groups fit neither 1 per tensor nor "
                f"{self.codes.shape[0]} output channels"
            )

    @property
    def method(self) -> str:
        """``"uniform"`` or ``"kmeans"``."""
        return "kmeans" if self.codebook is not None else "uniform"

    @property
    def groups(self) -> int:
        """Number of scale/codebook groups (1 per tensor, or one per output channel)."""
        return len(self.scale) if self.codebook is None else self.codebook.shape[0]

    def decode(self) -> torch.Tensor:
        """The float32 weight these codes stand for."""
        if self.codebook is not None:
            if self.groups == 1:
                return self.codebook[0][self.codes.long()]
            flat = self.codes.reshape(self.groups, -1).long()
            return self.codebook.gather(1, flat).reshape(self.codes.shape)
        view = (-1,) + (1,) * (self.codes.dim() - 1)
        zero_point = self.zero_point.reshape(view)
        return (self.codes.float() - zero_point) * self.scale.reshape(view)

    def __repr__(self) -> str:
        shape = "×".join(map(str, self.codes.shape))
        return f"WeightCodes({self.bits}-bit {self.method}, {shape}, groups={self.groups})"


def attach(module: nn.Module, codes: WeightCodes) -> None:
    """Set ``module.weight`` to ``codes.decode()`` and keep the codes as ``module.weight_codes``."""
    weight = codes.decode()
    if weight.shape != module.weight.shape:
        raise ValueError(
            f"codes of shape {tuple(weight.shape)} do not fit a weight of shape "
            f"{tuple(module.weight.shape)}"
        )
    module.weight.data = weight.to(module.weight.device)
    module.weight_codes = codes


def codes_of(module: nn.Module) -> WeightCodes | None:
    """The :class:`WeightCodes` attached to ``module``, or ``None``."""
    return getattr(module, "weight_codes", None)


def detach_codes(module: nn.Module) -> None:
    """Forget the codes of ``module`` (its float weight stays as it is)."""
    module.__dict__.pop("weight_codes", None)
