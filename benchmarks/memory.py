"""What a dashboard kernel holds: resident memory after a session, over a bare ``import torch``.

    python benchmarks/memory.py --json [--moves 11]

Two fresh Python processes, one after the other, each reporting its resident set size
(``/proc/self/statm``): one that only imports torch, and one that runs a dashboard session
headless as a Voilà kernel would (``widgets.Dashboard(model="cnn")``, ``--moves`` slider moves
to configurations not measured before, then "Evaluate on full test set"), waits until the
dashboard has handed freed memory back (it does so once idle), and reports. The figure that
matters for a workshop server is the difference: what the lab adds to every kernel.
Target (issue 12): ≤ 250 MiB over the bare ``import torch`` of the same environment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MIB = 250

BARE = """
import torch
from lab.machine import _resident_bytes
print(_resident_bytes())
"""

SESSION = """
import sys, time
from widgets import Dashboard
from widgets.dashboard import TRIM_WHEN_IDLE_S
from lab.machine import _resident_bytes
dash = Dashboard(model="cnn")
assert dash.wait(300), "the baseline did not finish"
moves = int(sys.argv[1])
for i in range(moves):
    if i < 8:
        dash.sparsity.value = round(0.05 * (i + 1), 2)
    else:
        dash.bits.value = 8 - (i - 8)
    assert dash.wait(300), f"move {i} did not finish"
dash.evaluate_full()
assert dash.wait(900), "the full test-set evaluation did not finish"
time.sleep(TRIM_WHEN_IDLE_S + 1.5)  # freed memory goes back once the dashboard is idle
print(_resident_bytes())
"""


def _rss(code: str, *args: str) -> int:
    env = {**os.environ, "LAB_STORE": str(Path(tempfile.mkdtemp()) / "results.sqlite")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--moves", type=int, default=11, help="slider moves in the session")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from lab import machine

    mib = 2**20
    bare = _rss(BARE) / mib
    session = _rss(SESSION, str(args.moves)) / mib
    added = session - bare
    print(
        json.dumps(
            {
                "import_torch_mib": round(bare, 1),
                "dashboard_session_mib": round(session, 1),
                "added_by_the_lab_mib": round(added, 1),
                "target_mib": TARGET_MIB,
                "target_met": added <= TARGET_MIB,
                "moves": args.moves,
                "torch": torch.__version__,
                "machine": machine.describe(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
