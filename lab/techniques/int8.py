"""Real int8 execution on CPU: static post-training quantization with int8 activations.

:func:`to_int8` converts a float model (optionally carrying
:class:`~lab.techniques.codes.WeightCodes`) with PyTorch's FX graph mode quantization
(``prepare_fx``/``convert_fx``): conv-BN-ReLU are fused, activations are calibrated on
a batch of inputs, and every Conv2d/Linear then runs an int8 kernel (fbgemm/oneDNN).
The result says what actually executes in ``model.executes_as``.

* Weights that already carry uniform codes of ≤ 8 bits keep *their* integer values: the
  int8 weight is ``codes - zero_point`` with a per-channel scale (batch norm folded in), so
  4-bit weights stay on their 4-bit grid ("4-bit weights execute as int8"). k-means and
  8-bit affine codes are re-quantized to int8 from their decoded values.
* A model FX cannot trace (Python control flow on tensor values, e.g. a resolution
  wrapper) is quantized piecewise: each largest traceable submodule gets its own int8
  graph and the rest runs in float. If nothing can be converted the float model comes
  back, with the reason in ``executes_as``.

Why FX graph mode with the x86 engine: it had the best batch-256 throughput of the int8
paths measured (eager x86, oneDNN, fbgemm, qnnpack, torchao's dynamic and PT2E paths);
eager mode runs the same kernels but needs hand-placed QuantStubs and fusion lists.
int8 pays off where the CPU has int8 dot-product instructions (VNNI, AMX); on an AVX2-only
CPU it gains little over fp32 (``lab.machine.int8_instructions()``; the notes say so). At
batch 1 every path is overhead-bound. The measured table is in the README ("int8 paths").

``torch.ao.quantization`` is deprecated in favour of torchao; its warnings are silenced
where it is called. :func:`to_int8` packs the weights under ``torch.backends.quantized.engine``
= :data:`ENGINE` and then restores the caller's engine: packed weights carry their own
kernels, so the converted model runs them whatever the engine is when it is called. Copying
or unpickling a converted model re-packs its weights under the engine current at that
moment; do it inside :func:`quantized_engine` to keep the x86 kernels.

Example:
    >>> import torch
    >>> from lab import zoo
    >>> model = zoo.build("cnn").eval()
    >>> fast = to_int8(model, torch.randn(64, 1, 28, 28))
    >>> fast.executes_as
    'int8 (FX graph, x86 engine: fbgemm/oneDNN kernels)'
    >>> fast(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from lab.techniques.codes import WeightCodes, codes_of

__all__ = ["ENGINE", "int8_layers", "quantized_engine", "to_int8"]

ENGINE = "x86"  # torch.backends.quantized engine used to pack and run the int8 weights
QUANTIZABLE = (nn.Conv2d, nn.Linear)


@contextmanager
def quantized_engine(engine: str = ENGINE) -> Iterator[None]:
    """``torch.backends.quantized.engine`` set to ``engine`` inside the block, restored after."""
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch.ao's deprecation and observer warnings (the API still works)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*reduce_range will be deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        yield


def _integer_weight(codes: WeightCodes) -> torch.Tensor | None:
    """The weight's exact integers (``codes - zero_point``, ×2 for sign codes), if they fit int8."""
    if codes.method != "uniform":
        return None
    view = (-1,) + (1,) * (codes.codes.dim() - 1)
    k = codes.codes.float() - codes.zero_point.reshape(view if codes.groups > 1 else -1)
    if not torch.equal(k, k.round()):
        k = 2 * k  # 1-bit sign codes: zero point 0.5
    if not torch.equal(k, k.round()) or k.abs().max() > 127:
        return None  # e.g. 8-bit affine: re-quantized by the observer instead
    return k


def _exact_qweight(float_weight: torch.Tensor, integers: torch.Tensor) -> torch.Tensor | None:
    """Per-channel qint8 tensor with int values ``integers`` that dequantizes ≈ ``float_weight``.

    ``float_weight`` is the (batch-norm folded) weight: per output channel a multiple of
    ``integers``; the scale of channel c is ``max|w_c| / max|k_c|``.
    """
    rows_w = float_weight.detach().reshape(len(float_weight), -1).abs().amax(1)
    rows_k = integers.reshape(len(integers), -1).abs().amax(1)
    scale = torch.where(rows_k > 0, rows_w / rows_k.clamp(min=1), torch.ones_like(rows_w))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).double()
    zero = torch.zeros(len(scale), dtype=torch.int64)
    qweight = torch.quantize_per_channel(float_weight.detach().float(), scale, zero, 0, torch.qint8)
    return qweight if torch.equal(qweight.int_repr().float(), integers) else None


def _float_weight(module: nn.Module) -> torch.Tensor | None:
    """The float weight of a prepared (possibly fused) conv/linear module."""
    inner = module[0] if isinstance(module, nn.Sequential) and len(module) else module
    weight = getattr(inner, "weight", None)
    return weight if isinstance(weight, torch.Tensor) else None


def _prepare(module: nn.Module, example: torch.Tensor) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    return prepare_fx(module, get_default_qconfig_mapping(ENGINE), example_inputs=(example,))


class _Capture:
    """Records the first input each named submodule receives (the example for prepare_fx)."""

    def __init__(self, model: nn.Module, calibration: torch.Tensor) -> None:
        self.inputs: dict[str, torch.Tensor] = {}
        hooks = [m.register_forward_pre_hook(self._hook(name)) for name, m in model.named_modules()]
        try:
            with torch.no_grad():
                model(calibration[:1])
        finally:
            for hook in hooks:
                hook.remove()

    def _hook(self, name: str) -> Callable[[nn.Module, tuple], None]:
        def record(module: nn.Module, args: tuple) -> None:
            if name not in self.inputs and args and isinstance(args[0], torch.Tensor):
                self.inputs[name] = args[0]

        return record


