"""The newer surfaces never modify what a user passed them (test_global_state's idea, for
arrays, DataFrames, estimators, models, torch datasets and Optuna studies).

Each surface is called between two fingerprints of every object given to it: values,
dtypes and flags of arrays, a DataFrame's pickle, a fitted estimator's pickle, a model's
weights and modes, a study's trials and attributes. A new surface is one more entry in
``SURFACES``: ``name → (make the user's objects, call the surface with them)``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from test_global_state import _model_state, _user_model
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lab
from lab import recommend as rec
from lab.datasets import as_data

ROWS = [
    {"name": "cnn", "label": "4-bit", "accuracy": 0.92, "artifact_bytes": 43_607,
     "latency_ms_p50": 0.6, "co2_g_per_1k": 3e-4, "split": "live", "country": "FRA"},
    {"name": "mlp", "label": "baseline", "accuracy": 0.90, "artifact_bytes": 908_486,
     "latency_ms_p50": 0.05, "co2_g_per_1k": 8e-5, "split": "live", "country": "FRA"},
]  # fmt: skip


def fingerprint(value: object) -> object:
    """What must not change about ``value`` (recursively for dicts, lists and tuples)."""
    if isinstance(value, nn.Module):
        return _model_state(value)
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().numpy().tobytes()
        return (str(value.dtype), tuple(value.shape), value.requires_grad, data)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.flags.writeable, value.tobytes())
    if isinstance(value, optuna.Study):
        return (
            value.study_name,
            [d.name for d in value.directions],
            dict(value.user_attrs),
            [(t.number, t.state.name, t.values, t.params, t.user_attrs) for t in value.trials],
        )
    if isinstance(value, TensorDataset):
        return [fingerprint(t) for t in value.tensors]
    if isinstance(value, DataLoader):
        return fingerprint(value.dataset)
    if isinstance(value, dict):
        return {k: fingerprint(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fingerprint(v) for v in value]
    if isinstance(value, (pd.DataFrame, pd.Series)):  # content, not pandas' lazy caches
        columns = list(value.columns) if isinstance(value, pd.DataFrame) else [value.name]
        dtypes = [
            str(d) for d in (value.dtypes if isinstance(value, pd.DataFrame) else [value.dtype])
        ]
        hashed = pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes()
        return (columns, dtypes, list(value.index), dict(value.attrs), hashed)
    return pickle.dumps(value)  # estimators, configs


def _digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.data[:300].copy(), bunch.target[:300].copy()


def _frame() -> dict:
    frame = pd.DataFrame(ROWS)
    frame.attrs["source"] = "user"
    return {"frame": frame}


def _estimator() -> dict:
    x, y = _digits()
    return {"estimator": LogisticRegression(max_iter=200).fit(x, y), "x": x, "y": y}


def _study(tmp_path: Path) -> dict:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(
        study_name="mine", storage=storage, directions=["maximize", "minimize"]
    )
    study.set_user_attr("owner", "me")
    study.enqueue_trial({"depth": 1})
    study.add_trial(
        optuna.trial.create_trial(
            params={"depth": 1},
            distributions={"depth": optuna.distributions.IntDistribution(1, 3)},
            values=[0.5, 100.0],
        )
    )
    return {"study": study, "storage": storage}


def _search_refusing_other_objectives(given: dict, tmp_path: Path) -> None:
    from lab.search import SearchSpace, search

    with pytest.raises(ValueError, match="already exists"):
        search(
            SearchSpace.tiny(),
            objectives=["val_accuracy", "macs", "artifact_bytes"],
            constraints={"macs": 1e6},
            n_trials=1,
            study="mine",
            storage=given["storage"],
            progress=False,
        )


def _search_with_quality_constraints(given: dict, tmp_path: Path) -> None:
    from lab.search import SearchSpace, search

    with pytest.raises(ValueError, match="already exists"):
        search(
            SearchSpace.tiny(),
            objectives=["val_macro_f1", "macs", "artifact_bytes"],
            constraints=given["constraints"],
            n_trials=1,
            study="mine",
            storage=given["storage"],
            progress=False,
        )


def _cross_validated(tmp_path: Path) -> dict:
    from sklearn.dummy import DummyClassifier

    from lab.evaluation.quality import cross_validate

    x, y = _digits()
    cv = {"DummyClassifier": cross_validate(DummyClassifier(), (x, y), n_splits=2, n_repeats=1)}
    rows = [{"name": "DummyClassifier", "artifact_bytes": 10, "task": "multiclass"},
            {"name": "LogisticRegression", "artifact_bytes": 99, "task": "multiclass"}]  # fmt: skip
    return {"rows": rows, "cv": cv, "estimator": LogisticRegression(max_iter=50), "x": x, "y": y}


def _recommend_on_cross_validation(given: dict, tmp_path: Path) -> None:
    from lab.evaluation.quality import cross_validate

    mine = cross_validate(given["estimator"], (given["x"], given["y"]), n_splits=2, n_repeats=1)
    rec.recommend(given["rows"], cross_validation=given["cv"])  # the user's own dict
    rec.recommend(given["rows"], cross_validation={**given["cv"], "LogisticRegression": mine})


def _search_result_reads(given: dict, tmp_path: Path) -> None:
    from lab.search import SearchResult

    result = SearchResult("mine", given["storage"], ("val_accuracy", "artifact_bytes"), "x")
    result.trials_frame()
    result.frontier()


def _dashboard(given: dict, tmp_path: Path) -> None:
    from widgets import Dashboard

    dash = Dashboard(given["model"], name="mine", evaluator=lambda *a, **k: None)
    dash.close()


def _export(given: dict, tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    from lab.export import to_onnx

    to_onnx(given["model"], tmp_path / "mine.onnx")


def _mixed_frame() -> dict:
    """A DataFrame with bool, nullable-integer and float columns (issue 19, second round)."""
    x, y = _digits()
    frame = pd.DataFrame(x[:, :6], columns=list("abcdef"))
    frame["flag"] = y % 2 == 0
    frame["count"] = pd.Series(y, dtype="Int64")
    return {"frame": frame, "y": pd.Series(y)}


def _digit_images() -> dict:
    bunch = load_digits()
    images = bunch.images[:300].copy()
    images.setflags(write=False)  # read-only, as a memory-mapped file would be
    return {"x": images, "y": bunch.target[:300].copy(), "model": _user_model("mixed")}


def _first_look(given: dict, tmp_path: Path) -> None:
    from lab.evaluation.measure import Evaluation

    store = lab.store.ResultStore(tmp_path / "s.sqlite")
    Evaluation(given["model"], data=(given["x"], given["y"]), store=store).first_look(images=20)


def _load_into(given: dict, tmp_path: Path) -> None:
    from lab.runtimes.loading import load_model

    path = tmp_path / "weights.pt"
    torch.save(_user_model("eval").state_dict(), path)
    load_model(path, architecture=given["model"])  # fills a copy, never the module given


def _scores(given: dict, tmp_path: Path) -> None:
    from lab.evaluation import quality

    quality.positive_scores(given["estimator"], given["x"])
    quality.score("multiclass", given["y"], given["estimator"].predict(given["x"]))


def _binary_estimator() -> dict:
    x, y = _digits()
    return {"estimator": LogisticRegression(max_iter=200).fit(x, y % 2), "x": x, "y": y}


Make = Callable[[Path], dict]
Call = Callable[[dict, Path], object]

SURFACES: dict[str, tuple[Make, Call]] = {
    "recommend(rows)": (
        lambda p: {"rows": [dict(r) for r in ROWS]},
        lambda g, p: rec.recommend(g["rows"]),
    ),
    "recommend(DataFrame)": (lambda p: _frame(), lambda g, p: rec.recommend(g["frame"], 0.8)),
    "recommendation_table": (
        lambda p: {**_frame(), "floors": [0.8, None]},
        lambda g, p: rec.recommendation_table(g["frame"], g["floors"]),
    ),
    "recommendation_summary": (
        lambda p: {"by_data": {"a": pd.DataFrame(ROWS)}},
        lambda g, p: rec.recommendation_summary(g["by_data"], ["bytes"]),
    ),
    "plot_tradeoffs": (lambda p: _frame(), lambda g, p: rec.plot_tradeoffs(g["frame"])),
    "as_data(arrays)": (
        lambda p: dict(zip("xy", _digits(), strict=True)),
        lambda g, p: as_data((g["x"], g["y"])),
    ),
    "as_data(DataFrame)": (
        lambda p: {"x": pd.DataFrame(_digits()[0]), "y": pd.Series(_digits()[1])},
        lambda g, p: as_data((g["x"], g["y"])),
    ),
    "as_data(torch Dataset)": (
        lambda p: {"ds": TensorDataset(torch.rand(40, 1, 4, 4), torch.arange(40) % 2)},
        lambda g, p: as_data(g["ds"]),
    ),
    "as_data(DataLoader)": (
        lambda p: {"dl": DataLoader(TensorDataset(torch.rand(40, 3), torch.arange(40) % 2), 7)},
        lambda g, p: as_data(g["dl"]),
    ),
    "evaluate(estimator)": (
        lambda p: _estimator(),
        lambda g, p: lab.evaluate(
            g["estimator"],
            data=(g["x"], g["y"]),
            split="live",
            effort="quick",
            store=lab.store.ResultStore(p / "s.sqlite"),
        ),
    ),  # fmt: skip
    "search refusing a study": (_study, _search_refusing_other_objectives),
    "SearchResult reads a study": (_study, _search_result_reads),
    "search with quality constraints": (
        lambda p: {**_study(p), "constraints": ["macro_f1 >= 0.1", "macs <= 1e6"]},
        _search_with_quality_constraints,
    ),
    "cross_validate + recommend(cross_validation=)": (
        _cross_validated,
        _recommend_on_cross_validation,
    ),
    "Dashboard(model)": (lambda p: {"model": _user_model("mixed")}, _dashboard),
    "to_onnx(model)": (lambda p: {"model": _user_model("train")}, _export),
    "as_data(DataFrame of bool/Int64/float columns)": (
        lambda p: _mixed_frame(),
        lambda g, p: as_data((g["frame"], g["y"])),
    ),
    "as_data(lazy read-only images)": (
        lambda p: _digit_images(),
        lambda g, p: as_data((g["x"], g["y"]), lazy=True),
    ),
    "Evaluation.first_look(torch model, read-only images)": (
        lambda p: _digit_images(),
        _first_look,
    ),
    "load_model(architecture=module)": (lambda p: {"model": _user_model("train")}, _load_into),
    "positive_scores + score": (lambda p: _binary_estimator(), _scores),
    "pareto_front + tradeoff": (
        lambda p: {"points": [(3, 0.5), (1, 0.7)], "rows": [dict(r) for r in ROWS]},
        lambda g, p: (
            __import__("lab.decide.pareto").decide.pareto.pareto_front(g["points"]),
            __import__("lab.decide.pareto").decide.pareto.tradeoff(g["rows"]),
        ),
    ),
    "RecommendationView(DataFrame)": (
        lambda p: _frame(),
        lambda g, p: __import__("widgets").RecommendationView(g["frame"], interactive=False),
    ),
}


@pytest.mark.parametrize("surface", SURFACES)
def test_the_surface_leaves_what_it_was_given_unmodified(surface, tmp_path):
    make, call = SURFACES[surface]
    given = make(tmp_path)
    before = fingerprint(given)
    call(given, tmp_path)
    after = fingerprint(given)
    changed = [k for k in before if before[k] != after[k]]
    assert changed == [], f"{surface} modified the caller's {', '.join(changed)}"


def test_the_fingerprint_sees_each_kind_of_change(tmp_path):
    """The oracle is not blind: a change to each kind of object is detected."""
    given = {**_frame(), **_estimator(), **_study(tmp_path), "model": _user_model("eval")}
    given["rows"] = [dict(r) for r in ROWS]
    mutations = {
        "frame": lambda: given["frame"].iloc.__setitem__((0, 2), 0.5),
        "x": lambda: given["x"].setflags(write=False),
        "estimator": lambda: setattr(given["estimator"], "C", 2.0),
        "study": lambda: given["study"].set_user_attr("owner", "you"),
        "model": lambda: given["model"].train(),
        "rows": lambda: given["rows"][0].update(accuracy=0.1),
    }
    for key, mutate in mutations.items():
        before = fingerprint(given[key])
        mutate()
        assert fingerprint(given[key]) != before, key
