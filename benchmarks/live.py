"""How live the dashboard is: from a slider change to an updated metrics panel.

    python benchmarks/live.py --json [--model cnn] [--threads 2]
    python benchmarks/live.py --json --model resnet18|mobilenet_v3_small|transformer [--items 80]
      (torchvision / transformer models at real sizes: see benchmarks/live_models.py)

Drives :class:`widgets.Dashboard` headlessly, setting ``.value`` as a user would, on a
fresh temporary result store, and times until the panel shows the new configuration.
Every target is relative to ``bare_pass_ms``, one plain fp32 forward pass of the baseline
over the 2,000 live images measured in the same run (machines differ by ~3×):

* ``first_update``: configurations never evaluated before — time until the panel shows
  the first look (exact bytes and FLOPs, preliminary accuracy on 500 images with its
  interval); target p50 ≤ 0.5 × bare pass, p95 ≤ 0.8 ×;
* ``final_update``: the same changes — time until the final figures (all 2,000 images,
  latency, energy) replace it; target p95 ≤ 1.5 × bare pass;
* ``uncached``: (kept for comparison with earlier runs) = ``final_update``;
* ``cached_session``: revisiting configurations seen in this session (shown at once);
* ``cached_store``: the same configurations in a new dashboard on the same store
  (lab's SQLite store answers; as after a kernel restart);
* ``drag``: a 20-step rapid drag (one change every 15 ms) over uncached positions —
  time from the last change until the panel shows the final position, how many
  evaluations the drag started and how many of them were cancelled when superseded;
* ``breakdown_median_ms``: where an uncached evaluation's time goes (median ms per phase
  of ``lab.measure.evaluate``, from its public ``timings`` hook);
* ``accuracy_pass``: the compute floor of an uncached evaluation: FLOPs of the final pass
  (the 1,500 live images the first look's 500 did not cover), its median time and the
  rate this machine delivered;
* ``targets``: each target with what was measured and ``target_met``.

Targets (project): first update p50 ≤ 0.5 × and p95 ≤ 0.8 × ``bare_pass_ms``, final update
p95 ≤ 1.5 ×, cached ≤ 30 ms (p95), the final drag position ≤ 1.5 × ``bare_pass_ms`` after
the last change. Prints one JSON object; every figure is measured in this run on this
machine (other jobs may share it: see the load averages).

Choices in ``lab.measure`` this benchmark was used to make (cnn, 2 threads, runs of
this script alternated with the other variant, 2 cores shared with other jobs at load ~3):
the accuracy pass at batch 256 took 313–329 ms against 518–601 ms at batch 1000, so
``ACCURACY_BATCH`` stays 256 (see the comment there for the in-process comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lab import machine, measure, store
from widgets import Dashboard

# target = factor × bare_pass_ms (None: an absolute target in ms)
RELATIVE_TARGETS = {
    "first_update_p50": 0.5,
    "first_update_p95": 0.8,
    "final_update_p95": 1.5,
    "drag_final": 1.5,
}
CACHED_TARGET_MS = 30
DRAG_STEPS, DRAG_INTERVAL_S = 20, 0.015


class PanelClock:
    """Records when the dashboard's panel starts showing a configuration label: its first
    look (``preliminary``) and its final figures (``measurement``)."""

    def __init__(self, dash: Dashboard) -> None:
        self._shown: list[tuple[float, str, bool]] = []
        self._event = threading.Condition()
        dash.metrics.observe(self._record, names="measurement")

    def _record(self, change: dict) -> None:
        shown = change["new"]
        if shown is None:
            return
        with self._event:
            final = not getattr(shown, "preliminary", False)
            self._shown.append((time.perf_counter(), shown.label, final))
            self._event.notify_all()

    def wait_for(
        self, label: str, since: float, timeout: float = 120, first: bool = False
    ) -> float:
        """Seconds from ``since`` until ``label`` was shown (at or after ``since``): its
        final figures, or (``first``) whatever came first, a first look or the final."""
        deadline = time.monotonic() + timeout
        with self._event:
            while True:
                for when, shown, final in self._shown:
                    if shown == label and when >= since and (final or first):
                        return when - since
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"the panel never showed {label!r}")
                self._event.wait(remaining)


def stats_ms(ms: list[float]) -> dict:
    """``n``, ``p50_ms``, ``p95_ms``, ``max_ms`` of timings in ms (``{"n": 0}`` for none)."""
    if not ms:
        return {"n": 0}
    values = np.array(ms)
    return {
        "n": len(ms),
        "p50_ms": round(float(np.median(values)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "max_ms": round(float(values.max()), 1),
    }


def _label(dash: Dashboard) -> str:
    return dash.recipe.describe()


def _change(dash: Dashboard, clock: PanelClock, apply_change: Callable[[], None]) -> float:
    """Apply one user change after a quiet moment; ms until the panel shows it (final)."""
    return _change_both(dash, clock, apply_change)[1]


def _change_both(
    dash: Dashboard, clock: PanelClock, apply_change: Callable[[], None]
) -> tuple[float, float]:
    """Apply one user change after a quiet moment; ms until the first look and the final."""
    dash.wait()
    time.sleep(0.1)  # a pause, as between two deliberate moves
    start = time.perf_counter()
    apply_change()
    label = _label(dash)
    final = 1000 * clock.wait_for(label, start)
    return 1000 * clock.wait_for(label, start, first=True), final


@torch.no_grad()
def bare_pass_ms(model: torch.nn.Module, repeats: int = 5) -> float:
    """Median ms of one plain fp32 forward pass of ``model`` over the 2,000 live images
    (batches of 256, as the lab's accuracy pass), after one warm-up pass."""
    from lab import data

    images = data.load_split("live").images
    model = model.eval()

    def one() -> float:
        start = time.perf_counter()
        for lo in range(0, len(images), 256):
            model(images[lo : lo + 256])
        return time.perf_counter() - start

    one()
    return 1000 * float(np.median([one() for _ in range(repeats)]))


def _configurations() -> list[dict]:
    """Distinct positions a user reaches one move at a time (sparsity, then bit-widths)."""
    moves = [{"sparsity": round(0.05 * i, 2)} for i in range(1, 13)]
    moves += [{"bits": b} for b in (8, 6, 4, 3, 2)]
    moves += [{"structure": "channel"}, {"sparsity": 0.3}, {"sparsity": 0.5}]
    return moves


def _move(dash: Dashboard, move: dict) -> None:
    if "sparsity" in move:
        dash.sparsity.value = move["sparsity"]
    if "bits" in move:
        dash.bits.value = move["bits"]
    if "structure" in move:
        dash.sparsity.structure = move["structure"]


class PhaseTimer:
    """An evaluator for the dashboard that records where each uncached evaluation's time goes,
    through ``lab.measure.evaluate``'s public ``timings`` hook (its phases and METRICS)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.recording = False

    def __call__(self, model, recipe, **kwargs):
        timings: dict[str, float] = {}
        result = measure.evaluate(model, recipe, timings=timings, **kwargs)
        if self.recording and not result.cached:
            for name, seconds in timings.items():
                self.seconds[name].append(seconds)
        return result

    def summary(self) -> dict:
        return {
            name: round(1000 * float(np.median(values)), 1) for name, values in self.seconds.items()
        }


def _evaluation_seconds(results: list[float]) -> dict:
    return stats_ms([1000 * s for s in results]) if results else {}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results_store = store.ResultStore(Path(tempfile.mkdtemp()) / "live.sqlite")
    results: dict = {
        "model": args.model,
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(not set)"),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "machine": machine.describe(),
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),
    }

    start = time.perf_counter()
    timer = PhaseTimer()
    dash = Dashboard(model=args.model, store=results_store, evaluator=timer, progressive=True)
    clock = PanelClock(dash)
    dash.wait(300)
    if dash.error:
        raise SystemExit(f"the dashboard could not evaluate {args.model}: {dash.error}")
    results["first_baseline_s"] = round(time.perf_counter() - start, 2)  # includes codecarbon start
    results["trained_weights"] = not dash.model_picker.warning  # same compute either way
    results["flops_per_image"] = dash.measurement.flops
    results["bare_pass_ms"] = round(bare_pass_ms(dash.model_picker.model), 1)

    timer.recording = True
    moves = _configurations()
    both = [_change_both(dash, clock, lambda m=m: _move(dash, m)) for m in moves]
    timer.recording = False
    evaluation_s = [m.seconds for m in dash.history if not m.cached]
    results["first_update"] = stats_ms([first for first, _ in both])
    results["final_update"] = stats_ms([final for _, final in both])
    results["uncached"] = results["final_update"]
    results["uncached_evaluate_call"] = _evaluation_seconds(evaluation_s[1:])  # minus the baseline
    results["breakdown_median_ms"] = timer.summary()
    pass_ms = timer.summary().get("accuracy pass + energy")
    if pass_ms:
        images = dash.measurement.n_images  # the final pass runs the images the first look
        if dash.progressive and dash.preliminary is not None:  # did not (lab.measure.evaluate)
            images -= dash.preliminary.n_images
        gflop = results["flops_per_image"] * images / 1e9
        results["accuracy_pass"] = {
            "images": images,
            "gflop": round(gflop, 1),
            "median_ms": pass_ms,
            "gflop_per_s": round(gflop / (pass_ms / 1000), 1),
            "executes_as": dash.measurement.executes_as,
        }

    # revisit positions seen before: in-session cache
    dash.sparsity.structure, dash.bits.value = "unstructured", 32
    dash.wait()
    revisit = [{"sparsity": round(0.05 * i, 2)} for i in range(1, 13)]
    results["cached_session"] = stats_ms(
        [_change(dash, clock, lambda m=m: _move(dash, m)) for m in revisit]
    )

    # a new dashboard on the same store: lab's SQLite store answers
    dash.close()
    fresh = Dashboard(model=args.model, store=results_store)
    fresh_clock = PanelClock(fresh)
    fresh.wait(300)
    results["cached_store"] = stats_ms(
        [_change(fresh, fresh_clock, lambda m=m: _move(fresh, m)) for m in revisit]
    )

    # a rapid drag over uncached positions (6-bit weights: none evaluated yet): 0 → 95 %,
    # then settle back on 90 %: 20 changes, one every 15 ms
    fresh.sparsity.value = 0.0
    fresh.bits.value = 6
    fresh.wait()
    time.sleep(0.1)
    runs_before, dropped_before = fresh.worker.runs, fresh.worker.dropped
    cancelled_before = getattr(fresh.worker, "cancelled", 0)
    positions = [round(0.05 * i, 2) for i in range(1, DRAG_STEPS)] + [0.9]
    for value in positions[:-1]:
        fresh.sparsity.value = value
        time.sleep(DRAG_INTERVAL_S)
    last = time.perf_counter()
    fresh.sparsity.value = positions[-1]
    final = 1000 * fresh_clock.wait_for(_label(fresh), last)
    fresh.wait()
    results["drag"] = {
        "steps": DRAG_STEPS,
        "interval_ms": 1000 * DRAG_INTERVAL_S,
        "final_shown_after_ms": round(final, 1),
        "evaluations": fresh.worker.runs - runs_before,
        "cancelled": getattr(fresh.worker, "cancelled", 0) - cancelled_before,
        "dropped": fresh.worker.dropped - dropped_before,
    }
    fresh.close()

    bare = results["bare_pass_ms"]
    measured = {
        "first_update_p50": (
            RELATIVE_TARGETS["first_update_p50"],
            results["first_update"]["p50_ms"],
        ),
        "first_update_p95": (
            RELATIVE_TARGETS["first_update_p95"],
            results["first_update"]["p95_ms"],
        ),
        "final_update_p95": (
            RELATIVE_TARGETS["final_update_p95"],
            results["final_update"]["p95_ms"],
        ),
        "cached_session_p95": (None, results["cached_session"]["p95_ms"]),
        "cached_store_p95": (None, results["cached_store"]["p95_ms"]),
        "drag_final": (RELATIVE_TARGETS["drag_final"], results["drag"]["final_shown_after_ms"]),
    }
    results["targets"] = {}
    for name, (factor, value) in measured.items():
        target = CACHED_TARGET_MS if factor is None else round(factor * bare, 1)
        results["targets"][name] = {
            "target": f"{CACHED_TARGET_MS} ms" if factor is None else f"{factor} × bare_pass_ms",
            "target_ms": target,
            "measured_ms": value,
            "ratio_to_bare_pass": round(value / bare, 2),
            "target_met": value <= target,
        }
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)  # other jobs share the CPU
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    import sys

    if any(model in sys.argv for model in ("resnet18", "mobilenet_v3_small", "transformer")):
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # real models at real sizes
        from live_models import main as real_models

        real_models(sys.argv[1:])
    else:
        main()
