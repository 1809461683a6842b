"""search() and ``python -m lab search`` refuse bad arguments with one clear sentence.

Storage URLs that are malformed, name a missing driver or folder, an in-memory database or
a server that does not answer end in a StorageError naming ``storage`` (password hidden),
never in SQLAlchemy's traceback; the command line prints it as one line with exit code 2.
Study names cannot be empty, and two different names never share a folder of trial files.
No trial runs here: the checks happen before the first one.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lab.search as search_module
from lab.search import SearchSpace, search, study_folder_name, trial_models_dir
from lab.search_inputs import (
    StorageError,
    check_bounded,
    check_seed,
    check_storage_url,
    check_study_name,
    storage_key,
)
from lab.techniques.configs import ConfigError

TINY = SearchSpace.tiny()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def no_trials(monkeypatch):
    """search() up to its first trial: the worker loop is replaced by a no-op."""
    monkeypatch.setattr(search_module, "_work", lambda *args, **kwargs: None)


def _sqlite(tmp_path, name="study.sqlite") -> str:
    return f"sqlite:///{tmp_path / name}"


# ------------------------------------------------------------------ storage URLs


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nonsense", "must be an SQLAlchemy URL"),
        ("", "must be an SQLAlchemy URL"),
        ("http://example/x", "no database kind 'http'"),
        ("mysql://user@host/db", "driver for 'mysql' is not installed"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("sqlite:////no/such/folder/x.db", "folder '/no/such/folder'"),
    ],
)
def test_storage_urls_that_cannot_work_are_refused_before_connecting(url, words):
    with pytest.raises(StorageError, match=words) as caught:
        check_storage_url(url)
    assert str(caught.value).startswith("storage")


def test_a_storage_that_is_not_a_database_or_not_reachable_names_the_url(tmp_path, no_trials):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    with pytest.raises(StorageError, match=r"storage .*notes.txt' cannot be opened: file is not"):
        search(TINY, n_trials=1, storage=f"sqlite:///{text}", progress=False)
    url = "postgresql+psycopg://me:s3cret@127.0.0.1:1/db"  # port 1: refused at once
    with pytest.raises(StorageError, match="cannot be opened") as caught:
        search(TINY, n_trials=1, storage=url, progress=False)
    assert "s3cret" not in str(caught.value) and "me:***@127.0.0.1:1" in str(caught.value)


def test_a_folder_given_as_storage_is_refused(tmp_path):
    with pytest.raises(StorageError, match="names a folder"):
        check_storage_url(f"sqlite:///{tmp_path}")


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, user, password, rest: f"{scheme}://{user}:{password}@{rest}",
            st.sampled_from(["sqlite", "postgresql", "mysql", "http", "nosuch+driver", ""]),
            st.text("abcxyz", min_size=1, max_size=6),
            st.text("pqrstuvw0123456789", min_size=4, max_size=12).map(lambda p: "PW" + p),
            st.text("abc/:.?=&", max_size=20),
        ),
        st.integers(),
        st.none(),
        st.binary(max_size=10),
    )
)
def test_any_storage_value_is_accepted_or_refused_naming_storage_without_its_password(value):
    try:
        accepted = check_storage_url(value)
    except StorageError as exc:
        message = str(exc)
        assert message.startswith("storage") and "\n" not in message
        if isinstance(value, str) and "@" in value and "PW" in value:
            password = value.split("://", 1)[-1].split(":", 1)[-1].split("@", 1)[0]
            assert password not in message
        return
    assert accepted == value


# ------------------------------------------------------------------ other arguments


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"timeout": "10"}, "timeout must be a number of seconds"),
        ({"timeout": float("inf")}, "timeout must be a finite"),
        ({"timeout": -1}, "timeout must be a finite"),
        ({"n_trials": 1.5}, "n_trials must be a positive integer"),
        ({"n_trials": "3"}, "n_trials must be a positive integer"),
        ({"study": ""}, "study must be a non-empty name"),
        ({"study": "   "}, "study must be a non-empty name"),
        ({"study": 7}, "study must be a name"),
        ({"study": "x" * 513}, "at most 512"),
        ({"seed": -1}, "seed must be an integer from 0"),
        ({"seed": 2.0}, "seed must be an integer from 0"),
        ({"fidelity": "half"}, "fidelity must be a fraction"),
        ({"objectives": "val_accuracy,macs"}, "objectives must be a list"),
        ({"constraints": [("artifact_bytes", 5)]}, "constraints must be a dict"),
        ({"constraints": {"artifact_bytes": float("inf")}}, "finite positive"),
        ({"n_workers": 10**6}, "n_workers must be an integer from 1 to"),
        ({"progress": "no"}, "progress must be True or False"),
        ({"quick": 1}, "quick must be True, False or None"),
        ({"sampler": ["tpe"]}, "sampler must be one of"),
    ],
)
def test_bad_search_arguments_name_the_argument(kwargs, words, tmp_path, no_trials):
    with pytest.raises(ConfigError, match=words) as caught:
        search(**{"space": TINY, "n_trials": 1, "storage": _sqlite(tmp_path), **kwargs})
    assert str(caught.value).split()[0].strip("'") in {*kwargs, "constraint"}


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(n_trials=ANYTHING, timeout=ANYTHING, seed=ANYTHING)
def test_bounds_and_seeds_are_taken_exactly_or_refused_by_name(n_trials, timeout, seed):
    try:
        trials, seconds = check_bounded(n_trials, timeout)
    except ConfigError as exc:
        assert str(exc).split()[0] in {"n_trials", "timeout", "give"}
    else:
        assert trials == n_trials and (seconds is None or seconds == float(timeout))
        assert trials is None or (trials >= 1 and not isinstance(n_trials, bool))
        assert seconds is None or (0 < seconds < float("inf"))
    try:
        assert check_seed(seed) == seed and not isinstance(seed, bool) and seed >= 0
    except ConfigError as exc:
        assert str(exc).startswith("seed must be an integer from 0")


# ------------------------------------------------------------------ studies and their files


def test_an_empty_study_name_never_maps_to_the_default_studys_folder(tmp_path):
    storage = _sqlite(tmp_path)
    with pytest.raises(ConfigError, match="non-empty"):
        trial_models_dir("", storage)
    assert trial_models_dir("search", storage).name.startswith("search-")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_two_study_names_never_share_a_folder(a, b):
    fa, fb = study_folder_name(a), study_folder_name(b)
    assert (fa == fb) == (a == b)
    assert fa.lower() != fb.lower() or a == b  # also apart on case-insensitive file systems
    assert "/" not in fa and "\\" not in fa and fa not in (".", "..") and fa.isascii()


def test_a_relative_sqlite_path_names_a_different_database_in_each_folder(tmp_path, monkeypatch):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    first = trial_models_dir("s", "sqlite:///study.db")
    assert storage_key("sqlite:///study.db") == f"sqlite:///{tmp_path / 'one' / 'study.db'}"
    monkeypatch.chdir(tmp_path / "two")
    assert trial_models_dir("s", "sqlite:///study.db") != first
    absolute = f"sqlite:///{tmp_path / 'study.db'}"
    assert storage_key(absolute) == absolute  # absolute URLs keep their folder (and old studies)


def test_a_study_resumed_with_other_objectives_is_refused(tmp_path, no_trials):
    storage = _sqlite(tmp_path)
    search(TINY, n_trials=1, study="s", storage=storage, progress=False)
    with pytest.raises(ConfigError, match="already exists with objectives val_accuracy, artifact"):
        search(
            TINY,
            objectives=("val_accuracy", "macs"),
            n_trials=1,
            study="s",
            storage=storage,
            progress=False,
        )
    optuna.create_study(study_name="old", storage=storage, directions=["maximize", "minimize"])
    with pytest.raises(ConfigError, match="already exists with objectives 2"):
        search(
            TINY,
            objectives=("val_accuracy", "macs", "artifact_bytes"),
            n_trials=1,
            study="old",
            storage=storage,
            progress=False,
        )


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20))
def test_check_study_name_takes_a_name_exactly_or_refuses_it(name):
    try:
        assert check_study_name(name) == name and name.strip()
    except ConfigError as exc:
        assert str(exc).startswith("study must") and not name.strip()


# ------------------------------------------------------------------ the command line


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAB_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )


CLI_CASES = [
    (["--storage", "nonsense"], "--storage", "must be an SQLAlchemy URL"),
    (["--storage", "sqlite:////no/such/folder/x.db"], "--storage", "does not exist"),
    (["--storage", "postgresql://u:pw123@127.0.0.1:1/db"], "--storage", "cannot be opened"),
    (["--storage", "sqlite://"], "--storage", "in-memory"),
    (["--storage", "mysql://x/y"], "--storage", "not installed"),
    (["--study", ""], "--study", "non-empty"),
    (["--seed", "-3"], "--seed", "from 0"),
    (["--hours", "1e308"], "--hours", "finite number of hours"),
    (["--workers", "100000"], "--workers", "n_workers must be an integer from 1"),
    (["--constraint", "mae <= 50"], "--constraint", "macro_f1 for a multiclass task"),
    (["--constraint", "macro_f1 >= 80"], "--constraint", "a fraction from 0 to 1"),
    (["--constraint", "macro_f1 > 0.8"], "--constraint", "use <= or >="),
]


def _one_line_naming(stderr: str, option: str, words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert f"argument {option}:" in lines[0] and words in lines[0], stderr
    assert "pw123" not in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(("args", "option", "words"), CLI_CASES)
def test_the_cli_says_what_is_wrong_in_one_line_and_exits_2(args, option, words, capsys):
    from lab.__main__ import main

    try:
        code = main(["search", "--space", "tiny", "--trials", "1", *args])
    except SystemExit as exc:  # argparse's own exit
        code = exc.code
    assert code == 2
    _one_line_naming(capsys.readouterr().err, option, words)


@pytest.mark.parametrize(("args", "option", "words"), [CLI_CASES[0], CLI_CASES[2]])
def test_the_cli_process_exits_2_with_one_line(args, option, words, tmp_path):
    done = _cli("search", "--space", "tiny", "--trials", "1", *args, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    _one_line_naming(done.stderr, option, words)


def test_the_cli_refuses_a_file_as_the_checkpoint_folder_before_training(tmp_path, capsys):
    from lab.__main__ import main

    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(SystemExit) as exited:
        main(["train", "cnn", "--out", str(target)])
    assert exited.value.code == 2
    _one_line_naming(capsys.readouterr().err, "--out", "must be a folder")


OPTION_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["0", "1", "-1", "1e308", "nan", "inf", "²", "sqlite://", "3.5", " 7 "]),
)


@settings(max_examples=100, deadline=None)
@given(
    option=st.sampled_from(["--storage", "--study", "--seed", "--hours", "--trials", "--workers"]),
    value=OPTION_VALUES,
)
def test_any_option_value_parses_or_is_one_line_naming_the_option(option, value):
    import contextlib
    import io

    from lab.__main__ import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(["search", f"{option}={value}"])
    except SystemExit as exc:
        lines = err.getvalue().strip().splitlines()
        assert exc.code == 2 and len(lines) == 1, err.getvalue()
        assert f"argument {option}:" in lines[0]
        return
    parsed = getattr(args, option.lstrip("-"))
    if option == "--storage":
        assert parsed == value
    elif option == "--study":
        assert parsed == value and value.strip()
    elif option == "--hours":
        assert 0 < parsed and math.isfinite(parsed * 3600)
    else:
        assert isinstance(parsed, int) and parsed >= (0 if option == "--seed" else 1)


# ------------------------------------------------------------------ second round (issue 19)


def test_a_study_resumed_with_other_constraints_or_data_is_refused(tmp_path, no_trials):
    import numpy as np

    storage = _sqlite(tmp_path)
    search(TINY, n_trials=1, study="s", storage=storage, constraints={"artifact_bytes": 9000},
           progress=False)  # fmt: skip
    for constraints, words in (({"artifact_bytes": 50}, "asks for artifact_bytes <= 50"),
                               (None, "asks for none")):  # fmt: skip
        with pytest.raises(ConfigError, match=words) as caught:
            search(TINY, n_trials=1, study="s", storage=storage, constraints=constraints,
                   progress=False)  # fmt: skip
        assert str(caught.value).startswith("constraints of study 's'")
    rng = np.random.default_rng(0)
    images = rng.random((60, 1, 16, 16), dtype=np.float32)
    labels = rng.integers(0, 3, 60)
    kept = images.copy(), labels.copy()
    with pytest.raises(ConfigError, match=r"^data of study 's'.*'fashion-mnist'"):
        search(SearchSpace(**{**TINY.to_dict(), "resolutions": (8, 16)}), n_trials=1,
               study="s", storage=storage, constraints={"artifact_bytes": 9000},
               data=(images, labels), progress=False)  # fmt: skip
    assert np.array_equal(images, kept[0]) and np.array_equal(labels, kept[1])  # untouched
    # the same constraints (in another order or form) resume it
    search(TINY, n_trials=1, study="s", storage=storage, constraints="artifact_bytes <= 9000",
           progress=False)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=512))
def test_every_study_name_gets_a_folder_the_file_system_can_make(name):
    folder = study_folder_name(name)
    assert 0 < len(folder.encode()) <= 255 - 9  # "-<8 hex>" follows it
    assert "/" not in folder and "\x00" not in folder and folder not in (".", "..")


def test_a_long_study_name_runs_and_keeps_its_models_apart(tmp_path):
    storage = _sqlite(tmp_path)
    folders = {trial_models_dir(n, storage) for n in ("x" * 300, "x" * 301, "x" * 200)}
    assert len(folders) == 3
    for folder in folders:
        folder.mkdir(parents=True)  # the file system takes every one of them


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/tmp/a\x00b.db", "cannot hold a NUL byte"),
        ("/tmp/" + "a" * 300 + "/x.db", "the file system refuses this path"),
        ("~/x.db", "a URL's ~ is not your home folder"),
    ],
)
def test_sqlite_paths_the_file_system_cannot_use_are_refused_naming_storage(path, words):
    with pytest.raises(StorageError, match=words) as caught:
        check_storage_url(f"sqlite:///{path}")
    assert str(caught.value).startswith("storage")


def test_a_url_option_the_driver_refuses_is_a_storage_error(tmp_path, no_trials):
    with pytest.raises(StorageError, match=r"^storage .*cannot be opened \(ValueError\)"):
        search(TINY, n_trials=1, storage=f"sqlite:///{tmp_path}/x.db?timeout=abc", progress=False)


def test_a_database_that_cannot_be_written_is_a_storage_error(tmp_path, no_trials):
    import sqlite3

    sqlite3.connect(tmp_path / "ro.db").close()
    url = f"sqlite:///file:{tmp_path}/ro.db?mode=ro&uri=true"
    with pytest.raises(StorageError, match=r"^storage .*ro\.db"):
        search(TINY, n_trials=1, storage=url, progress=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_sqlite_path_is_accepted_or_refused_naming_storage(path):
    try:
        check_storage_url(f"sqlite:///{path}")
    except StorageError as exc:
        assert str(exc).startswith("storage") and "\n" not in str(exc)


@pytest.fixture(scope="module")
def empty_result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty")
    storage = f"sqlite:///{folder / 's.db'}"
    optuna.create_study(study_name="e", storage=storage, directions=["maximize", "minimize"])
    return search_module.SearchResult("e", storage, ("val_accuracy", "artifact_bytes"),
                                      str(folder / "models"))  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=ANYTHING)
def test_any_trial_number_is_refused_naming_number_and_the_trials(empty_result, number, tmp_path):
    for read in (empty_result.model, empty_result.recipe, empty_result.test_accuracy,
                 lambda n: empty_result.export(n, tmp_path / "out")):  # fmt: skip
        with pytest.raises(ValueError) as caught:
            read(number)
        assert str(caught.value).startswith("number must be")
    assert not (tmp_path / "out").exists()  # nothing written for a refused number


CLI_MORE = [
    (["search", "--constraint", "artifact_bytes <= 0"], "--constraint", "finite positive"),
    (["search", "--storage", "sqlite:////tmp/" + "a" * 300 + "/x.db"], "--storage", "refuses"),
    (["train", "cnn", "--out", "/tmp/" + "b" * 300], "--out", "too long"),
    (["train", "cnn", "--out", "/tmp/\x00"], "--out", "NUL byte"),
    (["train", "cnn", "--threads", "100000"], "--threads", "from 1 to"),
    (["train", "cnn", "--out", "/proc/lab-no-such"], "--out", "cannot create the folder"),
    (["evaluate", "--recipe", '{"resolution": {"size": 29}}'], "--recipe", "4 to 28 px"),
]


@pytest.mark.parametrize(("args", "option", "words"), CLI_MORE)
def test_the_cli_names_the_option_that_was_typed(args, option, words, capsys, monkeypatch):
    from lab.__main__ import main
    from lab.models import zoo

    def never(*args, **kwargs):
        raise AssertionError("the command ran instead of refusing its arguments")

    monkeypatch.setattr(search_module, "_work", never)
    monkeypatch.setattr(zoo, "train_and_save", never)
    monkeypatch.setattr(zoo, "load", never)
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    _one_line_naming(capsys.readouterr().err, option, words)


@settings(max_examples=150, deadline=None)
@given(st.one_of(ANYTHING, st.lists(st.sampled_from([*search_module.OBJECTIVES, "bytes", ""]),
                                    max_size=4)))  # fmt: skip
def test_objectives_are_taken_as_given_or_refused_by_name(objectives):
    from lab.decide.search_inputs import check_objectives

    names = tuple(search_module.OBJECTIVES)
    try:
        taken = check_objectives(objectives, names)
    except ConfigError as exc:
        assert str(exc).startswith("objectives must be")
        return
    assert taken == tuple(objectives) and len(set(taken)) == len(taken) >= 2
    assert set(taken) <= set(names)


def test_a_result_naming_the_studys_objectives_wrongly_is_refused(tmp_path, no_trials):
    storage = _sqlite(tmp_path)
    result = search(TINY, n_trials=1, study="s", storage=storage, progress=False)
    wrong = search_module.SearchResult("s", storage, ("val_accuracy", "macs"), result.models_dir)
    with pytest.raises(ConfigError, match="objectives of study 's' are val_accuracy, artifact"):
        wrong.trials_frame()