def _prepare_largest_traceable(
    model: nn.Module,
    name: str,
    capture: _Capture,
    prepared: dict[str, nn.Module],
    failures: list[str],
) -> nn.Module:
    """FX-prepare ``model`` if it traces; else recurse into its children. Returns the replacement."""
    has_layers = any(isinstance(m, QUANTIZABLE) for m in model.modules())
    if not has_layers or name not in capture.inputs:
        return model
    try:
        # a lone layer is wrapped so that it is traced as a module (→ an int8 module), not a call
        wrapped = nn.Sequential(model) if isinstance(model, QUANTIZABLE) else model
        result = _prepare(wrapped, capture.inputs[name])
        prepared[name] = result
        return result
    except Exception as exc:  # symbolic tracing fails on data-dependent Python control flow
        if isinstance(model, QUANTIZABLE):
            failures.append(f"{name or 'model'}: {type(exc).__name__}")
            return model
        failures.append(f"{name or type(model).__name__} not traceable ({type(exc).__name__})")
    for child_name, child in list(model.named_children()):
        full = f"{name}.{child_name}" if name else child_name
        replacement = _prepare_largest_traceable(child, full, capture, prepared, failures)
        if replacement is not child:
            setattr(model, child_name, replacement)
    return model


def _inject_codes(original: nn.Module, name: str, prepared: nn.Module, converted: nn.Module) -> int:
    """Give converted int8 layers the exact integers of the original WeightCodes; return how many."""
    exact = 0
    floats = {n: _float_weight(m) for n, m in prepared.named_modules()}
    lone = isinstance(original.get_submodule(name), QUANTIZABLE)  # wrapped as Sequential(layer)
    for layer_name, layer in converted.named_modules():
        full = name if lone else f"{name}.{layer_name}".strip(".")
        if lone and layer_name != "0":
            continue
        try:
            source = original.get_submodule(full)
        except AttributeError:
            continue
        codes = codes_of(source)
        weight = floats.get(layer_name)
        if codes is None or weight is None or not hasattr(layer, "set_weight_bias"):
            continue
        if not torch.equal(codes.decode(), source.weight.detach()):
            continue  # stale codes: the weight was changed after quantizing
        integers = _integer_weight(codes)
        qweight = None if integers is None else _exact_qweight(weight, integers)
        if qweight is not None:
            layer.set_weight_bias(qweight, layer.bias())
            exact += 1
    return exact


def int8_layers(model: nn.Module) -> int:
    """Number of int8 conv/linear kernels in a converted model."""
    from torch.ao.nn.quantized import Conv2d as QConv2d
    from torch.ao.nn.quantized import Linear as QLinear

    return sum(isinstance(m, (QConv2d, QLinear)) for m in model.modules())


def to_int8(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """A copy of ``model`` whose Conv2d/Linear layers run int8 kernels on the CPU.

    Args:
        model: a float model (left untouched); WeightCodes of ≤ 8 bits are honoured.
        calibration: a batch of typical inputs (a few hundred training images) used to
            choose the activation scales.

    Returns:
        The converted model, in eval mode on the CPU, with ``executes_as`` (what runs),
        ``int8_layer_count`` and ``exact_code_layers`` (layers whose stored integer codes
        are used as they are).
    """
    if not isinstance(calibration, torch.Tensor) or calibration.dim() < 2 or not len(calibration):
        raise ValueError("calibration must be a non-empty batch of inputs (a tensor N×…)")
    source = copy.deepcopy(model).cpu().eval()
    layer_count = sum(isinstance(m, QUANTIZABLE) for m in source.modules())
    calibration = calibration.detach().cpu().float()
    # convert_fx builds modules that draw from torch's global generator: keep the caller's
    with quantized_engine(ENGINE), torch.random.fork_rng(devices=[]), _quiet(), torch.no_grad():
        capture = _Capture(source, calibration)
        prepared: dict[str, nn.Module] = {}
        failures: list[str] = []
        root = _prepare_largest_traceable(copy.deepcopy(source), "", capture, prepared, failures)
        if not prepared:
            reason = "; ".join(failures) or "no Conv2d/Linear layer ran on the calibration batch"
            result = source
            result.executes_as = f"fp32 (int8 conversion failed: {reason})"
            result.int8_layer_count, result.exact_code_layers = 0, 0
            return result
        root(calibration)
        from torch.ao.quantization.quantize_fx import convert_fx

        exact = 0
        for name, module in prepared.items():
            fused_floats = copy.deepcopy(module)
            converted = convert_fx(module)
            exact += _inject_codes(source, name, fused_floats, converted)
            if name:
                parent, _, attr = name.rpartition(".")
                setattr(root.get_submodule(parent), attr, converted)
            else:
                root = converted
        root(calibration[:2])  # fails loudly here, not later, if a kernel is missing
    count = int8_layers(root)
    if "" in prepared:
        label = f"int8 (FX graph, {ENGINE} engine: fbgemm/oneDNN kernels)"
    else:
        label = (
            f"int8 for {count} of {layer_count} conv/linear layers (FX per submodule, "
            f"{ENGINE} engine); the rest fp32: {'; '.join(failures)}"
        )
    bits = sorted(
        {c.bits for m in source.modules() if (c := codes_of(m)) is not None and c.bits < 8}
    )
    if bits and count:
        label += f"; {'/'.join(map(str, bits))}-bit weights execute as int8"
    root.executes_as, root.int8_layer_count, root.exact_code_layers = label, count, exact
    return root.eval()
