"""Resident memory of a dashboard on a 10,000-image 3×224×224 set (issue 21).

    python benchmarks/memory_scale.py --json [--images 10000] [--size 224]

Writes ``--images`` uint8 images to a temporary ``numpy.memmap`` (1.5 GB for 10,000 at
224 px; as float32 they would be 6.0 GB), then in this process: ``lab.datasets.as_data`` on
the memmap (kept as given: :mod:`lab.lazy`), and a headless ``widgets.Dashboard`` on it with
a small convolutional model (the data is what is measured, not the model) until its baseline
evaluation of the 2,000 live images is shown. After each stage it reports, from
``/proc/self/status``: ``VmRSS`` (resident), ``RssAnon`` (memory the process owns),
``RssFile`` (pages of the memmap and libraries the kernel may drop at any time) and
``VmHWM`` (the peak resident size so far). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")


def memory_mib() -> dict[str, float]:
    """The :data:`FIELDS` of ``/proc/self/status`` in MiB."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in FIELDS:
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def write_memmap(path: Path, n: int, size: int) -> np.memmap:
    """``n`` pseudo-random 3×size×size uint8 images (written 256 at a time)."""
    images = np.memmap(path, dtype=np.uint8, mode="w+", shape=(n, 3, size, size))
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (256, 3, size, size), dtype=np.uint8)
    for lo in range(0, n, 256):
        hi = min(n, lo + 256)
        images[lo:hi] = np.roll(block, lo, axis=3)[: hi - lo]
    images.flush()
    del images
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(n, 3, size, size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    args = parser.parse_args()

    import torch
    from torch import nn

    from lab import machine, store
    from lab.datasets import as_data
    from widgets import Dashboard

    out: dict = {
        "images": args.images,
        "shape": [3, args.size, args.size],
        "uint8_gib": round(args.images * 3 * args.size**2 / 2**30, 2),
        "float32_copy_gib": round(4 * args.images * 3 * args.size**2 / 2**30, 2),
        "cpu_model": machine.cpu_model(),
        "load_1min_before": round(os.getloadavg()[0], 2),
        "after_imports_mib": memory_mib(),
    }
    with tempfile.TemporaryDirectory(prefix="lab-memmap-") as tmp:
        pixels = write_memmap(Path(tmp) / "images.u8", args.images, args.size)
        labels = np.arange(args.images) % 10
        out["after_writing_memmap_mib"] = memory_mib()
        start = time.perf_counter()
        data = as_data((pixels, labels), name="10k at 224 px")
        out["as_data_s"] = round(time.perf_counter() - start, 1)
        out["data"] = repr(data)
        out["after_as_data_mib"] = memory_mib()
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(3, 8, 8, stride=8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(8, 10),
        )  # fmt: skip
        results = store.ResultStore(Path(tmp) / "results.sqlite")
        start = time.perf_counter()
        dash = Dashboard(model=model, data=data, store=results)
        finished = dash.wait(1800)
        out["dashboard_baseline_s"] = round(time.perf_counter() - start, 1)
        out["dashboard_finished"] = bool(finished) and not dash.error
        out["dashboard_items"] = getattr(dash.measurement, "n_images", None)
        out["after_dashboard_mib"] = memory_mib()
        dash.close()
    out["load_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
