"""The README's examples work as written (issue 20): its deep link, its ranges, `make jupyter`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _readme_links() -> list[str]:
    return re.findall(r"`(\?model=[^`]+)`", README)


def test_the_readmes_deep_link_is_accepted_whole_and_applied():
    from test_widgets import FakeEvaluator

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
    _, problems = deeplink.parse_query("?resolution=1")  # the schema's range, any data
    assert problems and "from 2 to 4096" in problems[0]
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


def test_fit_defaults_follow_the_datas_size_and_under_training_is_called_so():
    import warnings

    import torch
    from sklearn.datasets import load_iris

    from lab import training
    from lab.datasets import as_data

    iris = as_data(load_iris(), name="iris")  # 105 training rows

    def mlp() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    model = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defaults train enough: no warning
        report = training.fit(model, data=iris, progress=False)
    assert report.steps >= training.MIN_STEPS and report.under_trained == ""
    test = iris.split("test")
    with torch.no_grad():
        right = (model(test.images).argmax(1) == test.labels).float().mean().item()
    assert right >= 0.9  # was 66.7 % after 15 steps
    assert training.default_config() == training.TrainConfig()  # Fashion-MNIST unchanged

    with pytest.warns(UserWarning, match="under-trained: only 15 optimizer steps"):
        few = training.fit(mlp(), training.TrainConfig(), data=iris, progress=False)
    assert few.steps == 15 and "only 15 optimizer steps" in few.under_trained
    capped = training.fit(mlp(), training.TrainConfig(max_batches=3), data=iris, progress=False)
    assert "only 3 optimizer steps" in capped.under_trained  # said, not warned: capped on purpose
