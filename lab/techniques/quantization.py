"""Weight quantization: uniform grids of 1–8 bits, k-means weight sharing, and QAT.

Every ``nn.Conv2d``, ``nn.Linear`` and ``nn.Embedding``/``EmbeddingBag`` (per row) gets integer codes
and a float weight that equals their decoding bit-exactly, so the quantized model runs
anywhere a float model runs and the artifact writer can store the codes instead.

Grids (``b`` bits, per output channel or per tensor):

* **symmetric**, ``b ≥ 2``: the restricted signed range ``q ∈ [-(2^(b-1)-1), 2^(b-1)-1]``,
  ``scale = max|w| / (2^(b-1)-1)``, stored as codes ``q + zero_point`` with
  ``zero_point = 2^(b-1)-1`` (``2^b - 1`` levels; 2 bits = ternary ``{-a, 0, a}``).
* **symmetric**, ``b = 1``: sign quantization ``{-a, +a}`` with ``a = mean|w|`` (the L2-optimal
  binary scale; ``zero_point = 0.5``, ``scale = 2a``). A sign grid has no zero, so a group
  holding exact zeros (pruned weights) falls back to the 1-bit affine grid, which keeps them.
* **affine**: ``scale = (max(w,0) - min(w,0)) / (2^b - 1)``, integer ``zero_point`` — the
  range always contains 0, so 0 is exactly on the grid.
* **kmeans** (Deep Compression, arXiv:1510.00149): ``2^b`` shared values per group found by
  Lloyd's algorithm from a linear initialisation. ``granularity="tensor"`` is the paper's
  per-layer sharing; ``"channel"`` gives each output channel its own codebook. When the
  weight holds exact zeros, entry 0 of every codebook is reserved for ``0.0`` and only the
  non-zeros are clustered.

Scales (and k-means values) are rounded to the nearest float16 when in its normal range —
a free choice that moves them by ≤ 2^-11 relative — so the artifact stores them in 2 bytes.
Rounding matches ``torch.fake_quantize_per_channel_affine`` bit for bit (round half to
even of ``w * (1/scale)``), which the tests use as an independent oracle.

k-means (8 Lloyd iterations) costs about 20× the uniform grid; both are fast enough for a
slider (timings in the README). Measure them on an idle machine: OpenMP threads on cores
that other jobs keep busy wait for each other.

Example:
    >>> from lab import zoo
    >>> from lab.techniques.configs import QuantConfig
    >>> model = quantize(zoo.build("cnn"), QuantConfig(bits=4))
    >>> codes_of(model.features[0][0])
    WeightCodes(4-bit uniform, 32×1×3×3, groups=32)
    >>> len(model.classifier.weight[0].unique()) <= 2**4
    True
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize

from lab.models.training import TrainReport, fit
from lab.techniques.codes import WeightCodes, attach, codes_of, detach_codes
from lab.techniques.configs import FinetuneConfig, QuantConfig
from lab.techniques.int8 import to_int8

__all__ = [
    "fake_quantize_weight",
    "quantizable_layers",
    "quantization_aware_finetune",
    "quantize",
    "quantize_weight",
    "uniform_qparams",
]

QUANTIZABLE = (nn.Conv2d, nn.Linear, nn.Embedding, nn.EmbeddingBag)  # embeddings: per row
KMEANS_ITERATIONS = 8


def _grouped(weight: torch.Tensor, granularity: str) -> torch.Tensor:
    """View ``weight`` as (groups, n): one row per output channel, or a single row."""
    return weight.reshape(weight.shape[0] if granularity == "channel" else 1, -1)


def _float16_exact(values: torch.Tensor) -> torch.Tensor:
    """``values`` rounded to float16 where in its normal range (files then store 2 bytes each).

    Scales and shared values are free choices; moving them by ≤ 2^-11 (relative) costs nothing.
    """
    normal = (values.abs() >= 2**-14) & (values.abs() <= 65504)
    return torch.where(normal, values.half().float(), values)


def _storable(scale: torch.Tensor) -> torch.Tensor:
    """Positive (0 → 1), float16-exact scales."""
    return _float16_exact(torch.where(scale > 0, scale, torch.ones_like(scale)))


def uniform_qparams(
    weight: torch.Tensor, bits: int, granularity: str = "channel", symmetric: bool = True
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Scale, zero point (float32, shape (groups,)) and largest code of a uniform ``bits``-bit grid.

    Example:
        >>> scale, zero_point, qmax = uniform_qparams(torch.tensor([[-1.0, 0.5]]), 2)
        >>> scale.tolist(), zero_point.tolist(), qmax
        ([1.0], [1.0], 2)
    """
    rows = _grouped(weight.detach(), granularity).float()
    lo, hi = rows.amin(1).clamp(max=0), rows.amax(1).clamp(min=0)
    if symmetric and bits == 1:
        has_zero = (rows == 0).any(1)  # no zero on a sign grid: those groups go affine
        scale = _storable(torch.where(has_zero, hi - lo, 2 * rows.abs().mean(1)))
        affine_zp = torch.round(-lo / scale).clamp(0, 1)
        return scale, torch.where(has_zero, affine_zp, torch.full_like(scale, 0.5)), 1
    if symmetric:
        half = 2 ** (bits - 1) - 1
        scale = _storable(rows.abs().amax(1) / half)
        return scale, torch.full_like(scale, float(half)), 2 * half
    qmax = 2**bits - 1
    scale = _storable((hi - lo) / qmax)
    return scale, torch.round(-lo / scale).clamp(0, qmax), qmax


