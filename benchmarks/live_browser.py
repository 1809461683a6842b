"""How live the dashboard is in a real browser: Voilà + Debian's Chromium + real key presses.

    python benchmarks/live_browser.py --json [--moves 22]

Starts Voilà as ``make app`` does (``tests/test_browser.py``'s :class:`VoilaServer`: the
repository's ``etc/voila`` config, 127.0.0.1, a free port, a result store in a temp dir),
opens the dashboard in Chromium via Playwright and waits for the first numbers. Then it
presses arrow keys on the noUiSlider handles (pruning 5 % steps, then bit-width steps, then
pruning back at the lowest bit-width: every move a configuration not evaluated before) and
times each move *in the page*: a capturing ``keydown`` listener and a ``MutationObserver``
on the metrics panel stamp ``performance.now()``:

* ``first_update``: keydown → the first change of the ``.lab-metric-accuracy`` text
  (the first look, ``lab-preliminary``, or the final figures if no first look came);
* ``final_update``: keydown → the accuracy value carries ``lab-final`` while the panel's
  label names the new configuration;
* ``pareto_plot``: the dashboard's plot is an SVG image drawn in the kernel; a capturing
  ``load`` listener on ``.lab-pareto`` stamps each new image once the browser has loaded
  it (for an ipympl plot, ``CanvasRenderingContext2D.prototype.drawImage`` is wrapped to
  stamp each draw into a canvas under ``.lab-pareto``); the delay is the first such stamp
  at or after (final − 100 ms), relative to the final panel;
* ``cold_start``: opening the app to the first accuracy shown, for a first visitor (the
  preheated kernel), a second one (a new browser context once the pool has refilled), then
  a burst of pool + 1 visitors one right behind the other (Voilà started as ``make app``
  does, with the pool the config gives this machine): the pool's visitors have a target,
  the one beyond the pool (no preheated kernel ready) is reported;
* ``first_move_vs_later``: the first move of each session against the later moves (the
  second session moves the bit-width at 0 % pruning: configurations new to the store).

``bare_pass_ms`` (one plain fp32 pass of the cnn over the 2,000 live images,
:func:`benchmarks.live.bare_pass_ms`) is measured in this process, before Voilà starts.
Targets: first update p50 ≤ 0.5 × bare + 50 ms, final update p95 ≤ 1.5 × bare + 100 ms
(the browser round trip allowance), cold start ≤ 3 s. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

COLD_START_TARGET_S = 3.0
PLOT_WINDOW_MS = 100
MOVE_TIMEOUT_S = 120
PAUSE_S = 0.4  # a pause between two deliberate moves (and for the plot's redraw)

# Installed once per page: key presses, metrics-panel snapshots at each mutation, Pareto draws.
INSTRUMENT = """() => {
  if (window.__lab) return;
  const S = window.__lab = {keys: [], events: [], draws: []};
  document.addEventListener('keydown', () => S.keys.push(performance.now()), true);
  const snap = () => {
    const b = document.querySelector('.lab-metric-accuracy b');
    const l = document.querySelector('.lab-metric-label');
    return {t: performance.now(), acc: b ? b.textContent : '', cls: b ? b.className : '',
            label: l ? l.textContent : ''};
  };
  S.snap = snap;
  new MutationObserver(() => S.events.push(snap())).observe(
    document.querySelector('.lab-metrics'),
    {subtree: true, childList: true, characterData: true, attributes: true});
  const plot = document.querySelector('.lab-pareto');
  plot.addEventListener('load', e => {
    if (e.target.tagName === 'IMG') S.draws.push(performance.now());
  }, true);
  const draw = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    const c = this.canvas;
    if (c && c.closest && c.closest('.lab-pareto')) S.draws.push(performance.now());
    return draw.apply(this, args);
  };
}"""

# true once the panel shows final figures under a label other than ``before``
FINAL_AFTER = """([before, since]) => window.__lab.events.some(
  e => e.t >= since && e.label !== before && e.cls.includes('lab-final'))"""


def instrument(page) -> None:
    page.evaluate(INSTRUMENT)


def press(page, slider: str, key: str) -> dict:
    """Press ``key`` once on ``slider``'s handle; wait for the new configuration's final
    figures; return the in-page timings of this move (ms from the keydown)."""
    page.locator(f"{slider} .noUi-handle").focus()
    before = page.evaluate("() => window.__lab.snap()")
    keys_before = page.evaluate("() => window.__lab.keys.length")
    page.keyboard.press(key)
    keydown = page.evaluate(
        f"() => window.__lab.keys.length > {keys_before} ? window.__lab.keys.at(-1) : null"
    )
    if keydown is None:
        raise RuntimeError(f"no keydown seen on {slider}")
    page.wait_for_function(
        FINAL_AFTER, arg=[before["label"], keydown], timeout=MOVE_TIMEOUT_S * 1000
    )
    events = page.evaluate(f"() => window.__lab.events.filter(e => e.t >= {keydown})")
    first = next(e for e in events if e["acc"] != before["acc"] or e["label"] != before["label"])
    final = next(e for e in events if e["label"] != before["label"] and "lab-final" in e["cls"])
    return {
        "keydown": keydown,
        "first_ms": first["t"] - keydown,
        "final_ms": final["t"] - keydown,
        "first_was_preliminary": "lab-preliminary" in first["cls"],
        "label": final["label"].strip(),
    }


def run_moves(page, presses: list[tuple[str, str]]) -> list[dict]:
    """Each press after a pause, as between two deliberate moves; one more pause at the end
    (the Pareto plot's redraw of the last move)."""
    moves = []
    for slider, key in presses:
        time.sleep(PAUSE_S)
        moves.append(press(page, slider, key))
    time.sleep(PAUSE_S)
    return moves


def plot_delays(page, moves: list[dict]) -> list[float | None]:
    """Per move: ms from the final panel to the first Pareto draw at or after final − 100 ms
    (None: no draw before the next key press)."""
    draws = page.evaluate("() => window.__lab.draws")
    delays = []
    for i, move in enumerate(moves):
        final = move["keydown"] + move["final_ms"]
        end = moves[i + 1]["keydown"] if i + 1 < len(moves) else float("inf")
        after = [d for d in draws if final - PLOT_WINDOW_MS <= d < end]
        delays.append(round(after[0] - final, 1) if after else None)
    return delays


def open_app(browser, url: str, timeout_s: float = 180):
    """A new browser context (a new visitor); seconds from navigation to the first numbers."""
    from test_browser import SHOWS_NUMBER

    page = browser.new_context(viewport={"width": 1280, "height": 1080}).new_page()
    started = time.monotonic()
    page.goto(url, timeout=timeout_s * 1000)
    page.wait_for_function(SHOWS_NUMBER, timeout=timeout_s * 1000)
    seconds = time.monotonic() - started
    page.wait_for_selector(".lab-pareto img, .lab-pareto canvas", timeout=30_000)
    instrument(page)
    return page, seconds


def plan(n: int) -> list[tuple[str, str]]:
    """``n`` key presses, each reaching a configuration not evaluated before: pruning
    5 % → 60 %, bit-width 8 → 2 at 60 %, then pruning down again at 2 bits."""
    moves = [(".lab-sparsity-slider", "ArrowRight")] * 12
    moves += [(".lab-bits-slider", "ArrowRight")] * 7  # 8, 7, 6, 5, 4, 3, 2 bits
    moves += [(".lab-sparsity-slider", "ArrowLeft")] * max(0, n - len(moves))
    return moves[:n]


def leave(page) -> None:
    try:
        page.goto("about:blank", timeout=10_000)
    finally:
        page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
    parser.add_argument("--moves", type=int, default=22, help="timed key presses (≥ 20)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for bare_pass_ms")
    args = parser.parse_args()

    import torch
    from live import bare_pass_ms, stats_ms
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS, VoilaServer

    from lab import machine, zoo

    results: dict = {"load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    torch.set_num_threads(args.threads)
    model = zoo.load("cnn")
    results["bare_pass_ms"] = round(bare_pass_ms(model), 1)
    torch.set_num_threads(1)
    results["bare_pass_ms_1_thread"] = round(bare_pass_ms(model), 1)  # for reference only
    torch.set_num_threads(args.threads)
    results["machine"] = machine.describe()

    server = VoilaServer(  # pool=None: the preheated pool make app has on this machine
        "notebooks/app.ipynb", Path(tempfile.mkdtemp(prefix="live-browser-")), pool=None
    )
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            server.wait_preheated()
            page, first_visitor = open_app(browser, server.url)
            server.wait_preheated()  # the pool's refill done: it does not compete with the moves
            moves = run_moves(page, plan(args.moves))
            delays = plot_delays(page, moves)
            errors = page.query_selector(".lab-status .lab-error")
            voila_error = "There was an error" in page.content()

            second, second_visitor = open_app(browser, server.url)  # the refilled pool's kernel
            server.wait_preheated()
            # new configurations (session 1 moved the bit-width only at 60 % pruning)
            second_moves = run_moves(second, [(".lab-bits-slider", "ArrowRight")] * 3)
            # a burst: pool + 1 visitors, each right behind the previous one; the pool's
            # kernels are taken one by one, the last visitor finds it empty (refilling)
            pool = server.health()["preheated"]
            burst = [open_app(browser, server.url) for _ in range(pool + 1)]
            for visitor, _ in reversed(burst):
                leave(visitor)
            leave(second)
            leave(page)
            browser.close()
    finally:
        server.stop()

    bare = results["bare_pass_ms"]
    results["moves"] = len(moves)
    results["first_update"] = stats_ms([m["first_ms"] for m in moves])
    results["final_update"] = stats_ms([m["final_ms"] for m in moves])
    results["final_ms_by_move"] = [
        [m["label"].split(" · ", 1)[-1], round(m["first_ms"]), round(m["final_ms"])] for m in moves
    ]
    results["first_look_shown"] = sum(m["first_was_preliminary"] for m in moves)
    measured = [d for d in delays if d is not None]
    results["pareto_plot"] = {
        "method": "the new plot image loaded under .lab-pareto (an SVG drawn in the kernel), "
        "stamped in the page by a capturing load listener",
        "delay_after_final_ms": stats_ms(measured),
        "moves_without_redraw": sum(d is None for d in delays),
        f"within_{PLOT_WINDOW_MS}_ms": sum(
            -PLOT_WINDOW_MS <= d <= PLOT_WINDOW_MS for d in measured
        ),
        "of": len(delays),
    }
    later = moves[1:]
    results["first_move_vs_later"] = {
        "session_1_first_move_ms": {
            "first": round(moves[0]["first_ms"], 1),
            "final": round(moves[0]["final_ms"], 1),
        },
        "session_2_first_move_ms": {
            "first": round(second_moves[0]["first_ms"], 1),
            "final": round(second_moves[0]["final_ms"], 1),
        },
        "session_2_moves": [
            [m["label"].split(" · ", 1)[-1], round(m["first_ms"]), round(m["final_ms"])]
            for m in second_moves
        ],
        "later_moves_p50_ms": {
            "first": stats_ms([m["first_ms"] for m in later]).get("p50_ms"),
            "final": stats_ms([m["final_ms"] for m in later]).get("p50_ms"),
        },
    }
    results["cold_start_s"] = {
        "first_visitor": round(first_visitor, 2),
        "second_visitor": round(second_visitor, 2),
        "preheated_pool": pool,
        "burst_of_pool_plus_one": [round(seconds, 2) for _, seconds in burst],
        "note": "navigation to the first accuracy shown; first and second visitor each find a "
        "quiet preheated kernel; then pool + 1 visitors arrive one right behind the other: "
        "the first `pool` find a preheated kernel, the last one waits for a refill (no target)",
    }
    within_pool = max(seconds for _, seconds in burst[:pool])
    later_p95 = stats_ms([m["final_ms"] for m in later])["p95_ms"]
    first_moves = max(moves[0]["final_ms"], second_moves[0]["final_ms"])
    results["errors_shown"] = bool(errors) or voila_error
    targets = {
        "first_update_p50": (0.5 * bare + 50, results["first_update"]["p50_ms"], "0.5×bare+50 ms"),
        "final_update_p95": (
            1.5 * bare + 100,
            results["final_update"]["p95_ms"],
            "1.5×bare+100 ms",
        ),
        "cold_start_first_visitor": (
            1000 * COLD_START_TARGET_S,
            1000 * first_visitor,
            f"{COLD_START_TARGET_S} s",
        ),
        "cold_start_second_visitor": (
            1000 * COLD_START_TARGET_S,
            1000 * second_visitor,
            f"{COLD_START_TARGET_S} s",
        ),
        "first_move_of_each_session": (
            later_p95,
            first_moves,
            "no slower than later moves (their p95)",
        ),
        "cold_start_burst_within_pool": (
            1000 * COLD_START_TARGET_S,
            1000 * within_pool,
            f"{COLD_START_TARGET_S} s for each of the pool's visitors",
        ),
    }
    results["targets"] = {
        name: {
            "target": text,
            "target_ms": round(target, 1),
            "measured_ms": round(value, 1),
            "target_met": value <= target,
        }
        for name, (target, value, text) in targets.items()
    }
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
