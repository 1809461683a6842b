"""lab.search: determinism, constraints, resume, bad spaces, several workers on one study.

Trials are tiny (SearchSpace.tiny(), LAB_QUICK: a fraction of an epoch) so the file stays
fast; the PostgreSQL test starts a throw-away cluster on 127.0.0.1 (Debian's postgresql,
installed by ``make test``) and skips with the reason where it is not installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lab import store
from lab.search import OBJECTIVES, SearchResult, SearchSpace, search
from lab.techniques.configs import ConfigError, Recipe

TINY = SearchSpace.tiny()


@pytest.fixture(autouse=True)
def _quick(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_QUICK", "1")
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))


def _sqlite(tmp_path, name="study.sqlite") -> str:
    return f"sqlite:///{tmp_path / name}"


def _front(result: SearchResult) -> list[tuple]:
    frame = result.frontier()
    return sorted(zip(frame["val_accuracy"], frame["artifact_bytes"], strict=True))


def test_a_seeded_search_is_deterministic(tmp_path):
    a = search(TINY, n_trials=3, study="a", storage=_sqlite(tmp_path, "a.sqlite"), progress=False)
    b = search(TINY, n_trials=3, study="b", storage=_sqlite(tmp_path, "b.sqlite"), progress=False)
    fa, fb = a.trials_frame(), b.trials_frame()
    columns = ["state", "val_accuracy", "artifact_bytes", "recipe", "architecture"]
    assert fa[columns].equals(fb[columns])


def test_every_trial_lands_in_the_result_store_with_its_recipe(tmp_path):
    result = search(TINY, n_trials=2, study="st", storage=_sqlite(tmp_path), progress=False)
    rows = store.default_store().to_frame()
    searched = rows[rows["name"].str.startswith("search/st/")]
    done = result.trials_frame().query("state == 'COMPLETE'")
    assert len(searched) == len(done)
    assert set(searched["recipe"]) == {Recipe.from_json(r).to_json() for r in done["recipe"]}


def _unpruned(tmp_path, study: str, n_trials: int, **kwargs) -> SearchResult:
    """A tiny search whose every trial runs to the end."""
    return search(TINY, n_trials=n_trials, study=study, storage=_sqlite(tmp_path),
                  prune_trials=False, progress=False, **kwargs)  # fmt: skip


def test_constraints_keep_violating_trials_off_the_frontier(tmp_path):
    result = _unpruned(tmp_path, "c", 4, constraints={"artifact_bytes": 700})
    frame = result.trials_frame()
    assert ((frame["artifact_bytes"] <= 700) == frame["feasible"]).all()
    front = result.frontier()
    assert (front["artifact_bytes"] <= 700).all()


def test_a_quality_objective_and_constraint_other_than_accuracy(tmp_path):
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from lab.evaluation.quality import unpack

    result = _unpruned(
        tmp_path,
        "q",
        2,
        objectives=("val_macro_f1", "artifact_bytes"),
        constraints=["balanced_accuracy >= 0.3", "artifact_bytes <= 1e9"],
    )
    frame = result.trials_frame().query("state == 'COMPLETE'").set_index("number")
    rows = store.default_store().to_frame()
    for number, trial in frame.iterrows():
        row = rows[rows["name"] == f"search/q/{number}"].iloc[-1]
        y, p = unpack(row["targets"]), unpack(row["predictions"])  # the val items
        assert trial["val_macro_f1"] == f1_score(y, p, average="macro", zero_division=0.0)
        balanced = balanced_accuracy_score(y, p)
        assert trial["val_balanced_accuracy"] == balanced
        assert trial["feasible"] == (balanced >= 0.3)
    number = int(frame.index[0])
    card = json.loads((result.export(number, tmp_path / "out") / "model_card.json").read_text())
    judged = card["quality_val"]
    assert judged["split"] == "val" and judged["task"] == "multiclass"
    assert judged["metrics"]["macro_f1"]["value"] == frame.loc[number, "val_macro_f1"]
    assert judged["metrics"]["macro_f1"]["low"] <= judged["metrics"]["macro_f1"]["value"]
    assert card["constraints"] == ["balanced_accuracy >= 0.3", "artifact_bytes <= 1e+09"]
    with pytest.raises(ConfigError, match="objectives val_mae does not apply"):
        search(TINY, n_trials=1, storage=_sqlite(tmp_path), objectives=("val_mae", "macs"))
    with pytest.raises(ConfigError, match="metric must be one of accuracy, balanced_accuracy"):
        search(TINY, n_trials=1, storage=_sqlite(tmp_path), constraints="mae <= 50")


def test_a_search_resumes_where_it_stopped(tmp_path):
    url = _sqlite(tmp_path)
    first = search(TINY, n_trials=2, study="r", storage=url, progress=False).trials_frame()
    assert len(first) == 2
    again = search(TINY, n_trials=4, study="r", storage=url, progress=False)  # a new kernel
    frame = again.trials_frame()
    assert list(frame["number"]) == [0, 1, 2, 3]
    assert frame.iloc[:2]["recipe"].tolist() == first["recipe"].tolist()
    earlier = {(r, a) for r, a in zip(first["recipe"], first["architecture"], strict=True)}
    later = set(zip(frame["recipe"].iloc[2:], frame["architecture"].iloc[2:], strict=True))
    assert not later & earlier  # resuming does not replay the first trials


def test_an_empty_study_has_an_empty_frontier(tmp_path):
    result = SearchResult("none", _sqlite(tmp_path), ("val_accuracy", "artifact_bytes"), "")
    import optuna

    optuna.create_study(
        study_name="none", storage=result.storage, directions=["maximize", "minimize"]
    )
    assert result.frontier().empty


def test_frontier_model_reloads_measures_on_test_and_exports(tmp_path):
    result = search(TINY, n_trials=2, study="e", storage=_sqlite(tmp_path), progress=False)
    number = int(result.frontier()["number"].iloc[0])
    accuracy = result.test_accuracy(number)
    assert 0.0 <= accuracy <= 1.0
    folder = result.export(number, tmp_path / "export")
    size = (folder / "model.lab").stat().st_size
    import json

    card = json.loads((folder / "model_card.json").read_text())
    assert card["artifact_bytes"] == size
    measured = result.trials_frame().set_index("number").loc[number, "artifact_bytes"]
    assert size == measured  # the exported file is the one whose bytes were optimised
    assert Recipe.from_json((folder / "recipe.json").read_text()) == result.recipe(number)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"space": SearchSpace.tiny}, "SearchSpace"),
        ({"objectives": ("val_accuracy", "speed")}, "objectives must be"),
        ({"objectives": ("val_accuracy",)}, "two or more"),
        ({"constraints": {"val_accuracy": 0.9}}, "constraints bound costs"),
        ({"constraints": {"artifact_bytes": -1}}, "positive number"),
        ({"n_trials": None, "timeout": None}, "bounded"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_workers": 0}, "n_workers"),
        ({"sampler": "grid"}, "sampler"),
    ],
)
def test_bad_search_arguments_are_rejected_clearly(kwargs, words, tmp_path):
    with pytest.raises(ConfigError, match=words):
        search(**{"n_trials": 1, "storage": _sqlite(tmp_path), "progress": False, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"bits": (0, 4)}, "bits must satisfy 1"),
        ({"bits": (6, 4)}, "empty range"),
        ({"widths": ()}, "non-empty"),
        ({"widths": (8, "16")}, "positive integers"),
        ({"kernels": (2,)}, "odd"),
        ({"sparsity": (0.5, 1.0)}, "sparsity must be a .low, high. pair within \\[0, 1\\)"),
        ({"teachers": ("nobody",)}, "teachers must be chosen"),
        ({"epochs": (1, float("nan"))}, "finite"),
        ({"methods": "kmeans"}, "non-empty list"),
    ],
)
def test_bad_search_spaces_are_rejected_clearly(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        SearchSpace(**kwargs)


def test_objectives_are_the_documented_measurement_fields():
    from lab.evaluation.quality import RANKABLE
    from lab.measure import Measurement

    # a Measurement field, or a quality metric its per-item results give (quality.estimate_of)
    names = set(Measurement.__dataclass_fields__) | set(RANKABLE)
    assert all(field in names for _, field in OBJECTIVES.values())
    assert {f"val_{m}" for m in RANKABLE} <= set(OBJECTIVES)


def _replay_front(result: SearchResult, tmp_path) -> list[tuple]:
    """Re-run every finished trial's parameters in one process, in a fresh study."""
    import optuna

    from lab import search as search_module

    trials = result.study().get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    url = _sqlite(tmp_path, "replay.sqlite")
    replay = optuna.create_study(
        study_name="replay", storage=url, directions=["maximize", "minimize"]
    )
    settings = search_module._Settings(
        study="replay",
        storage=url,
        objectives=result.objectives,
        constraints={},
        space=TINY,
        quick=True,
        seed=0,
        fidelity=0.34,
        prune_trials=False,
        min_trials_before_stopping=4,
        threads=1,
        models_dir=str(tmp_path / "replay-models"),
    )
    for t in trials:
        replay.enqueue_trial(t.params)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each worker: the same arithmetic, the same numbers
    try:
        replay.optimize(lambda t: search_module._objective(t, settings), n_trials=len(trials))
    finally:
        torch.set_num_threads(before)
    front = replay.best_trials
    return sorted((t.values[0], t.values[1]) for t in front)