def _uniform_codes(
    weight: torch.Tensor, bits: int, granularity: str, symmetric: bool
) -> WeightCodes:
    scale, zero_point, qmax = uniform_qparams(weight, bits, granularity, symmetric)
    view = (-1 if granularity == "channel" else 1,) + (1,) * (weight.dim() - 1)
    w = weight.detach().float()
    inv_scale = (1.0 / scale).reshape(view)
    if symmetric and bits == 1:  # sign: 1 for positive, 0 for negative (zeros handled by affine)
        sign = (w > 0).float()
        affine = torch.round(w * inv_scale) + zero_point.reshape(view)
        codes = torch.where(zero_point.reshape(view) == 0.5, sign, affine)
    else:
        codes = torch.round(w * inv_scale) + zero_point.reshape(view)
    codes = codes.clamp(0, qmax).to(torch.uint8)
    return WeightCodes(bits, codes, scale=scale, zero_point=zero_point)


def _kmeans_codes(
    weight: torch.Tensor, bits: int, granularity: str, iterations: int = KMEANS_ITERATIONS
) -> WeightCodes:
    rows = _grouped(weight.detach(), granularity).float().contiguous()
    nonzero = rows != 0
    reserve = int(not bool(nonzero.all()))  # keep a 0.0 entry when the weight has zeros
    k = 2**bits - reserve
    inf = torch.tensor(float("inf"), device=rows.device)
    lo = torch.where(nonzero, rows, inf).amin(1)
    hi = torch.where(nonzero, rows, -inf).amax(1)
    lo, hi = torch.nan_to_num(lo, posinf=0.0), torch.nan_to_num(hi, neginf=0.0)
    steps = torch.linspace(0, 1, k, device=rows.device)
    centroids = lo[:, None] + (hi - lo)[:, None] * steps[None, :]
    mass = nonzero.float()
    for iteration in range(iterations + 1):  # Lloyd: assign to the nearest value, then average
        boundaries = ((centroids[:, 1:] + centroids[:, :-1]) / 2).contiguous()
        assign = torch.searchsorted(boundaries, rows)
        if iteration == iterations:
            break
        sums = torch.zeros_like(centroids).scatter_add_(1, assign, rows * mass)
        counts = torch.zeros_like(centroids).scatter_add_(1, assign, mass)
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        centroids = centroids.sort(1).values
    codes = torch.where(nonzero, assign + reserve, torch.zeros_like(assign))
    centroids = _float16_exact(centroids)
    if reserve:
        centroids = torch.cat([torch.zeros_like(centroids[:, :1]), centroids], 1)
    return WeightCodes(bits, codes.reshape(weight.shape).to(torch.uint8), codebook=centroids)


def quantize_weight(
    weight: torch.Tensor,
    bits: int,
    granularity: str = "channel",
    symmetric: bool = True,
    method: str = "uniform",
) -> WeightCodes:
    """Quantize one weight tensor to :class:`WeightCodes` (see the module docstring for the grids).

    Example:
        >>> codes = quantize_weight(torch.tensor([[0.0, 0.3, -1.0]]), bits=2)
        >>> codes.decode()
        tensor([[ 0.,  0., -1.]])
    """
    QuantConfig(bits=bits, granularity=granularity, method=method)  # validates the arguments
    if method == "kmeans":
        return _kmeans_codes(weight, bits, granularity)
    return _uniform_codes(weight, bits, granularity, symmetric)


