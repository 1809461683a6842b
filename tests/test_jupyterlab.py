"""JupyterLab in a real browser: notebooks/04_dashboard.ipynb run from the Run menu in Chromium.

Starts ``jupyter lab`` on a free 127.0.0.1 port (no token; a result store, settings and
workspaces in a temp dir; the notebook is a temp copy, so nothing is saved into the repo),
opens the notebook in Debian's Chromium (the flags of tests/test_browser.py), chooses
*Run → Run All Cells* and waits for every cell to finish. Then every widget has rendered
(no "Loading widget…" left, the dashboard shows numbers), the ipympl figures are live
canvases, and the browser console has no errors. Saves ``test-artifacts/jupyterlab.png``.

Every wait is on the page's state with a generous bound (:func:`waits.generous`: many
times what a quiet machine needs), and how long each step took is printed and written to
``test-artifacts/timings-jupyterlab.json`` — a busy machine makes the test slow, not red.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, free_port, require_browser
from waits import Stopwatch, generous

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_dashboard.ipynb"
NOTEBOOK_PATH = ROOT / "notebooks" / NOTEBOOK
# Bounds: what each step takes on a quiet machine, made generous (the waits end on state)
RUN_SECONDS = generous(25)  # all cells of the notebook (it trains a small model for 10 s)
START_SECONDS = generous(5)  # jupyter lab answering; the page and its kernel ready
SHOW_SECONDS = generous(3)  # widgets and images appearing after the cells ran
# Console messages that are not the page's errors: the browser's own favicon request.
IGNORED_CONSOLE = ("favicon",)


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory):
    require_browser()
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        pytest.skip(f"jupyter is not installed next to {sys.executable}")
    tmp = tmp_path_factory.mktemp("jupyterlab")
    work = tmp / "notebooks"
    work.mkdir()
    shutil.copy(NOTEBOOK_PATH, work / NOTEBOOK)
    # every cell attached to the page (JupyterLab 4 otherwise defers off-screen cells)
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)  # no "official Jupyter news?" toast over the screenshot
    (apputils / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, log = free_port(), tmp / "jupyter-lab.log"
    env = {
        **os.environ,
        "LAB_STORE": str(tmp / "results.sqlite"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--IdentityProvider.token=",
        "--allow-root",  # CI containers run as root; harmless otherwise
        f"--ServerApp.root_dir={work}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "api/status", timeout=2) as response:
                    json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter lab did not answer within {START_SECONDS:g} s:\n{log.read_text()}"
                    )
                time.sleep(0.3)
        yield url
    finally:  # the server and its kernels share the session's process group
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
                process.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


PROMPTS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .map(p => p.textContent.trim())"""


def test_dashboard_notebook_runs_in_jupyterlab(jupyter_lab, record_property):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    watch = Stopwatch("jupyterlab")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" and not any(i in m.text for i in IGNORED_CONSOLE)
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            with watch.step("open notebook"):
                page.goto(f"{jupyter_lab}lab/tree/{NOTEBOOK}", timeout=START_SECONDS * 1000)
                page.wait_for_selector(
                    ".jp-NotebookPanel .jp-CodeCell", timeout=START_SECONDS * 1000
                )
                page.wait_for_selector(
                    ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                    timeout=START_SECONDS * 1000,
                )
                cells = json.loads(NOTEBOOK_PATH.read_text())["cells"]
                cells = sum(c["cell_type"] == "code" for c in cells)
                page.wait_for_function(
                    f"() => ({PROMPTS})().length === {cells}", timeout=START_SECONDS * 1000
                )

            with watch.step("run all cells"):
                # a click a busy machine's page dropped once (no cell queued, the kernel idle
                # for the whole bound) is repeated; once a cell is queued ("[*]"), never
                for _ in range(3):
                    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
                    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
                    try:
                        page.wait_for_function(
                            PROMPTS + ".some(p => p === '[*]:')",  # queued or running
                            timeout=generous(2) * 1000,
                            polling=250,
                        )
                        break
                    except PlaywrightTimeout:
                        continue
                # every prompt shows its execution number: "[1]:" … (none pending "[*]:")
                page.wait_for_function(
                    PROMPTS + ".every(p => /^\\[\\d+\\]:$/.test(p))",
                    timeout=RUN_SECONDS * 1000,
                    polling=500,
                )
            numbers = [int(p.strip("[]:")) for p in page.evaluate(PROMPTS)]
            assert numbers == list(range(1, cells + 1)), numbers
            assert not page.query_selector(".jp-OutputArea-output[data-mime-type*='error']"), (
                page.inner_text(".jp-OutputArea-output[data-mime-type*='error']")
            )

            # widgets rendered: no placeholder left, the dashboards show measured numbers
            with watch.step("dashboards show numbers"):
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.lab-dashboard .lab-metric-accuracy')]"
                    ".filter(e => e.textContent.includes('%')).length >= 2",
                    timeout=SHOW_SECONDS * 1000,
                )
            assert "Loading widget" not in page.inner_text(".jp-NotebookPanel")
            assert page.query_selector_all(".lab-sparsity-slider .noUi-handle")
            # the sliders tell assistive tech their values here too (widgets/aria.py)
            handle = page.locator(".lab-bits-slider .noUi-handle").first
            page.wait_for_function(
                "() => document.querySelector('.lab-bits-slider .noUi-handle')"
                ".getAttribute('aria-valuetext') === 'off (fp32)'",
                timeout=SHOW_SECONDS * 1000,
            )
            assert handle.get_attribute("aria-valuenow") == "32"
            # ipympl figures are live canvases (the sensitivity views); the dashboards' Pareto
            # plots are SVG images drawn in the kernel, loaded and not empty
            canvases = page.query_selector_all(".jupyter-matplotlib-canvas-div canvas")
            assert len(canvases) >= 2, f"{len(canvases)} ipympl canvases"
            with watch.step("plots drawn"):
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.lab-dashboard .lab-pareto img')]"
                    ".filter(i => i.complete && i.naturalWidth > 100).length >= 2",
                    timeout=SHOW_SECONDS * 1000,
                )
            page.locator(".lab-dashboard").first.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)  # the canvases' first draw
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab.png"))
        finally:
            browser.close()
            record_property("timings", watch.report(ARTIFACTS))  # how long, never a failure
    assert not problems, "\n".join(problems)