def _two_workers_on(url: str, tmp_path) -> None:
    n = 6
    result = search(
        TINY,
        n_trials=n,
        study="multi",
        storage=url,
        n_workers=2,
        prune_trials=False,
        progress=False,
    )
    frame = result.trials_frame()
    finished = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(finished) >= n  # none lost (a worker may start one more before it sees n)
    assert frame["number"].is_unique  # none duplicated
    assert len(frame) == len(set(frame["number"]))
    assert _front(result) == _replay_front(result, tmp_path)


@pytest.mark.slow
def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    _two_workers_on(_sqlite(tmp_path), tmp_path)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL cluster on 127.0.0.1 (as the postgres user when run as root)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("Debian's postgresql is not installed (make test installs it)")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="lab-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    datadir = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(datadir), "--auth=trust", "-U", "postgres")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(datadir),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "lab")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/lab"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_two_worker_processes_share_one_postgresql_study(postgres_url, tmp_path):
    _two_workers_on(postgres_url, tmp_path)


def test_the_cli_runs_a_worker_and_prints_the_frontier(tmp_path):
    import json
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "search",
            "--space",
            "tiny",
            "--trials",
            "1",
            "--study",
            "cli",
            "--storage",
            _sqlite(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LAB_QUICK": "1"},
    )
    assert done.returncode == 0, done.stderr
    front = json.loads(done.stdout.strip().splitlines()[-1])
    assert front and {"number", "val_accuracy", "artifact_bytes"} <= set(front[0])
    bad = subprocess.run(
        [sys.executable, "-m", "lab", "search", "--objectives", "speed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--objectives" in bad.stderr


def test_a_search_runs_on_other_data(tmp_path):
    """8×8 digits (data no one here wrote): nets sized by the data, measured on its splits."""
    from sklearn.datasets import load_digits

    from lab.datasets import as_data

    digits = as_data(load_digits(), name="digits")
    space = SearchSpace.for_data(digits)
    assert space.resolutions == (4, 6, 8) and space.teachers == (None,)
    small = SearchSpace(
        widths=(4, 8), depth=(1, 2), head_grids=(1,), resolutions=(6, 8), epochs=(0.5, 1.0),
        teachers=(None,), finetune_epochs=(0.0, 0.0),
    )  # fmt: skip
    result = search(
        small, data=digits, n_trials=2, study="d", storage=_sqlite(tmp_path), progress=False
    )
    done = result.trials_frame().query("state == 'COMPLETE'")
    assert len(done) >= 1
    number = int(done["number"].iloc[0])
    model = result.model(number)
    assert model(digits.example(2)).shape == (2, 10)
    assert 0.0 <= result.test_accuracy(number) <= 1.0
    rows = store.default_store().to_frame()
    assert set(rows[rows["name"].str.startswith("search/d/")]["data"]) == {"digits"}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"space": SearchSpace(resolutions=(40,))}, "4 to 28 px"),
        ({"space": SearchSpace(resolutions=(10,)), "data": "digits"}, "2 to 8 px"),
        (
            {"space": SearchSpace(teachers=("teacher",), resolutions=(8,)), "data": "digits"},
            "teachers=\\(None,\\)",
        ),
        ({"data": "wine"}, "square images"),
    ],
)
def test_a_space_is_checked_against_the_data(tmp_path, kwargs, words):
    from sklearn.datasets import load_digits, load_wine

    named = {"digits": load_digits(), "wine": load_wine()}
    if "data" in kwargs:
        kwargs = {**kwargs, "data": named[kwargs["data"]]}
    with pytest.raises(ConfigError, match=words):
        search(n_trials=1, storage=_sqlite(tmp_path), progress=False, **kwargs)
