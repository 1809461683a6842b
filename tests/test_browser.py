"""The Voilà apps in a real browser: Debian's Chromium driven by Playwright's Python package.

Each server is started like ``make app`` does (``voila NOTEBOOK --Voila.config_file_paths=
etc/voila``: preheated kernel, idle culling, the ``_xsrf`` cookie fix, ``/voila/health``)
on a free local port with a result store in a temp dir.

* the dashboard: wait for the measured baseline, move the pruning and bit-width sliders
  with the keyboard (focus the noUiSlider handle, press → 14 times: 70 %; → 5 times:
  4 bits), check that the accuracy and the size on disk shown change and that Voilà
  reports no error; screenshot ``test-artifacts/dashboard.png`` (``docs/dashboard.png`` in
  the README is a copy of one);
* a deep link (``?model=mobile&sparsity=0.9&bits=4&resolution=20&country=IND``) sets the
  sliders, names what it cannot apply, and *Copy link* copies the configuration's address;
* a closed tab's kernel is shut down (kernel processes of the voila server, counted with
  psutil, return to the preheated pool within :data:`FREED_SECONDS`); ``GET /voila/health``
  starts no kernel; an idle kernel is culled even with its tab open;
* the comparison app (``make app APP=compare``): table, Pareto plot and per-class bars;
* preheating: time to the first numbers for a first and a second visitor, with and without
  a preheated kernel (``test-artifacts/voila_startup.json``).

Needs ``/usr/bin/chromium`` (``make browser`` installs it); skipped without it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from waits import generous

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SCREENS = ROOT / "tests" / "artifacts" / "screens"  # committed: key states, looked at by people
VOILA_CONFIG = ROOT / "etc" / "voila"  # what `make app` passes (--Voila.config_file_paths)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Waits end on the page's state; their bounds are many times a quiet machine's time
# (tests/waits.py), so a busy shared machine makes a test slow, not red.
STARTUP_SECONDS = generous(20)  # voila + kernel + torch import + the first (baseline) evaluation
STEP_SECONDS = generous(3)  # a page change after a click, a move or a reload
FREED_SECONDS = 15  # a closed tab's kernel must be gone within this
SHOWS_NUMBER = (
    "() => (document.querySelector('.lab-metric-accuracy')?.textContent || '').includes('%')"
)
EXAMPLE_QUERY = "model=mobile&sparsity=0.9&bits=4&resolution=20&country=IND"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); run `make browser`")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")


class VoilaServer:
    """``voila NOTEBOOK`` with the repository's Voilà config, its kernels counted with psutil."""

    def __init__(
        self, notebook: Path | str, tmp: Path, *args: str, cwd: Path = ROOT, pool: int | None = 1
    ) -> None:
        """``pool``: preheated kernels (``--pool_size``), 1 by default so that tests count
        kernels the same on every machine; None keeps the config's own (memory and cores)."""
        voila = Path(sys.executable).parent / "voila"
        if not voila.exists():
            pytest.skip(f"voila is not installed next to {sys.executable}")
        self.port, self.log = free_port(), tmp / f"voila-{Path(notebook).stem}.log"
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "LAB_STORE": str(tmp / "results.sqlite"), "PYTHONUNBUFFERED": "1"}
        command = [
            str(voila),
            str(notebook),
            f"--port={self.port}",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            f"--Voila.config_file_paths={VOILA_CONFIG}",
            "--show_tracebacks=False",
            *args,
        ]
        if pool is not None and not any(a.startswith("--pool_size") for a in args):
            command.append(f"--pool_size={pool}")
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # voila and its kernels: one process group to stop
            )
        try:
            self._wait_http(timeout=generous(5))
        except BaseException:
            self.stop()
            raise

    def _wait_http(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"voila exited with {self.process.returncode}:\n{self.tail()}")
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.3)
        pytest.fail(f"voila did not answer on {self.url} within {timeout} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "voila/health", timeout=5) as response:
            assert response.status == 200
            return json.load(response)

    def kernels(self) -> list:
        """The kernel processes this server started (children running ipykernel)."""
        import psutil

        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "ipykernel" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def wait_kernels(self, count: int, timeout: float) -> float:
        """Seconds until exactly ``count`` kernel processes run; fails after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if len(self.kernels()) == count:
                return time.monotonic() - started
            time.sleep(0.2)
        pytest.fail(
            f"{len(self.kernels())} kernels still run after {timeout} s, expected {count}:\n"
            f"{self.tail()}"
        )

    def wait_preheated(self, timeout: float = STARTUP_SECONDS, quiet: int = 3) -> None:
        """Until the pool's kernel exists and has been quiet for ``quiet`` seconds in a row
        (its notebook has run up to where it waits for a visitor)."""
        deadline, calm = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            kernels = self.kernels()
            if kernels and self.health()["preheated"] >= 1:
                calm = calm + 1 if self._cpu_percent(kernels) < 10 else 0
                if calm >= quiet:
                    return
            else:
                calm = 0
                time.sleep(0.5)
        pytest.fail(f"no quiet preheated kernel after {timeout} s:\n{self.tail()}")

    @staticmethod
    def _cpu_percent(processes: list, interval: float = 1.0) -> float:
        """CPU % of ``processes`` together over ``interval`` s (one that exits counts as idle)."""
        import psutil

        for process in processes:
            try:
                process.cpu_percent(None)
            except psutil.Error:
                pass
        time.sleep(interval)
        total = 0.0
        for process in processes:
            try:
                total += process.cpu_percent(None)
            except psutil.Error:
                pass
        return total

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, browser):
    server = VoilaServer("notebooks/app.ipynb", tmp_path_factory.mktemp("voila-app"))
    yield server
    server.stop()


def _text(page, selector: str) -> str:
    return page.inner_text(selector).strip()


def _press(page, slider: str, key: str, times: int) -> None:
    """Focus the slider's handle and press ``key`` ``times`` times, as a keyboard user would."""
    page.locator(f"{slider} .noUi-handle").focus()
    for _ in range(times):
        page.keyboard.press(key)


def _aria(page, slider: str) -> list[str | None]:
    """The slider handle's aria-valuenow, -valuetext, -valuemin and -valuemax."""
    handle = page.locator(f"{slider} .noUi-handle")
    names = ("aria-valuenow", "aria-valuetext", "aria-valuemin", "aria-valuemax")
    return [handle.get_attribute(name) for name in names]


def _expect_sparsity(page, shown: str, timeout: float = STEP_SECONDS) -> None:
    """The pruning amount shown becomes ``shown``: in the box next to the slider (filled by the
    kernel, so after a round trip), or in the slider's own readout."""
    from playwright.sync_api import expect

    if page.query_selector(".lab-sparsity-readout input") is not None:
        expect(page.locator(".lab-sparsity-readout input")).to_have_value(
            shown, timeout=timeout * 1000
        )
    else:
        expect(page.locator(".lab-sparsity-slider .widget-readout")).to_have_text(
            shown, timeout=timeout * 1000
        )


def _wait_numbers(page, timeout: float = STARTUP_SECONDS) -> None:
    try:
        page.wait_for_function(SHOWS_NUMBER, timeout=timeout * 1000)
    except Exception:
        status = page.inner_text(".lab-status") if page.query_selector(".lab-status") else ""
        pytest.fail(f"the dashboard showed no numbers; status: {status!r}")


def _new_page(browser, **options):
    """A page in its own browser context (Playwright's ``browser.new_page()`` closes its page
    together with its private context, so the page's beforeunload handlers never run)."""
    return browser.new_context(**options).new_page()


def _leave(page) -> None:
    """Navigate away (Voilà's beforeunload asks the server to shut the kernel down), then close."""
    try:
        page.goto("about:blank", timeout=STEP_SECONDS * 1000)
    finally:
        page.context.close()


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _screen(page, name: str) -> None:
    """A small PNG of the visible window, kept in the repository (tests/artifacts/screens)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / name))


VERDICT = ("faster", "slower", " more", " less")
# records each text of the panel's "accuracy on N images" line in window.labBasis
RECORD_BASIS = """() => { window.labBasis = [];
  const panel = document.querySelector('.lab-metrics');
  new MutationObserver(() => {
    const line = panel.querySelector('.lab-metric-basis');
    const text = line ? line.textContent : '';
    if (text && window.labBasis[window.labBasis.length - 1] !== text) window.labBasis.push(text);
  }).observe(panel, {subtree: true, childList: true, characterData: true}); }"""


def test_dashboard_in_chromium_follows_the_pruning_slider(app, browser):
    from playwright.sync_api import expect

    page = _new_page(browser, viewport={"width": 1280, "height": 1080})
    try:
        page.goto(app.url, timeout=STARTUP_SECONDS * 1000)
        _wait_numbers(page)
        accuracy, size = _text(page, ".lab-metric-accuracy"), _text(page, ".lab-metric-size")
        page.evaluate(RECORD_BASIS)  # every "accuracy on N images" line shown from now on

        # ipywidgets 8 sliders are noUiSlider: the handle takes keyboard focus; each arrow
        # key is one step (a burst of changes: the dashboard evaluates only the last one)
        _press(page, ".lab-sparsity-slider", "ArrowRight", 14)
        _expect_sparsity(page, "70%")
        _press(page, ".lab-bits-slider", "ArrowRight", 5)  # off → 8, 7, 6, 5, 4 bits
        expect(page.locator(".lab-bits-readout input")).to_have_value(
            "4 bits", timeout=STEP_SECONDS * 1000
        )
        page.wait_for_function(
            "() => document.querySelector('.lab-metric-label').textContent"
            ".includes('prune 70% unstructured · 4-bit channel')",
            timeout=STEP_SECONDS * 1000,
        )
        new_accuracy, new_size = (
            _text(page, ".lab-metric-accuracy"),
            _text(page, ".lab-metric-size"),
        )
        assert new_size != size, "the size on disk did not change"
        assert new_accuracy != accuracy, "the accuracy did not change"
        assert "smaller vs fp32 file" in _text(page, ".lab-change-size")
        assert "There was an error" not in page.content()
        assert not page.query_selector(".lab-error")
        # the link follows the sliders
        assert "sparsity=0.7&bits=4" in _text(page, ".lab-link-query")
        # assistive tech hears the values, not the sliders' positions (widgets/aria.py)
        assert _aria(page, ".lab-bits-slider") == ["4", "4 bits", "1", "32"]
        assert _aria(page, ".lab-sparsity-slider") == ["70", "70 %", "0", "95"]
        assert _aria(page, ".lab-resolution-slider")[:2] == ["28", "28 px"]
        assert _aria(page, ".lab-scale-slider")[:2] == ["1000000", "1,000,000 per day"]

        # the Pareto plot (an SVG image, sent just before the final figures) shows the current
        # configuration's star with its label once the panel shows the final figures
        page.wait_for_selector(".lab-metric-accuracy b.lab-final", timeout=STEP_SECONDS * 1000)
        plot = page.evaluate(
            "() => fetch(document.querySelector('.lab-pareto img').src).then(r => r.text())"
        )
        assert "prune 70% unstructured · 4-bit channel" in plot, plot[-400:]
        assert page.evaluate(
            "() => { const i = document.querySelector('.lab-pareto img');"
            " return i.complete && i.naturalWidth > 100; }"
        )
        _screenshot(page, "dashboard.png")  # README's docs/dashboard.png is a copy
        # the first look said on how many images it rested; the final figure names it
        shown = page.evaluate("() => window.labBasis")
        assert any("accuracy first look on" in b and "refining" in b for b in shown), shown
        basis = _text(page, ".lab-metric-basis")
        assert basis.startswith("accuracy on 2,000 images, ±") and "(first look: " in basis
        # no verdict contradicts a note: unstructured pruning and 4-bit weights in fp32 run
        # the baseline's computation, so latency/energy/CO₂ show no faster/slower/more/less
        notes = _text(page, ".lab-metric-notes")
        assert "unchanged" in notes or "no speed-up" in notes
        for key in ("latency", "energy", "co2"):
            change = _text(page, f".lab-change-{key}")
            assert not any(word in change for word in VERDICT), (key, change, notes)
        _screen(page, "dashboard-70pc-4bit.png")
    finally:
        _leave(page)


def test_typed_values_are_used_as_typed_in_chromium(app, browser):
    """ "14" in the resolution box runs 14 px; "5000" inferences/day stays 5,000 after the
    page's log slider has snapped its own position (10^3.75 = 5,623) and sent it back."""
    from playwright.sync_api import expect

    page = _new_page(browser, viewport={"width": 1000, "height": 900})  # panel beside controls
    try:
        page.goto(app.url, timeout=STARTUP_SECONDS * 1000)
        _wait_numbers(page)
        box = page.locator(".lab-resolution-readout input")
        box.fill("14")
        box.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.lab-metric-label').textContent.includes('14 px')",
            timeout=STEP_SECONDS * 1000,
        )
        expect(box).to_have_value("14 px")
        per_day = page.locator(".lab-scale-entry input")
        per_day.fill("5000")
        per_day.press("Enter")
        # the page's log slider has taken the kernel's 5,000 (its handle moved off 10^6) ...
        page.wait_for_function(
            "() => document.querySelector('.lab-scale-slider .noUi-handle')"
            ".getAttribute('aria-valuenow') !== '1000000'",
            timeout=STEP_SECONDS * 1000,
        )
        page.wait_for_timeout(2000)  # ... and its snapped position's echo has come back
        expect(per_day).to_have_value("5,000")
        bits = page.locator(".lab-bits-readout input")
        bits.fill("4 bits")
        bits.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('.lab-metric-label').textContent.includes('4-bit')",
            timeout=STEP_SECONDS * 1000,
        )
        bits.fill("9")
        bits.press("Enter")
        expect(page.locator(".lab-bits-message")).to_contain_text(
            "1 to 8 bits", timeout=STEP_SECONDS * 1000
        )
        expect(bits).to_have_value("4 bits")
        # the panel sits beside the controls at 1,000 px
        controls = page.locator(".lab-sparsity").bounding_box()
        panel = page.locator(".lab-metrics").bounding_box()
        assert panel["x"] > controls["x"] + controls["width"] - 1, (controls, panel)
        assert panel["y"] < controls["y"] + controls["height"]
        _screen(page, "dashboard-typed-1000px.png")
        # the recommendation view: the dashboard plot's look, its floor read out in percent
        page.get_by_text("The most efficient model that is good enough").click()
        view = page.locator(".lab-recommendation-view")
        view.locator(".lab-figure-image").wait_for(timeout=STEP_SECONDS * 1000)
        widths = [  # one font scale: both images at their own size, none stretched
            page.locator(f"{owner} .lab-figure-image").bounding_box()["width"]
            for owner in (".lab-pareto", ".lab-recommendation-view")
        ]
        assert widths[0] == pytest.approx(widths[1], abs=1) == round(5.6 * 96), widths
        now, text, low, high = _aria(page, ".lab-floor-slider")
        assert text == f"{float(now):.1f} %" and float(low) <= float(now) <= float(high)
        view.scroll_into_view_if_needed()
        view.screenshot(path=str(SCREENS / "recommendation-1000px.png"))
    finally:
        _leave(page)


