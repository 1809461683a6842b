"""Where a model runs: the CPU, or a GPU when one is present (``device="cuda"``).

The lab keeps its data and results on the CPU. :func:`on_device` gives a runtime that
holds a copy of the model on the device and moves each input batch there and the logits
back, so every lab loop (the accuracy pass, latency, throughput) runs unchanged; the
timings then include the transfers and the wait for the GPU to finish (the ``.cpu()`` of
the logits synchronizes), which is what a caller of the model pays.

int8 runtimes built from torch's quantized CPU kernels (static or dynamic int8) and
ONNX Runtime sessions run on the CPU only; :func:`on_device` says so instead of failing
deep inside torch.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in ("cpu", "cuda")
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["OnDevice", "describe_device", "on_device", "resolve_device"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``: None is the CPU (the lab's default), ``"auto"`` a
    GPU when one is present, else the CPU.

    Raises:
        ValueError: an unknown device, or ``cuda`` asked for on a machine without one.
    """
    if device is None:
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or None; got {device!r}"
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' but this machine has no CUDA GPU torch can use")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} but this machine has {torch.cuda.device_count()} GPU(s)"
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device must be the CPU or a CUDA GPU; got {device!r}")
    return resolved


def describe_device(device: torch.device) -> str:
    """``"cpu"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3)"``: the name a result should carry."""
    if device.type != "cuda":
        return "cpu"
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def _cpu_only(model: nn.Module) -> str | None:
    for module in model.modules():
        kind = type(module).__module__
        if kind.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")):
            return "torch's int8 kernels"
        if type(module).__name__ == "OnnxRuntimeModel":
            return "ONNX Runtime's CPU session"
    if any(t.is_quantized for t in model.state_dict().values() if isinstance(t, torch.Tensor)):
        return "torch's int8 kernels"
    return None


class OnDevice(nn.Module):
    """Runs a copy of ``model`` on ``device``: inputs go there, logits come back to the CPU."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.model = copy.deepcopy(model).to(device)
        self.executes_on = describe_device(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.device, non_blocking=True)).cpu()


def on_device(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """``model`` itself on the CPU, else an :class:`OnDevice` copy (``model`` is not moved).

    Raises:
        ValueError: the device is not available, or the model runs on the CPU only.
    """
    resolved = resolve_device(device)
    if resolved.type == "cpu":
        return model
    cpu_only = _cpu_only(model)
    if cpu_only is not None:
        raise ValueError(
            f"this model executes with {cpu_only}, which run on the CPU only; "
            "measure it with device='cpu' (or use a recipe without int8 activations on the GPU)"
        )
    return OnDevice(model, resolved)
