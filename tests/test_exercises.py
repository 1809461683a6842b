"""Workshop exercises: verdicts follow independent measurements, hints are graded, bad answers
get a message (never a traceback), and every notebook exercise has a solution that is checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lab import artifact, data, evaluate, exercises, zoo
from lab.techniques import PruneConfig, QuantConfig, Recipe, ResolutionConfig, apply
from lab.techniques.pruning import prunable_layers, prune

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WORKSHOP = (
    "00_start_here",
    "01_pruning",
    "02_quantization",
    "03_resolution",
    "05_most_efficient_model",
    "06_automation",
    "07_carbon",
    "08_learning_techniques",
    "09_efficient_architectures",
    "10_deployment",
    "11_your_task",
)
CHECK_CALL = re.compile(r"exercises\.check\(\s*[\"']([\w-]+)[\"']")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    import lab.store

    return lab.store.ResultStore(tmp_path_factory.mktemp("exercises") / "results.sqlite")


@pytest.fixture
def store(shared_store, monkeypatch):
    """One store for this module (after conftest's per-test one): the zoo is measured once."""
    import lab.store

    monkeypatch.setattr(lab.store, "_DEFAULT", shared_store)
    return shared_store


def _live_accuracy(model: torch.nn.Module) -> float:
    """Accuracy on the live split by a plain forward pass (no lab measuring code)."""
    live = data.load_split("live")
    with torch.no_grad():
        predicted = torch.cat([model(x).argmax(1) for x in live.images.split(500)])
    return (predicted == live.labels).float().mean().item()


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


# ------------------------------------------------------------------------------ registry


def test_every_exercise_has_a_task_a_goal_and_two_or_three_distinct_hints():
    assert len(exercises.EXERCISES) >= 8
    for key, exercise in exercises.EXERCISES.items():
        assert key == exercise.id
        assert exercise.notebook in WORKSHOP
        assert exercise.task and exercise.goal and exercise.answer_form and exercise.title
        assert 2 <= len(exercise.hints) <= 3
        assert len(set(exercise.hints)) == len(exercise.hints)
    for notebook in WORKSHOP:  # the 2-hour workshop's 00–03 have 2–3, the later ones 1–3
        low = 2 if notebook < "04" else 1
        assert low <= len([e for e in exercises.for_notebook(notebook) if not e.take_home]) <= 3


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(ValueError, match="smallest-file"):
        exercises.check("no-such-exercise", "cnn")


@pytest.mark.parametrize("unanswered", [None, ...])
@pytest.mark.parametrize("exercise_id", sorted(exercises.EXERCISES))
def test_unanswered_gets_the_first_hint_without_measuring(exercise_id, unanswered, monkeypatch):
    import lab.measure

    def no_measuring(*args, **kwargs):
        raise AssertionError("an unanswered exercise must not measure anything")

    monkeypatch.setattr(lab.measure, "evaluate", no_measuring)
    result = exercises.check(exercise_id, unanswered)
    assert not result and result.hint_level == 0
    assert str(result) == f"not yet — hint: {exercises.get(exercise_id).hints[0]}"


# answers of the right kind (a list of names, a number) among the "bad" ones below
RIGHT_KIND = {"frontier-members": list, "break-even-mlp": float}


@pytest.mark.parametrize("bad", [["cnn"], object(), 3.5, {"a": 1}, b"cnn", "not-a-thing"])
@pytest.mark.parametrize("exercise_id", sorted(exercises.EXERCISES))
def test_a_wrong_kind_of_answer_gets_a_message_not_a_traceback(exercise_id, bad, store):
    result = exercises.check(exercise_id, bad)
    assert not result.done
    text = str(result)
    assert text.startswith("not yet — ") and "\nhint: " in text
    if isinstance(bad, RIGHT_KIND.get(exercise_id, ())):
        return  # a wrong answer of the right kind: measured, then a graded hint
    assert "you gave" in text or "not a" in text or "unknown" in text, text


def test_a_recipe_the_lab_cannot_apply_gets_the_labs_reason(store):
    result = exercises.check("pruning-32kb", PruneConfig(0.5, per_layer={"nope": 0.5}))
    assert not result and "could not apply your recipe" in str(result) and "nope" in str(result)


def test_the_result_displays_as_escaped_html_and_as_text():
    result = exercises.Result("x", False, "not yet — <b>a</b> & b\nhint: c", 0)
    shown = result._repr_html_()
    assert "&lt;b&gt;a&lt;/b&gt; &amp; b<br>hint: c" in shown and "<b>a</b>" not in shown
    assert repr(result) == "[x] not yet — <b>a</b> & b\nhint: c"
    done = exercises.Result("x", True, "✓ done: 1 KB")
    assert done and "#2e8b57" in done._repr_html_()
    exercise = exercises.show("int8-slower")
    assert "int8-slower" in exercise._repr_html_() and exercise.goal in str(exercise)


# ------------------------------------------------------------- verdicts follow measurements


def test_smallest_file_follows_the_files_on_disk(store, tmp_path):
    on_disk = {
        name: artifact.save(zoo.load(name), tmp_path / f"{name}.lab") for name in zoo.names()
    }
    assert on_disk == {name: (tmp_path / f"{name}.lab").stat().st_size for name in on_disk}
    order = sorted(on_disk, key=on_disk.get)
    done = exercises.check("smallest-file", order[0])
    assert done and f"{on_disk[order[0]] / 1000:,.1f} KB" in str(done)
    levels = [exercises.check("smallest-file", name).hint_level for name in order[1:]]
    assert levels == [2, 1, 0][: len(levels)]  # the closer the answer, the later the hint
    assert all(order[0] not in str(exercises.check("smallest-file", n)) for n in order[1:])


def test_least_compute_is_the_fewest_macs_above_the_bar(store):
    found = {name: evaluate(zoo.load(name), name=name, effort="quick") for name in zoo.names()}
    above = [n for n in found if found[n].accuracy >= exercises.LEAST_COMPUTE_ACCURACY]
    best = min(above, key=lambda n: found[n].macs)
    assert exercises.check("least-compute", best)
    for name in set(found) - {best}:
        result = exercises.check("least-compute", name)
        assert not result and f"{found[name].macs / 1e6:.2f} M MACs" in str(result)


def test_clean_grid_compares_carbon_intensities(store):
    from lab import energy

    usa = energy.carbon_intensity("USA")
    if usa != usa:  # NaN: codecarbon disabled here
        pytest.skip("codecarbon's carbon intensities are unavailable")
    known = {code: energy.carbon_intensity(code) for code in energy.countries()}
    cleanest = min((code for code in known if known[code] == known[code]), key=known.get)
    assert energy.carbon_intensity(cleanest) <= 0.1 * usa
    assert exercises.check("clean-grid", cleanest.lower())
    dirty = exercises.check("clean-grid", "USA")
    assert not dirty and dirty.measured["ratio"] == pytest.approx(1.0)


def test_most_sensitive_layer_follows_pruning_each_layer_alone(store):
    model = zoo.load("cnn")
    alone = {
        name: _live_accuracy(prune(model, PruneConfig(0.0, per_layer={name: 0.9})).eval())
        for name in prunable_layers(model)
    }
    order = sorted(alone, key=alone.get)
    assert alone[order[0]] < alone[order[1]] - 0.02  # a clear winner, not a tie
    result = exercises.check("most-sensitive-layer", order[0])
    assert result and result.measured[order[0]] == pytest.approx(alone[order[0]], abs=0.002)
    graded = [exercises.check("most-sensitive-layer", name) for name in order[1:]]
    assert not any(graded)
    assert [r.hint_level for r in graded] == [2, 1, 0][: len(graded)]


@pytest.mark.parametrize(
    "recipe",
    [
        Recipe(prune=PruneConfig(0.6), quant=QuantConfig(bits=4)),
        Recipe(prune=PruneConfig(0.5)),
        Recipe(prune=PruneConfig(0.85), quant=QuantConfig(bits=3)),
    ],
    ids=["60%+4bit", "50%", "85%+3bit"],
)
def test_pruning_verdict_follows_bytes_on_disk_and_live_accuracy(recipe, store, tmp_path):
    compressed = apply(zoo.load("cnn"), recipe, progress=False)
    size = artifact.save(compressed.model, tmp_path / "m.lab")
    accuracy = _live_accuracy(compressed.runtime)
    result = exercises.check("pruning-32kb", recipe)
    assert result.measured["artifact_bytes"] == size
    assert result.measured["accuracy"] == pytest.approx(accuracy, abs=0.002)
    assert result.done == (size < 32_000 and accuracy >= 0.905)
    if not result.done:
        assert f"{size / 1000:,.1f} KB" in str(result)


def test_fewest_bits_grades_by_distance_from_the_measured_best(store):
    model = zoo.load("cnn")
    fp32 = _live_accuracy(model.eval())

    def accuracy(bits):
        return _live_accuracy(apply(model, QuantConfig(bits=bits), progress=False).runtime)

    best = next(bits for bits in range(1, 9) if accuracy(bits) >= fp32 - 0.01)
    assert exercises.check("fewest-bits", best)
    assert exercises.check("fewest-bits", float(best))  # 4.0 is a whole number too
    for bits in {best - 1, best + 1, best + 2, 8} & set(range(1, 9)):
        if bits != best:
            result = exercises.check("fewest-bits", bits)
            assert not result
            assert result.hint_level == {1: 2, 2: 1}.get(abs(bits - best), 0)


def test_int8_is_slower_where_a_call_has_almost_no_arithmetic(store):
    threads = torch.get_num_threads()
    faster = exercises.check("int8-slower", {"model": "mlp", "batch": 256, "why": "a b c"})
    assert not faster and "faster" in str(faster)
    assert faster.measured["int8_ms"] < faster.measured["fp32_ms"]
    unexplained = exercises.check("int8-slower", {"model": "mlp", "batch": 1})
    assert not unexplained and "now explain why" in str(unexplained)
    explained = exercises.check(
        "int8-slower", {"model": "mlp", "batch": 1, "why": "fixed costs per call dominate"}
    )
    assert explained and explained.measured["int8_ms"] > 1.05 * explained.measured["fp32_ms"]
    assert torch.get_num_threads() == threads  # the timing's single thread was given back


def test_lowest_resolution_is_where_accuracy_crosses_the_goal(store):
    model = zoo.load("cnn")
    goal = exercises.LOWEST_RESOLUTION_ACCURACY

    def accuracy(size):  # the runtime takes 28 px images and downsamples them itself
        return _live_accuracy(apply(model, ResolutionConfig(size), progress=False).runtime)

    size = 28
    while size > 4 and accuracy(size - 1) >= goal:
        size -= 1
    assert accuracy(size) >= goal
    assert exercises.check("lowest-resolution", size)
    if size > 4:
        too_low = exercises.check("lowest-resolution", size - 1)
        assert not too_low and "only" in str(too_low)
    if size < 28:
        assert not exercises.check("lowest-resolution", size + 1)


def test_resolution_bytes_is_the_measured_difference(store):
    model = zoo.load("cnn")
    saved = (
        evaluate(model, effort="quick").artifact_bytes
        - evaluate(model, ResolutionConfig(14), effort="quick").artifact_bytes
    )
    assert exercises.check("resolution-bytes", saved)
    near, far = (exercises.check("resolution-bytes", saved + d) for d in (1_000, 10**7))
    assert not near and not far
    assert (near.hint_level, far.hint_level) == (2, 0)


# ------------------------------------------------------------- 05–10: the newer notebooks

WRONG_KINDS = {
    "thin-on-par": 42,
    "frontier-members": "cnn",
    "break-even-mlp": "many",
    "labels-for-80": 3,
    "faster-at-batch-1": "mlp",
    "fastest-runtime": "tensorrt",
    "dummy-balanced": "half",
    "cheapest-on-rmse": 3,
}


@pytest.mark.parametrize(("exercise_id", "answer"), WRONG_KINDS.items())
def test_newer_exercises_answer_a_wrong_kind_with_what_is_expected(exercise_id, answer, store):
    result = exercises.check(exercise_id, answer)
    assert not result.done and result.hint_level == 0
    assert result.message.startswith("not yet — ") and "hint:" in result.message


def test_frontier_members_follows_an_independent_dominance_check(store):
    names = zoo.names()
    found = {n: evaluate(zoo.load(n), name=n, effort="quick") for n in names}

    def dominated(n):
        return any(
            found[o].artifact_bytes <= found[n].artifact_bytes
            and found[o].accuracy >= found[n].accuracy
            and (found[o].artifact_bytes, found[o].accuracy)
            != (found[n].artifact_bytes, found[n].accuracy)
            for o in names
        )

    front = [n for n in names if not dominated(n)]
    assert exercises.check("frontier-members", front)
    assert exercises.check("frontier-members", tuple(reversed(front)))
    others = [n for n in names if n not in front]
    if others:
        wrong = exercises.check("frontier-members", [*front, others[0]])
        assert not wrong and "dominated" in wrong.message
    fewer = exercises.check("frontier-members", front[1:])
    assert not fewer and "missing" in fewer.message


def test_dummy_balanced_is_scikit_learns_balanced_accuracy_of_the_majority_guess(store):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    test = exercises._imbalanced().split("test").labels.numpy()
    majority = np.full_like(test, np.bincount(test).argmax())  # DummyClassifier(prior)
    balanced = balanced_accuracy_score(test, majority)
    assert exercises.check("dummy-balanced", balanced)
    as_accuracy = exercises.check("dummy-balanced", accuracy_score(test, majority))
    assert not as_accuracy and as_accuracy.hint_level == 1 and "its accuracy" in str(as_accuracy)
    percent = exercises.check("dummy-balanced", 100 * balanced)
    assert not percent and "a percentage?" in str(percent)


def _paired_rmse_p(y, a, b) -> float:
    """Two-sided p of RMSE(b) − RMSE(a) under swapping each item's two predictions (SciPy)."""
    from scipy.stats import permutation_test

    def statistic(ea, eb):
        return np.sqrt(np.mean(eb)) - np.sqrt(np.mean(ea))

    found = permutation_test(((a - y) ** 2, (b - y) ** 2), statistic, permutation_type="samples",
                             n_resamples=4_999, random_state=0)  # fmt: skip
    return found.pvalue


def test_cheapest_on_rmse_follows_an_independent_paired_test(store):
    from lab import thin

    diabetes = exercises._diabetes()
    x, y = diabetes.split("test").images.numpy(), diabetes.split("test").labels.numpy()
    names = [*exercises.ON_PAR_REGRESSORS, "DummyRegressor"]
    pred = {n: thin.fit_thin(n, data=diabetes, progress=False).estimator.predict(x) for n in names}
    rmse = {n: float(np.sqrt(np.mean((pred[n] - y) ** 2))) for n in names}
    best = min(exercises.ON_PAR_REGRESSORS, key=rmse.get)
    done = exercises.check("cheapest-on-rmse", best)  # measures the files' bytes
    sizes = {n: f["artifact_bytes"] for n, f in done.measured.items()}
    assert {n: f["rmse"] for n, f in done.measured.items()} == pytest.approx(rmse)
    on_par = [  # within 1 % of the best, or not significantly worse (α = 0.05)
        n for n in exercises.ON_PAR_REGRESSORS
        if rmse[n] <= 1.01 * rmse[best] or _paired_rmse_p(y, pred[best], pred[n]) >= 0.05
    ]  # fmt: skip
    beats = [n for n in on_par if _paired_rmse_p(y, pred["DummyRegressor"], pred[n]) < 0.05]
    want = min(beats, key=sizes.get)
    result = exercises.check("cheapest-on-rmse", want)
    assert result, result
    for other in exercises.ON_PAR_REGRESSORS:
        if other != want:
            wrong = exercises.check("cheapest-on-rmse", other)
            assert not wrong and wrong.hint_level == (2 if other in on_par else 1)


def test_labels_for_80_measures_a_learning_curve(store):
    too_few = exercises.check("labels-for-80", 20)
    assert not too_few and too_few.hint_level == 1
    assert set(too_few.measured) == {10, 20} and max(too_few.measured.values()) < 0.8


# ------------------------------------------------------------------------------ notebooks


@pytest.mark.parametrize("notebook", WORKSHOP)
def test_each_notebook_ends_with_its_exercises_left_open(notebook):
    cells = _code_cells(NOTEBOOKS / f"{notebook}.ipynb")
    wanted = [e.id for e in exercises.for_notebook(notebook) if not e.take_home]
    checked = [m for cell in cells for m in CHECK_CALL.findall(cell)]
    assert checked == wanted
    for cell in cells:
        if CHECK_CALL.search(cell):
            assert re.search(r"^answer = None\s+# your ", cell, re.M), cell


@pytest.mark.parametrize("notebook", WORKSHOP)
def test_each_notebook_has_a_solution_notebook_that_answers_every_exercise(notebook):
    cells = _code_cells(NOTEBOOKS / "solutions" / f"{notebook}_solutions.ipynb")
    wanted = [e.id for e in exercises.for_notebook(notebook) if not e.take_home]
    checked = [m for cell in cells for m in CHECK_CALL.findall(cell)]
    assert checked == wanted
    source = "\n".join(cells)
    assert "answer = None" not in source
    assert source.count("assert result.done") == len(wanted)  # nbval fails unless all are done