def test_a_deep_link_sets_the_sliders_and_copy_link_copies_the_configuration(app, browser):
    page = _new_page(
        browser,
        viewport={"width": 1280, "height": 1080},
        permissions=["clipboard-read", "clipboard-write"],
    )
    try:
        page.goto(f"{app.url}?{EXAMPLE_QUERY}", timeout=STARTUP_SECONDS * 1000)
        page.wait_for_function(
            "() => (document.querySelector('.lab-metric-label')?.textContent || '')"
            ".includes('prune 90% unstructured · 4-bit channel')",
            timeout=STARTUP_SECONDS * 1000,
        )
        _wait_numbers(page)
        # ipywidgets' <select> values are the option labels, e.g. "mobile (zoo)", "India (IND)"
        assert page.input_value(".lab-model-picker select").split(" (")[0] == "mobile"
        assert page.input_value(".lab-region-picker select").endswith("(IND)")
        _expect_sparsity(page, "90%")
        assert page.input_value(".lab-bits-readout input") == "4 bits"
        assert page.input_value(".lab-resolution-readout input") == "28 px"  # 20 not offered
        assert "mobile" in _text(page, ".lab-metric-label")
        message = _text(page, ".lab-link-message")
        assert "resolution=20 ignored: mobile runs at 28, 24" in message
        expected = f"{app.url}?model=mobile&sparsity=0.9&bits=4&country=IND"
        assert _text(page, ".lab-link-query") == expected[len(app.url) :]

        page.click(".lab-copy-link")
        page.wait_for_function(
            "() => document.querySelector('.lab-copy-link').dataset.copied !== undefined",
            timeout=STEP_SECONDS * 1000,
        )
        assert page.get_attribute(".lab-copy-link", "data-copied") == expected
        assert page.evaluate("navigator.clipboard.readText()") == expected

        _press(page, ".lab-bits-slider", "ArrowRight", 1)  # 4 → 3 bits: the link follows
        page.wait_for_function(
            "() => document.querySelector('.lab-link-query').textContent.includes('bits=3')",
            timeout=STEP_SECONDS * 1000,
        )
        assert not page.query_selector(".lab-error")
    finally:
        _leave(page)


