"""The Voilà app in a real browser: Debian's Chromium driven by Playwright's Python package.

Starts ``voila notebooks/app.ipynb`` on a free local port (result store in a temp dir),
opens it headless, waits for the measured baseline, moves the pruning and bit-width
sliders with the keyboard (focus the noUiSlider handle, press → 14 times: 70 %; → 5
times: 4 bits), and checks that the accuracy and the size on disk shown change and that
Voilà reports no error. Saves a screenshot
to ``test-artifacts/dashboard.png`` (``docs/dashboard.png`` in the README is a copy of one).

Needs ``/usr/bin/chromium`` (``make browser`` installs it); skipped without it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
STARTUP_SECONDS = 90  # voila + kernel + torch import + the first (baseline) evaluation
SHOWS_NUMBER = (
    "() => (document.querySelector('.lab-metric-accuracy')?.textContent || '').includes('%')"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"voila exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"voila did not answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run `make browser`")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    voila = Path(sys.executable).parent / "voila"
    if not voila.exists():
        pytest.skip(f"voila is not installed next to {sys.executable}")
    tmp = tmp_path_factory.mktemp("voila")
    port, log = _free_port(), tmp / "voila.log"
    env = {**os.environ, "LAB_STORE": str(tmp / "results.sqlite"), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                str(voila),
                "notebooks/app.ipynb",
                f"--port={port}",
                "--no-browser",
                "--Voila.ip=127.0.0.1",
                "--show_tracebacks=False",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, process, log, timeout=60)
        yield url
    finally:  # voila and its kernels share the session's process group
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def _text(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def _press(page, slider: str, key: str, times: int) -> None:
    """Focus the slider's handle and press ``key`` ``times`` times, as a keyboard user would."""
    page.locator(f"{slider} .noUi-handle").focus()
    for _ in range(times):
        page.keyboard.press(key)


def test_dashboard_in_chromium_follows_the_pruning_slider(voila_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1080})
            page.goto(voila_url, timeout=STARTUP_SECONDS * 1000)
            try:
                page.wait_for_function(SHOWS_NUMBER, timeout=STARTUP_SECONDS * 1000)
            except Exception:
                status = (
                    page.inner_text(".lab-status") if page.query_selector(".lab-status") else ""
                )
                pytest.fail(f"the dashboard showed no baseline numbers; status: {status!r}")
            accuracy, size = _text(page, ".lab-metric-accuracy"), _text(page, ".lab-metric-size")

            # ipywidgets 8 sliders are noUiSlider: the handle takes keyboard focus; each arrow
            # key is one step (a burst of changes: the dashboard evaluates only the last one)
            _press(page, ".lab-sparsity-slider", "ArrowRight", 14)
            assert _text(page, ".lab-sparsity-slider .widget-readout") == "70%"
            _press(page, ".lab-bits-slider", "ArrowRight", 5)  # off → 8, 7, 6, 5, 4 bits
            assert _text(page, ".lab-bits-slider .widget-readout") == "4 bits"
            page.wait_for_function(
                "() => document.querySelector('.lab-metric-label').textContent"
                ".includes('prune 70% unstructured · 4-bit channel')",
                timeout=60_000,
            )
            new_accuracy, new_size = (
                _text(page, ".lab-metric-accuracy"),
                _text(page, ".lab-metric-size"),
            )
            assert new_size != size, "the size on disk did not change"
            assert new_accuracy != accuracy, "the accuracy did not change"
            assert "smaller" in _text(page, ".lab-change-size")
            assert "There was an error" not in page.content()
            assert not page.query_selector(".lab-error")

            page.wait_for_timeout(1500)  # let the Pareto canvas receive its redraw
            artifacts = ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            shot = artifacts / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)  # README's docs/dashboard.png is a copy
        finally:
            browser.close()
