"""Several visitors on one Voilà server at once, each in its own Chromium context (own kernel).

One server started as ``make app`` does (``test_browser``'s :class:`VoilaServer`). Two users
(``LAB_CONCURRENT_USERS=4`` by hand for four; not part of the suite) open the dashboard;
user A first moves the pruning slider alone (the single-user latencies), then every user
moves their own slider at the same time, one key press each per round: even users the
pruning slider, odd users the bit-width slider (users 3, 4 first set the other slider
once, so that no two users end on the same configuration). Checked:

* no error is shown (``.lab-status`` error, Voilà's error page);
* each panel ends on its own user's configuration (its label), not another user's;
* each user's p95 move latency (key press → final figures, timed in the page as in
  ``benchmarks/live_browser.py``) is at most 3 × the single-user p95 of the same test.

Figures go to ``test-artifacts/concurrent_users.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

import numpy as np
import pytest
from test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    STARTUP_SECONDS,
    VoilaServer,
    require_browser,
)

pytestmark = pytest.mark.browser

USERS = int(os.environ.get("LAB_CONCURRENT_USERS", "2"))
SINGLE_MOVES = 4  # user A alone: pruning 5 % → 20 %
ROUNDS = 4  # then every user at once, one key press each per round
SLOWDOWN = 3.0
SPARSITY, BITS = ".lab-sparsity-slider", ".lab-bits-slider"


def _live_browser():
    spec = importlib.util.spec_from_file_location(
        "live_browser", ROOT / "benchmarks" / "live_browser.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _p95(values: list[float]) -> float:
    return float(np.percentile(np.array(values), 95))


def _press_all(lb, pages: list, presses: list[tuple[str, str]]) -> list[dict]:
    """Every page's key press at once (one after the other, without waiting), then each
    page's move timed in the page: key press → its final figures."""
    starts = []
    for page, (slider, key) in zip(pages, presses, strict=True):
        page.locator(f"{slider} .noUi-handle").focus()
        before = page.evaluate("() => window.__lab.snap()")
        page.keyboard.press(key)
        starts.append((before, page.evaluate("() => window.__lab.keys.at(-1)")))
    moves = []
    for page, (before, keydown) in zip(pages, starts, strict=True):
        page.wait_for_function(
            lb.FINAL_AFTER, arg=[before["label"], keydown], timeout=lb.MOVE_TIMEOUT_S * 1000
        )
        events = page.evaluate(f"() => window.__lab.events.filter(e => e.t >= {keydown})")
        final = next(e for e in events if e["label"] != before["label"] and "lab-final" in e["cls"])
        status = page.inner_text(".lab-status").rsplit("·", 1)[-1].strip()
        moves.append(
            {"final_ms": final["t"] - keydown, "label": final["label"].strip(), "status": status}
        )
    return moves


def _cpu_seconds(server: VoilaServer) -> dict[str, float]:
    """CPU seconds (user + system) so far of the kernels, the Voilà server and Chromium."""
    import psutil

    def total(processes) -> float:
        seconds = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                seconds += times.user + times.system
            except psutil.Error:
                pass
        return seconds

    chromium = [p for p in psutil.process_iter(["name"]) if "chrom" in (p.info["name"] or "")]
    return {
        "kernels": total(server.kernels()),
        "voila_server": total([psutil.Process(server.process.pid)]),
        "chromium": total(chromium),
    }


def _expected_label(user: int) -> str:
    """The configuration user ``user`` ends on (see the module's docstring)."""
    steps = ROUNDS + (SINGLE_MOVES if user == 0 else 0)
    if user % 2 == 0:
        sparsity = f"prune {5 * steps}% unstructured"
        return sparsity + (" · 8-bit channel" if user >= 2 else "")
    bits = f"{8 - ROUNDS + 1}-bit channel"
    return ("prune 5% unstructured · " if user >= 2 else "") + bits


def test_concurrent_users_each_see_their_own_configuration_in_time(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    lb = _live_browser()
    started = time.monotonic()
    server = VoilaServer("notebooks/app.ipynb", tmp_path)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            server.wait_preheated()
            pages, opened_s = [], []
            for _ in range(USERS):
                page, seconds = lb.open_app(browser, server.url, timeout_s=STARTUP_SECONDS)
                pages.append(page)
                opened_s.append(round(seconds, 1))
            server.wait_preheated()  # the pool's refill must not compete with the moves
            for user, page in enumerate(pages):  # users 3, 4: the other slider once, untimed
                if user >= 2:
                    lb.press(page, BITS if user % 2 == 0 else SPARSITY, "ArrowRight")

            single = lb.run_moves(pages[0], [(SPARSITY, "ArrowRight")] * SINGLE_MOVES)
            together = []
            before, wall = _cpu_seconds(server), time.monotonic()
            for _ in range(ROUNDS):
                time.sleep(lb.PAUSE_S)
                presses = [(SPARSITY if u % 2 == 0 else BITS, "ArrowRight") for u in range(USERS)]
                together.append(_press_all(lb, pages, presses))
            wall, after = time.monotonic() - wall, _cpu_seconds(server)
            time.sleep(lb.PAUSE_S)

            for user, page in enumerate(pages):
                assert not page.query_selector(".lab-status .lab-error"), (
                    f"user {user}: {page.inner_text('.lab-status')}"
                )
                assert "There was an error" not in page.content(), f"user {user}: Voilà error"
                shown = page.inner_text(".lab-metric-label").strip()
                expected = _expected_label(user)
                assert shown.endswith(" · " + expected), f"user {user} sees {shown!r}"
                assert "%" in page.inner_text(".lab-metric-accuracy")
                assert page.query_selector(".lab-metric-accuracy b.lab-final")
            for page in pages:
                lb.leave(page)
            browser.close()
    finally:
        server.stop()

    single_p95 = _p95([m["final_ms"] for m in single])
    per_user = [[r[u]["final_ms"] for r in together] for u in range(USERS)]
    report = {
        "users": USERS,
        "opened_s": opened_s,
        "single_user_final_ms": [round(m["final_ms"]) for m in single],
        "single_user_p95_ms": round(single_p95),
        "concurrent_final_ms": [[round(v) for v in ms] for ms in per_user],
        "concurrent_p95_ms": [round(_p95(ms)) for ms in per_user],
        "status": [[r[u]["status"] for r in together] for u in range(USERS)],
        "cores_used_while_together": {  # CPU seconds per wall second, by kind of process
            kind: round((after[kind] - before.get(kind, 0.0)) / wall, 2) for kind in after
        },
        "cores": os.cpu_count(),
        "test_seconds": round(time.monotonic() - started, 1),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    name = "concurrent_users.json" if USERS == 2 else f"concurrent_users_{USERS}.json"
    (ARTIFACTS / name).write_text(json.dumps(report, indent=1) + "\n")
    for user, ms in enumerate(per_user):
        assert _p95(ms) <= SLOWDOWN * single_p95, (
            f"user {user}: p95 {_p95(ms):.0f} ms > {SLOWDOWN} × single-user p95 "
            f"{single_p95:.0f} ms: {report}"
        )