def test_a_closed_tab_frees_its_kernel_and_the_health_check_starts_none(app, browser):
    app.wait_kernels(
        1, timeout=generous(10)
    )  # the preheated pool: one kernel waiting for a visitor
    deadline = time.monotonic() + generous(
        2
    )  # the previous tests' kernels also leave the manager's list
    while app.health()["kernels"] != 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    for _ in range(5):
        health = app.health()
        assert health == {"status": "ok", "kernels": 1, "preheated": 1}
    assert len(app.kernels()) == 1, "GET /voila/health started a kernel"

    page = _new_page(browser)
    page.goto(app.url, timeout=STARTUP_SECONDS * 1000)
    _wait_numbers(page)
    visitor = min(app.kernels(), key=lambda k: k.create_time())  # the pool's, now the visitor's
    rss = visitor.memory_info().rss
    app.wait_kernels(
        2, timeout=generous(10)
    )  # and the pool's refill, started fill_delay after the visit
    page.close(run_before_unload=True)  # the tab goes: Voilà's beforeunload shutdown request
    freed = app.wait_kernels(1, timeout=FREED_SECONDS)
    page.context.close()
    assert _ended(visitor), (
        f"another kernel went; the visitor's is still running: {visitor.cmdline()}\n"
        f"{[k.cmdline()[-1] for k in app.kernels()]}\n{app.tail(3000)}"
    )
    log = app.tail(20_000)
    assert "'_xsrf' argument missing" not in log
    assert "Kernel shutdown" in log
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "voila_kernel_freed.json").write_text(
        json.dumps({"freed_seconds": round(freed, 2), "kernel_rss_mb": round(rss / 2**20)}) + "\n"
    )


