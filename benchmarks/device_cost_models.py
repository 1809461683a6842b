"""Which latency model explains the catalog's published points best, by leave-one-out.

    python benchmarks/device_cost_models.py --json

For every catalog device and precision with at least four published points, each point is
estimated from a fit to the device's *other* points (the left-out point never takes part in
its own fit) under several cost models, and the relative errors are reported:

* ``per-kind MACs`` — the library's model (:func:`lab.runtimes.devices.leave_one_out`):
  seconds per MAC for dense conv, depthwise conv and linear;
* ``pooled MACs`` — one seconds-per-MAC for everything;
* ``per-kind, 1×1 vs k×k conv`` — dense convolutions split into pointwise and spatial
  (ResNet-8's 3×3 convolutions vs the 1×1 ones that dominate DS-CNN and MobileNet);
* ``MACs + outputs`` — a time per MAC and one per output element (int8 kernels requantize
  and store every output);
* ``MACs + outputs + operators`` — plus a fixed time per operator (kernel-call overhead).

Each model is fitted like the library's: non-negative least squares on relative error; a
per-kind column under 5 % of every point's MACs gets the pooled rate. Features are counted
on the meta device (shapes only) by a ``TorchFunctionMode`` over lab.flops's rules.

Caveat: choosing among these models on the same few points is itself a selection on them;
with four points per microcontroller a three-parameter model is fitted to three points and
interpolates them exactly. Read the table as evidence of what limits the estimate, not as a
validated improvement.
"""

from __future__ import annotations

import argparse
import functools
import json

import numpy as np
import torch
from scipy.optimize import nnls
from torch.overrides import TorchFunctionMode

from lab.meters import flops, machine
from lab.models import tiny_models
from lab.runtimes import devices

MIN_SHARE = devices.MIN_SHARE
MODELS = {
    "per-kind MACs": ("conv", "depthwise", "linear"),
    "pooled MACs": ("macs",),
    "per-kind, 1×1 vs k×k conv": ("pointwise", "spatial", "depthwise", "linear"),
    "MACs + outputs": ("macs", "outputs"),
    "MACs + outputs + operators": ("macs", "outputs", "operators"),
}
KIND_COLUMNS = {"conv", "pointwise", "spatial", "depthwise", "linear"}  # MACs of one kind


class _Features(TorchFunctionMode):
    """MACs per kind (dense conv split by kernel size), output elements and operators."""

    def __init__(self) -> None:
        super().__init__()
        self.f = dict.fromkeys(("pointwise", "spatial", "depthwise", "linear"), 0)
        self.f.update(outputs=0, operators=0)

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = flops.RULES.get(func)
        if rule is None or not isinstance(out, torch.Tensor):
            return out
        macs = int(rule(out, *args, **kwargs)) // 2
        self.f["outputs"] += out.numel()
        self.f["operators"] += 1
        if func is torch.conv2d:
            weight = args[1] if len(args) > 1 else kwargs["weight"]
            groups = args[6] if len(args) > 6 else kwargs.get("groups", 1)
            if groups > 1 and weight.shape[1] == 1:
                self.f["depthwise"] += macs
            elif weight.shape[2] * weight.shape[3] == 1:
                self.f["pointwise"] += macs
            else:
                self.f["spatial"] += macs
        else:
            self.f["linear"] += macs
        return out


@functools.lru_cache(maxsize=64)
def features(model: str) -> dict[str, int]:
    """Features of a catalog model name (as :func:`lab.runtimes.devices.point_macs` takes)."""
    counter = _Features()
    with torch.device("meta"):
        if model in tiny_models.NAMES:
            net, x = tiny_models.build(model), tiny_models.example(model).to("meta")
        else:
            width, size = model.removeprefix("mobilenet_v1_").split("_")
            net = tiny_models.mobilenet_v1(float(width), classes=1001).eval()
            x = torch.zeros(1, 3, int(size), int(size))
        with torch.no_grad(), counter:
            net(x)
    f = dict(counter.f)
    f["conv"] = f["pointwise"] + f["spatial"]
    f["macs"] = f["conv"] + f["depthwise"] + f["linear"]
    assert f["macs"] == sum(devices.point_macs(model).values()), model  # same count as the lab
    return f


def _fit(rows: np.ndarray, latency: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """Weights per column: NNLS on relative error; thin MAC kinds priced at the pooled rate."""
    macs_cols = [i for i, c in enumerate(columns) if c in KIND_COLUMNS]
    weights = np.zeros(len(columns))
    fitted = list(range(len(columns)))
    if macs_cols:
        totals = rows[:, macs_cols].sum(axis=1)
        pooled = float(np.median(latency / totals))
        share = (rows[:, macs_cols] / totals[:, None]).max(axis=0)
        thin = [i for i, s in zip(macs_cols, share, strict=True) if s < MIN_SHARE]
        weights[thin] = pooled
        fitted = [i for i in fitted if i not in thin]
    rest = rows @ weights
    a = rows[:, fitted] / latency[:, None]
    solution = nnls(a, (latency - rest) / latency)[0]
    weights[fitted] = solution
    for i in macs_cols:  # a zero rate would make that kind free: the pooled rate instead
        if weights[i] == 0:
            weights[i] = float(np.median(latency / rows[:, macs_cols].sum(axis=1)))
    return weights


def leave_one_out(points: list[dict], columns: tuple[str, ...]) -> list[float]:
    rows = np.array([[features(p["model"])[c] for c in columns] for p in points], dtype=float)
    latency = np.array([p["latency_ms"] for p in points])
    errors = []
    for i in range(len(points)):
        keep = np.arange(len(points)) != i
        weights = _fit(rows[keep], latency[keep], columns)
        errors.append(float(rows[i] @ weights / latency[i] - 1))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.parse_args()
    results = []
    for name in devices.names():
        if name == devices.THIS_MACHINE:
            continue
        device = devices.get(name)
        for precision in device.precisions:
            points = [p for p in device.points if p["precision"] == precision]
            if len(points) < 4:
                continue
            library = devices.leave_one_out(name, precision)["error"].tolist()
            entry = {"device": name, "precision": precision, "models": {}}
            for label, columns in MODELS.items():
                errors = leave_one_out(points, columns)
                if label == "per-kind MACs":  # the same model as the library's
                    assert np.allclose(errors, library), (name, precision, errors, library)
                entry["models"][label] = {
                    "errors": {
                        p["model"]: round(e, 3) for p, e in zip(points, errors, strict=True)
                    },
                    "median_abs_error": round(float(np.median(np.abs(errors))), 3),
                    "worst_abs_error": round(float(np.max(np.abs(errors))), 3),
                }
            results.append(entry)
    print(
        json.dumps(
            {"machine": machine.describe(), "models": MODELS, "results": results},
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
