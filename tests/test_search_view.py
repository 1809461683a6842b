"""Headless tests of widgets.SearchView on a tiny real search (quick mode, a throw-away cache).

One 3-trial study is searched once for the module; two tests add trials to it (resuming it,
as a second kernel would) to check that the view follows.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

import lab.store
from lab.search import SearchResult, SearchSpace, search
from lab.techniques.configs import QuantConfig, Recipe
from widgets import SearchView
from widgets.units import format_bytes

TINY = SearchSpace.tiny()
STUDY = "view"


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """(result, storage URL): a finished 3-trial study, and the environment it was made in."""
    root = tmp_path_factory.mktemp("search-view")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_QUICK", "1")
        mp.setenv("LAB_CACHE_DIR", str(root / "cache"))
        mp.setattr(lab.store, "_DEFAULT", lab.store.ResultStore(root / "results.sqlite"))
        url = f"sqlite:///{root / 's.sqlite'}"
        result = search(TINY, n_trials=3, study=STUDY, storage=url, progress=False)
        yield result, url


@pytest.fixture
def make_view():
    made: list[SearchView] = []

    def make(*args, **kwargs) -> SearchView:
        view = SearchView(*args, **kwargs)
        made.append(view)
        return view

    yield make
    for view in made:
        assert view.stop()
        view.close()


def _more_trials(result: SearchResult, url: str, extra: int) -> int:
    """Resume the study until it holds ``extra`` more finished trials; the new total."""
    target = len(result.trials_frame()) + extra
    search(TINY, n_trials=target, study=STUDY, storage=url, progress=False)
    return target


def _points(result: SearchResult) -> list[tuple]:
    frame = result.trials_frame()
    done = frame[frame["state"] == "COMPLETE"]
    return sorted(
        (int(n), float(b), pytest.approx(100 * a))
        for n, b, a in zip(done["number"], done["artifact_bytes"], done["accuracy"], strict=True)
    )


def _drawn(view: SearchView) -> list[tuple]:
    data = view.data
    return sorted(zip(data["numbers"], data["x"].tolist(), data["y"].tolist(), strict=True))


def _drawn_front(view: SearchView) -> list[tuple]:
    data = view.data
    return list(zip(data["front_numbers"], data["front"].tolist(), strict=True))


def _front(result: SearchResult) -> list[tuple]:
    front = result.frontier()
    return [
        (int(n), [float(b), pytest.approx(100 * a)])
        for n, b, a in zip(front["number"], front["artifact_bytes"], front["accuracy"], strict=True)
    ]


def _counts(result: SearchResult) -> str:
    frame = result.trials_frame()
    finished = int((frame["state"] == "COMPLETE").sum())
    stopped = int((frame["state"] == "PRUNED").sum())
    return (
        f"{len(frame)} trials ({finished} finished, {stopped} stopped early) "
        f"· frontier {len(result.frontier())}"
    )


def test_the_plot_shows_the_finished_trials_and_the_frontier(searched, make_view):
    result, _ = searched
    view = make_view(result)
    assert view.error == ""
    assert _drawn(view) == _points(result)
    assert _drawn_front(view) == _front(result)
    assert _counts(result) in view.counts.value
    # the picker lists the frontier first (in the frontier's order), then the others
    values = [value for _, value in view.picker.options]
    front = result.frontier()["number"].tolist()
    assert values[: len(front)] == front
    assert sorted(values) == sorted(result.trials_frame()["number"].tolist())
    row = result.frontier().iloc[0]
    assert view.picker.options[0][0] == (
        f"★ #{front[0]} · {100 * row['accuracy']:.1f}% · {format_bytes(row['artifact_bytes'])}"
    )


def test_choosing_a_trial_shows_its_recipe_and_measurement(searched, make_view):
    result, _ = searched
    view = make_view(result)
    assert view.selected == result.frontier()["number"].iloc[0]  # the first frontier trial
    frame = result.trials_frame().set_index("number")
    for number in frame.index[frame["state"] == "COMPLETE"]:
        view.picker.value = int(number)  # as a user does
        assert view.selected == number
        recipe = result.recipe(int(number))
        assert f"Trial #{number}" in view.details.value
        assert recipe.describe() in view.details.value
        assert f"{100 * frame.loc[number, 'accuracy']:.1f}%" in view.details.value
        assert json.dumps(json.loads(recipe.to_json()), indent=1).replace('"', "&quot;") in (
            view.details.value
        )
        bytes_, accuracy = frame.loc[number, ["artifact_bytes", "accuracy"]]
        assert view.data["selected"] == (float(bytes_), pytest.approx(100 * accuracy))
        assert not view.test_button.disabled and not view.export_button.disabled


def test_clicking_a_point_chooses_its_trial(searched, make_view):
    from matplotlib.backend_bases import MouseEvent

    result, _ = searched
    view = make_view(result)
    canvas = view.view.figure.canvas
    canvas.draw()
    for number, x, y in zip(view.data["numbers"], view.data["x"], view.data["y"], strict=True):
        view.select(None)
        px, py = view.ax.transData.transform((x, y))
        canvas.callbacks.process(
            "button_press_event", MouseEvent("button_press_event", canvas, px, py, button=1)
        )
        chosen = view.data["selected"]  # a trial at the same place (duplicates may share one)
        assert view.selected is not None and chosen == (x, pytest.approx(y)), number


def test_test_accuracy_is_measured_once_per_trial_and_shown(searched, make_view):
    result, _ = searched
    calls: list[int] = []
    counting = dataclasses.replace(result)

    def test_accuracy(number: int) -> float:
        calls.append(number)
        return result.test_accuracy(number)

    counting.test_accuracy = test_accuracy
    view = make_view(counting)
    number = view.selected
    view.test_button.click()
    assert view.wait(120)
    assert calls == [number]
    accuracy = view.test_accuracies[number]
    assert 0.0 <= accuracy <= 1.0
    assert f"{100 * accuracy:.1f}%" in view.test_label.value
    assert view.test_button.disabled  # measured: the button is done for this trial
    assert view.measure_test() == accuracy  # asked again (code, or a second click): not re-run
    view.test_button.click()
    assert view.wait(120)
    assert calls == [number]


def test_export_writes_artifact_recipe_and_card_and_says_where(searched, make_view, tmp_path):
    result, _ = searched
    view = make_view(result)
    number = view.selected
    view.folder.value = str(tmp_path / "chosen")
    view.export_button.click()
    assert view.wait(60)
    folder = tmp_path / "chosen"
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.lab",
        "model_card.json",
        "recipe.json",
    ]
    assert str(folder.resolve()) in view.message and view.error == ""
    assert Recipe.from_json((folder / "recipe.json").read_text()) == result.recipe(number)
    card = json.loads((folder / "model_card.json").read_text())
    assert card["artifact_bytes"] == (folder / "model.lab").stat().st_size


def test_problems_are_messages_never_exceptions(searched, make_view, tmp_path):
    result, url = searched
    missing = make_view("not-there", storage=url)
    assert "waiting for its first trial" in missing.message
    assert missing.n_trials == 0 and missing.selected is None
    assert missing.export() is None and "Choose a trial" in missing.error
    view = make_view(result)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert view.export(blocker / "sub") is None
    assert view.error.startswith(f"Could not export trial #{view.selected}")
    view.watch(interval=-1)
    assert "interval" in view.error and not view.watching
    wrong = make_view(STUDY, storage=url, objectives=("val_accuracy", "artifact_bytes", "macs"))
    assert "objectives of study 'view' are val_accuracy, artifact_bytes" in wrong.error
    with pytest.raises(TypeError, match="result_or_study must be a lab.search.SearchResult"):
        SearchView(42)


def test_refresh_shows_trials_added_after_the_view_was_made(searched, make_view):
    result, url = searched
    view = make_view(result)
    before = view.n_trials
    total = _more_trials(result, url, 2)
    assert view.n_trials == before  # nothing re-read yet
    assert view.refresh()
    assert view.n_trials == total
    assert _drawn(view) == _points(result)
    assert _drawn_front(view) == _front(result)
    assert _counts(result) in view.counts.value


def _add_finished_trial(url: str, study: str, number: int) -> None:
    """A finished trial as a search worker records it (objectives, recipe, measurement)."""
    import optuna

    recipe = Recipe(quant=QuantConfig(bits=8 - number))
    measurement = {"accuracy": 0.5 + 0.1 * number, "artifact_bytes": 1000 * (number + 1)}
    trial = optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE,
        values=[measurement["accuracy"], measurement["artifact_bytes"]],
        user_attrs={
            "architecture": {"widths": [4]},
            "recipe": recipe.to_json(),
            "measurement": measurement,
            "constraint": [],
        },
    )
    optuna.load_study(study_name=study, storage=url).add_trial(trial)


def test_watch_follows_a_study_as_it_grows_and_stop_ends_the_thread(searched, make_view):
    import optuna

    _, url = searched
    view = make_view("watched", storage=url)  # watching starts before the study exists
    assert "waiting" in view.message
    seen: list[int] = []
    view.observe(lambda change: seen.append(change["new"]), names="n_finished")
    view.watch(interval=0.1)
    assert view.watching

    def worker() -> None:  # another process would do the same through the storage
        optuna.create_study(study_name="watched", storage=url, directions=["maximize", "minimize"])
        for number in range(3):
            time.sleep(0.4)
            _add_finished_trial(url, "watched", number)

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 30
    while view.n_finished < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    thread.join()
    assert view.n_finished == 3 and seen[-1] == 3 and len(seen) >= 2  # arrived one by one
    assert view.message == ""  # "waiting" is gone once the study is there
    assert _drawn(view) == [(n, 1000.0 * (n + 1), pytest.approx(50.0 + 10 * n)) for n in range(3)]
    assert view.data["front_numbers"] == [0, 1, 2]
    assert view.polls > 0
    assert view.stop()
    assert not view.watching
    assert not [t for t in threading.enumerate() if t.name == "lab-search-watch"]
    polls = view.polls
    time.sleep(0.5)
    assert view.polls == polls  # stopped: no more reads


def test_a_view_made_from_the_study_name_finds_the_trials_models(searched, make_view, monkeypatch):
    result, url = searched
    monkeypatch.setenv("LAB_CACHE_DIR", str(Path(result.models_dir).parent.parent))
    view = make_view(result.study_name, storage=url)
    assert view.result.models_dir == result.models_dir
    number = int(result.frontier()["number"].iloc[0])
    view.select(number)
    assert view.measure_test() == result.test_accuracy(number)
