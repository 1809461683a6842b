"""The survey's workflows: both return a compressed model and leave their inputs untouched."""

from __future__ import annotations

import pytest
import torch

from lab import measure, zoo
from lab.architectures import SearchNet
from lab.techniques.configs import ConfigError, PruneConfig, QuantConfig, Recipe
from lab.workflows import grow_improve_shrink, shrink_and_improve


def test_shrink_and_improve_compresses_then_recovers(trained_cnn):
    before = measure.fingerprint(trained_cnn)
    recipe = Recipe(prune=PruneConfig(0.9), quant=QuantConfig(bits=4))
    out = shrink_and_improve(trained_cnn, recipe, epochs=0.02, seconds=20, progress=False)
    assert out.recipe.finetune.teacher == "original" and out.recipe.prune == recipe.prune
    assert measure.fingerprint(trained_cnn) == before
    untuned = measure.evaluate(trained_cnn, recipe, effort="quick").accuracy
    tuned = measure.evaluate(out, effort="quick").accuracy
    assert tuned > untuned  # 90% pruned without fine-tuning collapses; a few steps recover


def test_grow_improve_shrink_distils_a_small_student_then_compresses():
    torch.manual_seed(1)
    student = SearchNet((8, 16))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    out, report = grow_improve_shrink(
        student, QuantConfig(bits=4), epochs=0.1, seconds=30, progress=False
    )
    assert report.steps > 0
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in before.items())
    assert out.recipe == Recipe(quant=QuantConfig(bits=4))
    assert measure.evaluate(out, effort="quick").accuracy > 0.25  # well above chance (10%)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), "60"])
def test_bad_budgets_are_rejected(seconds, trained_cnn):
    with pytest.raises(ConfigError, match="seconds"):
        shrink_and_improve(trained_cnn, PruneConfig(0.5), seconds=seconds)
    with pytest.raises(ConfigError, match="seconds"):
        grow_improve_shrink(zoo.build("mlp"), seconds=seconds)
