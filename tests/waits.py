"""Waiting on a page's state on a slow or shared machine, and saying how long it took.

Browser tests wait for a state (a selector, a predicate), never for a fixed time, so a
generous bound costs nothing when the machine is quiet and saves the run when it is not
(CI shares 2 cores with other jobs: a notebook that runs in 25 s alone took over 100 s).
:func:`generous` turns what a step needs on a quiet machine into such a bound;
:class:`Stopwatch` records how long each step took, prints it and writes it next to the
screenshots, so a slow run is visible without failing.

``LAB_WAIT_FACTOR`` (default 1) multiplies every bound, for a machine slower still.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Stopwatch", "generous"]

FACTOR = 24  # bound = this × the quiet-machine time (25 s of notebook → 600 s)
FLOOR_S = 60.0  # no bound below this


def generous(quiet_seconds: float) -> float:
    """A bound for a step that takes ``quiet_seconds`` on a quiet machine: 24× that, at
    least 60 s, times ``LAB_WAIT_FACTOR``.

    Example:
        >>> generous(25), generous(1)
        (600.0, 60.0)
    """
    scale = float(os.environ.get("LAB_WAIT_FACTOR", "1") or 1)
    return max(FLOOR_S, FACTOR * quiet_seconds) * max(scale, 1.0)


class Stopwatch:
    """Named durations of a test's steps, with the machine's load when it started."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.steps: dict[str, float] = {}
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        self._started = time.monotonic()

    @contextmanager
    def step(self, label: str):
        """Time the block as ``label`` (recorded even when it fails)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.steps[label] = round(time.monotonic() - started, 2)

    def report(self, folder: Path | None = None) -> str:
        """One line of every step's seconds (and the total), printed; JSON in ``folder``."""
        total = round(time.monotonic() - self._started, 2)
        record = {"test": self.name, "load_1min": self.load, "total_s": total, **self.steps}
        line = f"{self.name}: " + ", ".join(f"{k} {v:g} s" for k, v in self.steps.items())
        load = "unknown" if self.load is None else f"{self.load:.1f}"
        line += f"; total {total:g} s (load {load} on {os.cpu_count()} cores)"
        print(line)
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"timings-{self.name}.json").write_text(json.dumps(record, indent=2) + "\n")
        return line