class _StraightThrough(torch.autograd.Function):
    """Forward: the quantized tensor; backward: the gradient passes to the float tensor unchanged."""

    @staticmethod
    def forward(ctx: object, weight: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
        return quantized.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def fake_quantize_weight(
    weight: torch.Tensor, bits: int, granularity: str = "channel", symmetric: bool = True
) -> torch.Tensor:
    """Quantize-dequantize ``weight`` on a uniform grid; gradients pass straight through (STE).

    Example:
        >>> w = torch.tensor([[0.2, -1.5, 0.75]], requires_grad=True)
        >>> fake_quantize_weight(w, 3)  # scale 0.5; 0.75 / 0.5 = 1.5 rounds half to even
        tensor([[ 0.0000, -1.5000,  1.0000]], grad_fn=<_StraightThroughBackward>)
    """
    quantized = _uniform_codes(weight.detach(), bits, granularity, symmetric).decode()
    return _StraightThrough.apply(weight, quantized.to(weight.dtype))


def quantizable_layers(model: nn.Module, config: QuantConfig) -> dict[str, nn.Module]:
    """Name → layer for every Conv2d/Linear the config quantizes (all but ``config.skip``).

    Raises:
        ValueError: when ``config.per_layer`` or ``config.skip`` names a layer the model lacks.
    """
    candidates = {name: m for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)}
    unknown = (set(config.per_layer) | set(config.skip)) - set(candidates)
    if unknown:
        raise ValueError(
            f"no Conv2d/Linear layer named {', '.join(map(repr, sorted(unknown)))}; "
            f"the model has: {', '.join(candidates)}"
        )
    return {name: m for name, m in candidates.items() if name not in config.skip}


def _quantize_in_place(model: nn.Module, config: QuantConfig) -> nn.Module:
    layers = quantizable_layers(model, config)
    for name, layer in layers.items():
        bits = config.per_layer.get(name, config.bits)
        attach(
            layer,
            quantize_weight(
                layer.weight, bits, config.granularity, config.symmetric, config.method
            ),
        )
    _round_to_float16(model, layers)
    return model


def _round_to_float16(model: nn.Module, layers: dict[str, nn.Module]) -> None:
    """Round the small float tensors — quantized layers' biases, batch-norm parameters and
    statistics — to float16 values (kept as float32), so the artifact stores 2 bytes each."""
    tensors = [b for layer in layers.values() if (b := getattr(layer, "bias", None)) is not None]
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            tensors += [
                t
                for t in (module.weight, module.bias, module.running_mean, module.running_var)
                if t is not None
            ]
    with torch.no_grad():
        for tensor in tensors:
            rounded = tensor.detach().half().float()
            if torch.isfinite(rounded).all():
                tensor.copy_(rounded)


def quantize(
    model: nn.Module, config: QuantConfig, calibration: torch.Tensor | None = None
) -> nn.Module:
    """A quantized copy of ``model`` (the input is left untouched).

    Args:
        model: any module; its Conv2d and Linear weights are quantized.
        config: bits, granularity, symmetric/affine, uniform/kmeans, per-layer bits, skips.
        calibration: a batch of inputs; needed only when ``config.activations`` asks for
            real int8 execution (then the result comes from :func:`lab.techniques.int8.to_int8`).

    Example:
        >>> from lab import zoo
        >>> small = quantize(zoo.build("mlp"), QuantConfig(bits=2, per_layer={"fc3": 8}))
        >>> codes_of(small.fc3).bits, codes_of(small.fc1).bits
        (8, 2)
    """
    quantized = _quantize_in_place(copy.deepcopy(model), config)
    if config.activations:
        if calibration is None:
            raise ValueError("QuantConfig(activations=True) needs a calibration batch of inputs")

        return to_int8(quantized, calibration)
    return quantized


class _FakeQuant(nn.Module):
    """Parametrization: uniform fake quantization of the (masked) weight with an STE."""

    def __init__(
        self, mask: torch.Tensor | None, bits: int, granularity: str, symmetric: bool
    ) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        self.bits, self.granularity, self.symmetric = bits, granularity, symmetric

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.mask is not None:
            weight = weight * self.mask
        return fake_quantize_weight(weight, self.bits, self.granularity, self.symmetric)


