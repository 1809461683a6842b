"""The Voilà app works offline: its page loads no asset from another host (no CDN).

Voilà's ``lab`` template links Font Awesome from cdn.jsdelivr.net and nbconvert's imports
mermaid.js from cdnjs; ``etc/voila/voila.py`` selects the ``lab-offline`` template
(``etc/voila/share/jupyter/nbconvert/templates/lab-offline``), which leaves them out. The
server is started as ``make app`` does (``test_browser``'s :class:`VoilaServer`: the
repository's config, a preheated kernel), from a working directory outside the repository
(the config finds its template from its own path).

* the HTML of ``/`` (urllib): no ``<link href>``, ``src``, ``@import``, ``url(`` or module
  ``import`` names a host other than the page's own, and the page is the ``lab-offline`` one;
* in Chromium, with every other host refused (an offline machine): while the app loads, up to
  its first numbers, no request goes to a host other than 127.0.0.1, and Font Awesome (which
  Voilà's ``voila-style.js`` bundles) still gives an ``fa fa-check`` icon its font.
"""

from __future__ import annotations

import re
import urllib.request
from urllib.parse import urlsplit

import pytest
from test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SHOWS_NUMBER,
    STARTUP_SECONDS,
    VoilaServer,
    require_browser,
)

pytestmark = pytest.mark.browser

LOCAL_HOST = "127.0.0.1"
_URL = r"""((?:[a-z][a-z0-9+.-]*:)?//[^\s"'\\)<>]+)"""  # absolute or protocol-relative
ASSET_REFERENCES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"""<link\b[^>]*?\bhref\s*=\s*\\?["']?""" + _URL,  # stylesheets, preloads, icons
        r"""\b(?:src|srcset)\s*=\s*\\?["']?""" + _URL,  # scripts, images, frames…
        r"""@import\s+(?:url\(\s*)?\\?["']?""" + _URL,
        r"""\burl\(\s*\\?["']?""" + _URL,  # fonts, backgrounds
        r"""\bimport\s*\(\s*\\?["']""" + _URL,  # dynamic module imports
        r"""\b(?:import|from)\s+\\?["']""" + _URL,  # static module imports
    )
]
FONT_AWESOME_ICON = """async () => {
    const icon = document.createElement('i');
    icon.className = 'fa fa-check';
    document.body.appendChild(icon);
    const faces = await document.fonts.load('900 16px "Font Awesome 5 Free"');
    return {family: getComputedStyle(icon).fontFamily, faces: faces.length};
}"""


def external_assets(html: str, own_host: str) -> list[str]:
    """The URLs of assets ``html`` would load from a host other than ``own_host``."""
    found = []
    for pattern in ASSET_REFERENCES:
        for url in pattern.findall(html):
            if urlsplit(url).netloc.lower() != own_host.lower():
                found.append(url)
    return sorted(set(found))


def test_the_detector_finds_what_voilas_lab_template_links():
    html = (
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/fa@5/css/all.min.css" />'
        '<script src="//unpkg.com/x.js"></script><style>@import "http://x.org/a.css";'
        "@font-face{src:url(https://fonts.example/f.woff2)}</style>"
        '<script type="module">await import("https://cdnjs.cloudflare.com/m.mjs")</script>'
        '<a href="https://example.org/docs">docs</a>'  # a link to follow, not an asset
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
        '<link rel="stylesheet" href="/voila/templates/lab-offline/static/index.css">'
        '<script src="http://127.0.0.1:8866/voila/static/voila.js"></script>'
    )
    assert external_assets(html, "127.0.0.1:8866") == [
        "//unpkg.com/x.js",
        "http://x.org/a.css",
        "https://cdn.jsdelivr.net/npm/fa@5/css/all.min.css",
        "https://cdnjs.cloudflare.com/m.mjs",
        "https://fonts.example/f.woff2",
    ]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("voila-offline")
    server = VoilaServer(ROOT / "notebooks" / "app.ipynb", tmp, cwd=tmp)  # not the repo root
    yield server
    server.stop()


def test_the_app_page_names_no_other_host(app):
    with urllib.request.urlopen(app.url, timeout=STARTUP_SECONDS) as response:
        assert response.status == 200
        html = response.read().decode("utf-8")
    assert 'id="rendered_cells"' in html, f"not the app page:\n{html[-2000:]}"
    own_host = urlsplit(app.url).netloc
    assert external_assets(html, own_host) == [], "assets from another host (CDN)"
    assert "/voila/templates/lab-offline/static/" in html, "not the lab-offline template"


def test_the_app_loads_in_chromium_asking_no_other_host(app):
    require_browser()
    from playwright.sync_api import sync_playwright

    requested: list[str] = []

    def offline(route) -> None:  # a machine without internet: only the app's server answers
        if urlsplit(route.request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1080})
            context.route("**/*", offline)
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("websocket", lambda socket: requested.append(socket.url))
            page.goto(app.url, timeout=STARTUP_SECONDS * 1000)
            page.wait_for_function(SHOWS_NUMBER, timeout=STARTUP_SECONDS * 1000)
            icon = page.evaluate(FONT_AWESOME_ICON)
            page.wait_for_timeout(1000)  # late requests (fonts, lazy chunks)
            context.close()
        finally:
            browser.close()

    assert requested, "Chromium made no request at all"
    other_hosts = sorted(
        {
            url
            for url in requested
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).hostname != LOCAL_HOST
        }
    )
    assert other_hosts == [], "requests to another host while the app loads"
    assert "Font Awesome 5 Free" in icon["family"], icon
    assert icon["faces"] >= 1, f"Font Awesome's font did not load from the server: {icon}"