def test_an_idle_kernel_is_culled_even_with_its_tab_open(tmp_path, browser):
    notebook = tmp_path / "idle.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": "idle",
                        "metadata": {},
                        "outputs": [],
                        "source": ["import ipywidgets\n", "ipywidgets.IntSlider(3)"],
                    }
                ],
                "metadata": {
                    "kernelspec": {
                        "display_name": "Python 3",
                        "language": "python",
                        "name": "python3",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    server = VoilaServer(
        notebook.name,
        tmp_path,
        "--pool_size=0",  # no preheated kernel: the visitor's is the only one
        "--MappingKernelManager.cull_idle_timeout=4",
        "--MappingKernelManager.cull_interval=1",
        cwd=tmp_path,
    )
    try:
        page = _new_page(browser)
        page.goto(server.url, timeout=STEP_SECONDS * 1000)
        page.wait_for_selector(".widget-slider", timeout=STEP_SECONDS * 1000)
        assert len(server.kernels()) == 1
        server.wait_kernels(
            0, timeout=generous(2)
        )  # cull_connected (etc/voila): culled, tab still open
        assert "Culling kernels even with connected clients" in server.tail(20_000)
        page.context.close()
    finally:
        server.stop()


def test_compare_app_in_chromium(tmp_path, browser):
    server = VoilaServer("notebooks/compare_app.ipynb", tmp_path)
    page = _new_page(browser, viewport={"width": 1280, "height": 1200})
    try:
        page.goto(server.url, timeout=STARTUP_SECONDS * 1000)
        page.wait_for_function(
            "() => document.querySelectorAll('.lab-compare-result').length === 4",
            timeout=STARTUP_SECONDS * 1000,
        )
        rows = [r.inner_text() for r in page.query_selector_all(".lab-compare-result")]
        names = [r.split("\t")[0].strip(" ■") for r in rows]
        assert names[:3] == [
            "cnn baseline",
            "cnn 4-bit channel",
            "mobile baseline",
        ]
        assert names[3].startswith("LogisticRegression scikit-learn")  # a thin model
        assert all("%" in r and "B" in r for r in rows)
        assert len(page.query_selector_all(".lab-compare canvas")) >= 2  # Pareto + per-class
        assert not page.query_selector(".lab-compare .lab-error")

        page.select_option(
            ".lab-compare-row:nth-child(3) .lab-compare-preset select", "8-bit weights"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('.lab-compare-result')]"
            ".some(r => r.textContent.includes('mobile 8-bit channel'))",
            timeout=STEP_SECONDS * 1000,
        )
        page.wait_for_timeout(1500)  # the canvases' redraw
        _screenshot(page, "compare.png")
        _screen(page, "compare.png")
    finally:
        _leave(page)
        server.stop()


def _ended(process, within: float = 20.0) -> bool:
    """Whether a psutil process exits within ``within`` seconds (a zombie not yet reaped by
    voila counts as ended). A big process that has begun to exit already shows an empty
    command line (so it has left :meth:`VoilaServer.kernels`) while the system still
    frees its memory: that takes a moment, most of all on a loaded machine."""
    import psutil

    deadline = time.monotonic() + within
    while True:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _time_to_numbers(browser, url: str) -> float:
    """Seconds from opening ``url`` to the first accuracy shown (the tab is then closed)."""
    page = _new_page(browser)
    started = time.monotonic()
    page.goto(url, timeout=STARTUP_SECONDS * 1000)
    _wait_numbers(page)
    seconds = time.monotonic() - started
    _leave(page)
    return seconds


@pytest.mark.slow
def test_a_preheated_kernel_shows_the_first_visitor_numbers_sooner(tmp_path_factory, browser):
    timings = {}
    for mode, args in (("preheated", ()), ("cold", ("--pool_size=0",))):
        server = VoilaServer("notebooks/app.ipynb", tmp_path_factory.mktemp(mode), *args)
        try:
            if mode == "preheated":
                server.wait_preheated()
            first = _time_to_numbers(browser, server.url)
            server.wait_kernels(1 if mode == "preheated" else 0, timeout=FREED_SECONDS + 60)
            if mode == "preheated":
                server.wait_preheated()  # the refill, ready for the next visitor
            second = _time_to_numbers(browser, server.url)
            timings[mode] = {
                "first_visitor_s": round(first, 2),
                "second_visitor_s": round(second, 2),
            }
        finally:
            server.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    load = os.getloadavg()[0]
    (ARTIFACTS / "voila_startup.json").write_text(
        json.dumps({**timings, "load_1min": round(load, 2)}, indent=1) + "\n"
    )
    assert timings["preheated"]["first_visitor_s"] < timings["cold"]["first_visitor_s"], timings


@pytest.mark.parametrize(
    ("app_name", "notebook"),
    [(None, "notebooks/app.ipynb"), ("compare", "notebooks/compare_app.ipynb")],
)
def test_make_app_serves_with_the_config_tested_here(app_name, notebook):
    """`make app` starts Voilà as :class:`VoilaServer` does: same notebook, same config."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    args = ["make", "-n", "app", "PORT=9999"] + ([f"APP={app_name}"] if app_name else [])
    dry_run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert f"nb='{notebook}'" in dry_run
    assert f"--Voila.config_file_paths={VOILA_CONFIG.relative_to(ROOT)}" in dry_run
    assert "--port=9999" in dry_run and "--Voila.ip=127.0.0.1" in dry_run