class _SharedWeights(nn.Module):
    """Parametrization: the trainable tensor is the codebook; weight = codebook[codes] (Deep Compression).

    A shared value's gradient is the *mean* of its weights' gradients (not their sum, which
    grows with the layer and makes the fine-tuning learning rate meaningless).
    """

    def __init__(self, codes: WeightCodes) -> None:
        super().__init__()
        self.bits = codes.bits
        flat = codes.codes.long().reshape(codes.groups, -1)
        counts = torch.zeros_like(codes.codebook).scatter_add_(
            1, flat, torch.ones_like(flat).float()
        )
        self.register_buffer("codes", flat)
        self.register_buffer("step", 1 / counts.clamp(min=1))
        self.register_buffer("frozen", codes.codebook == 0)  # the reserved 0.0 stays exact
        self.register_buffer("initial", codes.codebook.clone())
        self.shape = codes.codes.shape

    def forward(self, codebook: torch.Tensor) -> torch.Tensor:
        codebook = torch.where(self.frozen, torch.zeros_like(codebook), codebook)
        codebook = codebook * self.step + (codebook * (1 - self.step)).detach()  # value unchanged
        return codebook.gather(1, self.codes).reshape(self.shape)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return self.initial.clone()


def quantization_aware_finetune(
    model: nn.Module,
    config: QuantConfig,
    finetune: FinetuneConfig | None = None,
    *,
    size: int | None = None,
    loss_fn: Callable | None = None,
    progress: bool = True,
    data: object = None,
) -> nn.Module:
    """Quantization-aware fine-tuning of a copy of ``model``; returns it quantized, codes attached.

    Uniform: the forward pass sees fake-quantized weights, gradients pass straight through to
    float weights. K-means: the codes stay fixed and the shared values (codebooks) are trained,
    as in Deep Compression. Pruned (exactly zero) weights stay zero. Training runs at ``size``
    px (the resolution the model will see; default the native size) on ``data`` (default
    Fashion-MNIST, see :func:`lab.datasets.as_data`) and is bounded by ``finetune.epochs`` and
    ``finetune.max_seconds``, with ``loss_fn(model, x, y)`` when given (e.g. distillation);
    the :class:`~lab.training.TrainReport` is left on the result as ``result.finetune_report``.

    Example:
        >>> from lab import zoo
        >>> cfg = FinetuneConfig(epochs=0.01, max_seconds=1)
        >>> tuned = quantization_aware_finetune(zoo.build("cnn"), QuantConfig(bits=4), cfg,
        ...                                     progress=False)
        >>> codes_of(tuned.classifier).bits
        4
    """
    finetune = finetune or FinetuneConfig()
    result = copy.deepcopy(model)
    layers = quantizable_layers(result, config)
    for name, layer in layers.items():
        bits = config.per_layer.get(name, config.bits)
        if config.method == "kmeans":
            codes = codes_of(layer)
            if codes is None or codes.method != "kmeans" or codes.bits != bits:
                codes = quantize_weight(layer.weight, bits, config.granularity, method="kmeans")
            parametrization: nn.Module = _SharedWeights(codes)
        else:
            zeros = layer.weight.detach() == 0
            mask = (~zeros).float() if zeros.any() else None
            parametrization = _FakeQuant(mask, bits, config.granularity, config.symmetric)
        detach_codes(layer)
        parametrize.register_parametrization(layer, "weight", parametrization, unsafe=True)
    train = finetune.train_config(() if size is None else (size,))
    report: TrainReport = fit(result, train, loss_fn=loss_fn, progress=progress, data=data)
    result.cpu()
    for name, layer in layers.items():
        bits = config.per_layer.get(name, config.bits)
        p = layer.parametrizations.weight[0]
        if isinstance(p, _SharedWeights):
            codebook = torch.where(p.frozen, 0.0, layer.parametrizations.weight.original.detach())
            codes = WeightCodes(
                bits,
                p.codes.reshape(p.shape).to(torch.uint8),
                codebook=_float16_exact(codebook.float()).contiguous(),
            )
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
        else:
            weight = layer.parametrizations.weight.original.detach()
            if p.mask is not None:
                weight = weight * p.mask
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
            codes = quantize_weight(weight, bits, config.granularity, config.symmetric)
        attach(layer, codes)
    result.finetune_report = report
    return result.eval()
