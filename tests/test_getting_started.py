"""The README's examples work as written (issue 20): its deep link, its ranges, `make jupyter`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _readme_links() -> list[str]:
    return re.findall(r"`(\?model=[^`]+)`", README)


def test_the_readmes_deep_link_is_accepted_whole_and_applied():
    from tests.test_widgets import FakeEvaluator
    from widgets import Dashboard
    from widgets.deeplink import DeepLink, LinkConfig, parse_query

    links = _readme_links()
    assert links, "the README shows a deep link"
    for query in links:
        config, problems = parse_query(query)
        assert problems == []
        given = {k for k, v in vars(config).items() if v is not None}
        assert given == {k.split("=")[0] for k in query[1:].split("&")}
        dash = Dashboard(model="cnn", evaluator=FakeEvaluator(), thin_models=[])
        try:
            link = DeepLink(dash)
            assert link.apply_query(query) == []  # every parameter applied, none refused
            assert parse_query(link.query)[0] == LinkConfig(
                **{k: getattr(config, k) for k in given}
            )
            assert dash.wait(30) and dash.error == ""
        finally:
            dash.close()


def test_the_readmes_ranges_agree_with_the_deep_link_reference():
    from widgets import deeplink
    from widgets.sliders import SparsitySlider

    assert "resolution` 4–28 px" in README and "4–28 px for Fashion-MNIST" in README
    assert "an integer from 4 to 28" in deeplink.__doc__
    _, problems = deeplink.parse_query("?resolution=3")
    assert problems and "from 4 to 28" in problems[0]
    assert deeplink.parse_query("?resolution=4")[1] == []
    top = SparsitySlider().max_sparsity
    assert f"`sparsity` 0–{top:g}" in README


def test_make_jupyter_starts_as_root_too():
    out = subprocess.run(
        ["make", "-n", "jupyter"], cwd=ROOT, capture_output=True, text=True, timeout=120
    ).stdout
    command = [line for line in out.splitlines() if "jupyter lab" in line]
    assert command, out
    assert ("--allow-root" in command[-1]) is (os.getuid() == 0)
