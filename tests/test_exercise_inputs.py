"""lab.exercises: a notebook name with a typo lists the valid ones; an exercise's stated
rules ("without fine-tuning") are enforced by its check, before anything is measured."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab import exercises
from lab.techniques.configs import FinetuneConfig, PruneConfig, QuantConfig, Recipe

NOTEBOOKS = exercises.notebooks()


def test_every_exercise_notebook_is_listed_once_in_order():
    assert NOTEBOOKS == list(dict.fromkeys(e.notebook for e in exercises.EXERCISES.values()))
    for name in NOTEBOOKS:
        found = exercises.for_notebook(name)
        assert found == exercises.for_notebook(f"notebooks/{name}.ipynb")
        assert found and all(e.notebook == name for e in found)


@pytest.mark.parametrize("typo", ["01_prunning", "01_Pruning", "pruning", "", "01_pruning.py"])
def test_a_notebook_name_with_a_typo_lists_the_valid_ones(typo):
    with pytest.raises(ValueError, match="notebooks with exercises: " + ", ".join(NOTEBOOKS)):
        exercises.for_notebook(typo)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=20), st.sampled_from(NOTEBOOKS), st.integers(), st.none()))
def test_for_notebook_returns_that_notebooks_exercises_or_says_which_exist(name):
    try:
        found = exercises.for_notebook(name)
    except ValueError as exc:
        assert "notebook" in str(exc) and NOTEBOOKS[0] in str(exc)
        assert name not in NOTEBOOKS
        return
    assert found and all(e.notebook == found[0].notebook for e in found)
    assert found[0].notebook in NOTEBOOKS


@pytest.fixture
def nothing_measured(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a rule-breaking answer was measured")

    monkeypatch.setattr(exercises, "_measure", refuse)


FINETUNE = FinetuneConfig(epochs=0.1, max_seconds=5)


@settings(max_examples=30, deadline=None)
@given(
    sparsity=st.floats(0.05, 0.95),
    bits=st.integers(1, 8),
    teacher=st.sampled_from([None, "original"]),
)
def test_without_fine_tuning_is_enforced_not_just_stated(sparsity, bits, teacher):
    exercise = exercises.get("pruning-32kb")
    assert "without fine-tuning" in exercise.task
    recipe = Recipe(
        prune=PruneConfig(sparsity),
        quant=QuantConfig(bits=bits),
        finetune=FinetuneConfig(epochs=0.1, max_seconds=5, teacher=teacher),
    )
    original = exercises._measure
    exercises._measure = _refuse
    try:
        result = exercises.check("pruning-32kb", recipe)
    finally:
        exercises._measure = original
    assert not result.done and "without fine-tuning" in result.message
    assert result.measured == {}


def _refuse(*args, **kwargs):
    raise AssertionError("a rule-breaking answer was measured")


def test_the_take_home_exercise_still_allows_fine_tuning(nothing_measured):
    recipe = Recipe(prune=PruneConfig(0.9), quant=QuantConfig(bits=4), finetune=FINETUNE)
    with pytest.raises(AssertionError, match="was measured"):  # it goes on to measure
        exercises.check("pruning-20kb", recipe)
