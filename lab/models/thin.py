"""Thin models: scikit-learn estimators, trained on the lab's splits and measured like the torch models.

The practice the lab serves: *prefer a thin model (logistic regression, a random forest…)
when it is on par, and only then shrink a deep one.* This module makes that comparison
honest: the same splits, the same accuracy pass, real bytes on disk, an operation count,
batch-1 latency, batch-256 throughput, and energy/CO2 from :mod:`lab.energy`.

* **Registry** (:data:`THIN_MODELS`, keyed by the estimator's class name): hyper-parameters
  from the Fashion-MNIST benchmark (Xiao et al. 2017, Table 3; the sklearn grid is in the
  fashion-mnist repository's ``benchmark/baselines.json``), with every deviation noted in
  the spec's ``note``.
* **Inputs**: the lab's splits (:func:`lab.data.load_split`, N×1×28×28 normalized float
  tensors) flattened to N×784 float32 arrays (:func:`features`). Training uses ``train``;
  results are reported on ``val``, ``test`` or ``live``.
* **Training and cache**: :func:`fit_thin` trains on first use (tqdm progress), and caches
  the fitted estimator in ``lab.data.cache_dir() / "thin"`` as a **skops** file (a zip of
  JSON and arrays, loaded without pickle: only the types in :data:`TRUSTED_TYPES` beyond
  skops' defaults are accepted) with a SHA-256 sidecar (``<file>.sha256``, ``sha256sum``
  format) checked on every load and a metadata sidecar (``<file>.json``: training time and
  energy). A file whose hash does not match is never loaded: :func:`load_thin` raises
  :class:`ThinCacheError`; :func:`fit_thin` warns and retrains. ``quick=True`` (or
  ``LAB_QUICK=1``) trains on a stratified 10,000-image subset of ``train``; the cache key
  holds quick/full, the hyper-parameters, the scikit-learn version and the data's identity.
* **Measurement**: :func:`lab.measure.evaluate` measures a thin model like any other (its
  kind, :class:`lab.kinds.ScikitLearnKind`, gives the pipeline its file, operations and
  predictions); the fit's time and energy go into the Measurement.

Example:
    >>> from lab import evaluate, thin
    >>> model = thin.fit_thin("LogisticRegression", quick=True)  # doctest: +SKIP
    >>> m = evaluate(model, split="live")  # doctest: +SKIP
    >>> m.accuracy, m.artifact_bytes, m.macs  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lab.datasets import DataError, as_data
from lab.datasets import fashion as data
from lab.datasets.tasks import check_task, strata
from lab.meters import energy, machine

__all__ = [
    "compression_problem",
    "QUICK_TRAIN_SIZE",
    "THIN_MODELS",
    "TRUSTED_TYPES",
    "NoTorchForm",
    "ThinCacheError",
    "ThinModel",
    "ThinSpec",
    "features",
    "fit_thin",
    "load_thin",
    "quick_mode",
    "thin_names",
]

QUICK_TRAIN_SIZE = 10_000  # images in the stratified quick subset of ``train``
QUICK_SEED = 0
THIN_FORMAT = 1  # bump when what a cached file means changes (invalidates every cache key)
OPS_SAMPLE = 1_000  # ``val`` images the data-dependent operation counts (trees) average over
SKOPS_COMPRESSION = zipfile.ZIP_DEFLATED  # the skops file is a zip: deflate its members

# Types outside skops' default trust list that the registry's estimators contain. Loading
# a file that holds any other such type fails with ThinCacheError (skops never unpickles).
TRUSTED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


class ThinCacheError(RuntimeError):
    """A cached thin-model file is missing a sidecar, fails its SHA-256 check or holds an
    untrusted type; the message names the file and what to do."""


class NoTorchForm(NotImplementedError):
    """The estimator has no equivalent torch module; the message says which techniques apply."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ThinSpec:
    """One thin model: how to build it, and what the Fashion-MNIST paper reported for it.

    ``paper_accuracy`` is the test accuracy of Xiao et al. 2017, Table 3 (None when the
    paper does not list this estimator); ``paper_setting`` the paper's best parameters;
    ``note`` what differs here and why.
    """

    name: str
    build: Callable[[], object]
    paper_accuracy: float | None
    paper_setting: str
    note: str = ""
    progress: str = "elapsed"  # "trees" (warm-started chunks), "iterations", "epochs", "elapsed"
    task: str = "classification"  # or "regression": the data it fits (lab.tasks)
    trivial: bool = False  # a trivial baseline (Dummy*): what any model must beat


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=200, tol=1e-4)


def _linear_svc():
    from sklearn.svm import LinearSVC

    return LinearSVC(C=1.0, loss="squared_hinge", max_iter=1000, random_state=0)


def _forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=100, criterion="entropy", max_depth=100, random_state=0, n_jobs=-1
    )


def _hist_gb():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False, random_state=0
    )


def _knn():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=5, weights="distance", p=2, algorithm="brute")


def _mlp():
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(100,), activation="relu", max_iter=30, random_state=0)


def _svc():
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    return Pipeline(
        [
            ("pca", PCA(n_components=100, random_state=0)),
            ("svc", SVC(C=10.0, kernel="rbf", gamma="scale", cache_size=1000)),
        ]
    )


def _ridge():
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0)


def _forest_regressor():
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=-1)


def _hist_gb_regressor():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=31, early_stopping=False, random_state=0
    )


def _knn_regressor():
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_neighbors=5, weights="distance", p=2, algorithm="brute")


def _mlp_regressor():
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(
        hidden_layer_sizes=(100,), activation="relu", learning_rate_init=0.01, max_iter=500,
        random_state=0,
    )  # fmt: skip


def _dummy_classifier():
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior")


def _dummy_regressor():
    from sklearn.dummy import DummyRegressor

    return DummyRegressor(strategy="mean")


THIN_MODELS: dict[str, ThinSpec] = {
    spec.name: spec
    for spec in (
        ThinSpec(
            "LogisticRegression",
            _logistic,
            0.842,
            "C=1, multi_class=ovr, penalty=l1",
            "multinomial L2 with lbfgs capped at 200 iterations, not the paper's one-vs-rest "
            "L1 (scikit-learn ≥ 1.7 has no multi_class); one Linear layer, features → classes",
        ),
        ThinSpec(
            "LinearSVC",
            _linear_svc,
            0.836,
            "C=1, loss=hinge, multi_class=ovr, penalty=l2",
            "squared hinge, solved in the primal by liblinear (the paper's best was plain "
            "hinge); the slowest fit of the set here (11 min on 2 loaded cores)",
        ),
        ThinSpec(
            "RandomForestClassifier",
            _forest,
            0.873,
            "n_estimators=100, criterion=entropy, max_depth=100",
            progress="trees",
        ),
        ThinSpec(
            "HistGradientBoostingClassifier",
            _hist_gb,
            0.880,
            "GradientBoostingClassifier n_estimators=100, max_depth=10 (paper)",
            "histogram gradient boosting (100 iterations × 10 trees of ≤ 31 leaves, 255 bins) "
            "instead of the paper's exact GradientBoostingClassifier (1,000 depth-10 trees on "
            "exact splits; not run here); paper_accuracy is GradientBoostingClassifier's",
            progress="iterations",
        ),
        ThinSpec(
            "KNeighborsClassifier",
            _knn,
            0.854,
            "n_neighbors=5, p=1, weights=distance",
            "Euclidean distance (p=2), computed as matrix products: on 5,000 val images here "
            "10 s and 85.4% against the paper's Manhattan (p=1) 281 s and 86.4%",
        ),
        ThinSpec(
            "MLPClassifier",
            _mlp,
            0.871,
            "activation=relu, hidden_layer_sizes=(100,)",
            "30 Adam epochs (the paper ran to scikit-learn's default cap of 200), ~2 min here",
            progress="epochs",
        ),
        ThinSpec(
            "SVC",
            _svc,
            0.897,
            "C=10, kernel=rbf",
            "PCA to 100 components before the RBF SVC: a kernel evaluation costs 100 MACs "
            "instead of 784 (val here 89.8%, PCA-50 89.6%; the 784-feature SVC was not fitted)",
        ),
        ThinSpec(
            "DummyClassifier",
            _dummy_classifier,
            None,
            "strategy=prior",
            "the trivial baseline: always the most frequent training class (its probabilities "
            "are the training class shares); a model must beat it to be worth anything",
            trivial=True,
        ),
        ThinSpec(
            "Ridge", _ridge, None, "", "L2-regularized least squares, alpha=1", task="regression"
        ),
        ThinSpec(
            "RandomForestRegressor",
            _forest_regressor,
            None,
            "",
            "100 fully grown trees (squared error)",
            progress="trees",
            task="regression",
        ),
        ThinSpec(
            "HistGradientBoostingRegressor",
            _hist_gb_regressor,
            None,
            "",
            "100 iterations of ≤ 31-leaf trees on 255 bins (squared error)",
            progress="iterations",
            task="regression",
        ),
        ThinSpec(
            "KNeighborsRegressor",
            _knn_regressor,
            None,
            "",
            "distance-weighted mean of the 5 nearest training rows (Euclidean)",
            task="regression",
        ),
        ThinSpec(
            "MLPRegressor",
            _mlp_regressor,
            None,
            "",
            "one hidden layer of 100, Adam at 0.01 for up to 500 epochs on the raw target "
            "(scikit-learn does not scale y)",
            progress="epochs",
            task="regression",
        ),
        ThinSpec(
            "DummyRegressor",
            _dummy_regressor,
            None,
            "strategy=mean",
            "the trivial baseline: always the training mean (R² ≤ 0 on new items)",
            task="regression",
            trivial=True,
        ),
    )
}


def thin_names(task: str = "multiclass", *, trivial: bool = False) -> list[str]:
    """The registry's names (estimator class names) for ``task`` (``"binary"``,
    ``"multiclass"`` or ``"regression"``; default: the Fashion-MNIST classifiers); with
    ``trivial=True`` also the trivial baseline (Dummy*)."""

    kind = "regression" if check_task(task) == "regression" else "classification"
    return [
        name
        for name, spec in THIN_MODELS.items()
        if spec.task == kind and (trivial or not spec.trivial)
    ]


def trivial_name(task: str) -> str:
    """The trivial baseline for ``task``: ``"DummyClassifier"`` or ``"DummyRegressor"``."""
    return thin_names(task, trivial=True)[-1]


def check_fitted(estimator: object) -> None:
    """A ValueError unless ``estimator`` (a Pipeline's every stage) is fitted and predicts:
    an unfitted model, a class instead of an instance, or a transformer (PCA, a scaler)
    alone cannot be measured."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if isinstance(estimator, type):
        raise ValueError(
            f"got the class {estimator.__name__}, not a fitted estimator: create and fit one, "
            f"e.g. {estimator.__name__}().fit(x, y), or use fit_thin(name, data=…)"
        )
    final = _final(estimator)
    if not hasattr(final, "predict"):
        raise ValueError(
            f"{type(final).__name__} does not predict (a transformer?): the lab measures a "
            "classifier or a regressor, e.g. a Pipeline ending in one"
        )
    for step in _steps(estimator):
        if step in (None, "passthrough"):
            continue
        try:
            check_is_fitted(step)
        except NotFittedError:
            stage = f"stage {type(step).__name__} of the pipeline" if step is not estimator else ""
            raise ValueError(
                f"{type(final).__name__} is not fitted{' (' + stage + ')' if stage else ''}: "
                "fit it on the lab's training split first — data.split('train').images "
                "flattened to rows and data.split('train').labels — or use "
                "fit_thin(name, data=…)"
            ) from None
        except TypeError:  # not an estimator at all: the counting names what it takes
            continue


def check_estimator_task(estimator: object, data: object, *, fitted: bool = True) -> None:
    """A :class:`lab.datasets.DataError` unless ``estimator`` suits ``data``'s task: a
    regressor on classes, a classifier on a regression target, or a fitted classifier
    whose ``classes_`` are not the data's class codes 0…K−1 (e.g. fitted on the original
    labels, or on other data)."""
    from sklearn.base import is_classifier, is_regressor

    data = as_data(data)
    estimator = estimator.estimator if isinstance(estimator, ThinModel) else estimator
    final = _final(estimator)
    name = type(final).__name__
    if data.is_classification and is_regressor(estimator):
        raise DataError(
            f"{name} is a regressor; {data.name!r} is a {data.task} classification task "
            f"({data.n_classes} classes). Use a classifier, e.g. "
            f"{', '.join(thin_names(data.task, trivial=True)[:3])}"
        )
    if not data.is_classification and is_classifier(estimator):
        raise DataError(
            f"{name} is a classifier; {data.name!r} is a regression task (a numeric target). "
            f"Use a regressor, e.g. {', '.join(thin_names('regression', trivial=True)[:3])}"
        )
    if not (fitted and data.is_classification and hasattr(final, "classes_")):
        return
    classes = np.asarray(final.classes_)
    whole = classes.dtype.kind in "iu" or (
        classes.dtype.kind == "f" and bool(np.all(classes == np.round(classes)))
    )
    if whole and len(classes) and classes.min() >= 0 and classes.max() < data.n_classes:
        return
    shown = ", ".join(f"{c}={i}" for i, c in enumerate(data.classes[:6]))
    raise DataError(
        f"{name}.classes_ is {classes[:10].tolist()}{'…' if len(classes) > 10 else ''}, not "
        f"{data.name!r}'s class codes 0…{data.n_classes - 1}: the lab encodes the labels once "
        f"({shown}{', …' if data.n_classes > 6 else ''}). Fit it on the lab's split "
        "(data.split('train').labels) or with fit_thin(name, data=…)"
    )


def _spec(name: str) -> ThinSpec:
    if name not in THIN_MODELS:
        raise ValueError(f"unknown thin model {name!r}; choose one of {', '.join(THIN_MODELS)}")
    return THIN_MODELS[name]


def quick_mode(quick: bool | None = None) -> bool:
    """``quick`` if given, else whether ``LAB_QUICK`` is set to 1/true/yes."""
    if quick is not None:
        if not isinstance(quick, bool):
            raise ValueError(f"quick must be True, False or None; got {quick!r}")
        return quick
    return os.environ.get("LAB_QUICK", "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- inputs


def features(x: object) -> np.ndarray:
    """N×1×H×W images (tensor or array) or N×D rows → an N×D float32 C-contiguous array.

    A view of ``x`` where possible (no copy): treat it as read-only, as the estimators do.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    array = np.asarray(x)
    if array.ndim in (3, 4):  # N×H×W or N×C×H×W images: one row of pixels per image
        array = array.reshape(len(array), -1)
    elif array.ndim != 2:
        raise ValueError(f"expected N×C×H×W images or N×D rows, got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _stratified_subset(labels: np.ndarray, size: int, seed: int = QUICK_SEED) -> np.ndarray:
    """Sorted indices of a stratified random subset of ``size`` items (per-class proportions)."""
    from sklearn.model_selection import train_test_split

    if size >= len(labels):
        return np.arange(len(labels))
    groups = strata(labels).numpy()  # classes, or quantile bins of a regression target
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=groups, random_state=seed
    )
    return np.sort(chosen)


def _training_data(quick: bool, dataset: object = None) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) to fit on: a fresh copy (estimators may keep it: kNN) of ``train`` or its subset."""

    split = as_data(dataset).split("train")
    x, y = features(split.images), split.labels.numpy()
    if quick:
        idx = _stratified_subset(y, QUICK_TRAIN_SIZE)
        return x[idx], y[idx].copy()  # fancy indexing copies
    return x.copy(), y.copy()


# --------------------------------------------------------------------------- what a model holds


def _steps(estimator) -> list:
    """The estimator's stages (a Pipeline's steps, or the estimator alone)."""
    steps = getattr(estimator, "steps", None)
    return [step for _, step in steps] if steps is not None else [estimator]


def _final(estimator):
    return _steps(estimator)[-1]


def _is_linear(step) -> bool:
    return hasattr(step, "coef_") and hasattr(step, "intercept_") and not hasattr(step, "coefs_")


def _is_tree_ensemble(step) -> bool:
    return hasattr(step, "tree_") or (
        hasattr(step, "estimators_") and hasattr(step, "apply") and not hasattr(step, "_predictors")
    )


def _trees(step) -> list:
    """The fitted ``sklearn.tree._tree.Tree`` objects of a tree or a forest/boosting ensemble."""
    if hasattr(step, "tree_"):
        return [step.tree_]
    return [est.tree_ for est in np.asarray(step.estimators_, dtype=object).ravel()]


def _node_depths(tree) -> np.ndarray:
    """Depth of every node of a fitted sklearn Tree (root 0): comparisons made to reach it."""
    depth = np.zeros(tree.node_count, dtype=np.int64)
    left, right = tree.children_left, tree.children_right
    stack = [0]
    while stack:
        node = stack.pop()
        if left[node] != -1:  # internal node
            depth[left[node]] = depth[right[node]] = depth[node] + 1
            stack += [left[node], right[node]]
    return depth


def _hgb_comparisons(step, x: np.ndarray) -> np.ndarray:
    """Per-row comparisons (depth of the leaf reached) summed over a HistGradientBoosting
    model's trees, by walking each tree's node table as its predictor does."""
    x = step._preprocess_X(x, reset=False) if hasattr(step, "_preprocess_X") else x
    x = np.asarray(x)
    rows = np.arange(len(x))
    total = np.zeros(len(x), dtype=np.int64)
    for iteration in step._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise NotImplementedError("categorical splits are not counted")
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                leaf = nodes["is_leaf"][node].astype(bool)
                if leaf.all():
                    break
                value = x[rows, nodes["feature_idx"][node]]
                go_left = np.where(
                    np.isnan(value),
                    nodes["missing_go_to_left"][node].astype(bool),
                    value <= nodes["num_threshold"][node],
                )
                nxt = np.where(go_left, nodes["left"][node], nodes["right"][node]).astype(np.int64)
                node = np.where(leaf, node, nxt)
            total += nodes["depth"][node].astype(np.int64)
    return total


def _stage_counts(step) -> tuple[int, int, str]:
    """(parameters, non-zero parameters, kind) of one fitted stage. See ThinModel.parameters."""
    name = type(step).__name__
    if name.startswith("Dummy"):  # a trivial baseline: the class shares, or the constant
        stored = getattr(step, "class_prior_", None)
        stored = np.atleast_1d(getattr(step, "constant_", 0.0) if stored is None else stored)
        return stored.size, int(np.count_nonzero(stored)), "MACs"
    if _is_scaler(step):
        arrays = _scaler_arrays(step)
        return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays), "MACs"
    if hasattr(step, "coefs_"):  # MLP
        arrays = [*step.coefs_, *step.intercepts_]
        return (
            sum(a.size for a in arrays),
            sum(int(np.count_nonzero(a)) for a in arrays),
            "MACs",
        )
    if _is_linear(step):
        coef, intercept = np.asarray(step.coef_), np.atleast_1d(step.intercept_)
        if hasattr(step, "support_vectors_"):  # SVC: support vectors × features + duals
            arrays = [step.support_vectors_, step.dual_coef_, intercept]
        else:
            arrays = [coef, intercept]
        return (
            sum(a.size for a in arrays),
            sum(int(np.count_nonzero(a)) for a in arrays),
            "MACs",
        )
    if hasattr(step, "support_vectors_"):  # kernel SVC (coef_ only exists for linear kernels)
        arrays = [step.support_vectors_, step.dual_coef_, np.atleast_1d(step.intercept_)]
        return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays), "MACs"
    if hasattr(step, "_fit_X"):  # k-nearest neighbours: the stored training vectors
        return step._fit_X.size, int(np.count_nonzero(step._fit_X)), "MACs"
    if hasattr(step, "_predictors"):  # histogram gradient boosting
        nodes = sum(len(p.nodes) for it in step._predictors for p in it)
        return nodes, nodes, "comparisons"
    if _is_tree_ensemble(step):
        nodes = sum(t.node_count for t in _trees(step))
        return nodes, nodes, "comparisons"
    if hasattr(step, "components_") and hasattr(step, "mean_"):  # PCA
        arrays = [step.components_, np.asarray(step.mean_)]
        return sum(a.size for a in arrays), sum(int(np.count_nonzero(a)) for a in arrays), "MACs"
    raise TypeError(
        f"{name} is not one of the estimators the lab can count (linear models, MLP, kNN, "
        "SVC, trees/forests/boosting, PCA, scalers, Dummy baselines)"
    )


def _is_scaler(step) -> bool:
    """A per-feature affine scaler (StandardScaler, MinMaxScaler, RobustScaler, MaxAbsScaler)."""
    return hasattr(step, "scale_") and hasattr(step, "transform") and not hasattr(step, "coef_")


def _scaler_arrays(step) -> list[np.ndarray]:
    """The per-feature numbers a scaler stores (centre/offset and scale)."""
    arrays = []
    for attr in ("mean_", "center_", "min_", "scale_"):
        value = getattr(step, attr, None)
        if value is not None:
            arrays.append(np.atleast_1d(np.asarray(value)))
    return arrays


def _stage_operations(step, x: np.ndarray) -> tuple[float, np.ndarray]:
    """(operations per image for ``x``'s rows on average, ``x`` transformed for the next stage).

    A scaler costs one multiply-add per feature ((x − centre) · 1/scale); a Dummy baseline
    nothing (it returns a stored constant)."""
    if type(step).__name__.startswith("Dummy"):
        return 0.0, x
    if _is_scaler(step):
        return float(x.shape[1]), np.asarray(step.transform(x), dtype=np.float32)
    if hasattr(step, "coefs_"):
        return float(sum(c.shape[0] * c.shape[1] for c in step.coefs_)), x
    if hasattr(step, "support_vectors_"):
        return float(step.support_vectors_.shape[0] * step.support_vectors_.shape[1]), x
    if _is_linear(step):
        coef = np.atleast_2d(step.coef_)
        return float(coef.shape[0] * coef.shape[1]), x
    if hasattr(step, "_fit_X"):
        return float(step._fit_X.shape[0] * step._fit_X.shape[1]), x
    if hasattr(step, "_predictors"):
        return float(_hgb_comparisons(step, x).mean()), x
    if _is_tree_ensemble(step):
        leaves = np.asarray(step.apply(x)).reshape(len(x), -1)  # rows × trees
        trees = _trees(step)
        depths = [_node_depths(t) for t in trees]
        per_row = sum(depths[j][leaves[:, j]] for j in range(len(trees)))
        return float(np.mean(per_row)), x
    if hasattr(step, "components_") and hasattr(step, "transform"):
        return float(step.components_.shape[0] * step.components_.shape[1]), step.transform(x)
    raise TypeError(f"{type(step).__name__}: no operation count")


_TECHNIQUES = {
    "RandomForestClassifier": "fewer or shallower trees (n_estimators, max_depth, "
    "min_samples_leaf), cost-complexity pruning (ccp_alpha)",
    "ExtraTreesClassifier": "fewer or shallower trees (n_estimators, max_depth, min_samples_leaf)",
    "DecisionTreeClassifier": "a shallower tree (max_depth, min_samples_leaf), cost-complexity "
    "pruning (ccp_alpha)",
    "HistGradientBoostingClassifier": "fewer boosting iterations (max_iter), fewer leaves "
    "(max_leaf_nodes), coarser bins (max_bins)",
    "GradientBoostingClassifier": "fewer or shallower trees (n_estimators, max_depth)",
    "KNeighborsClassifier": "fewer stored images (prototype selection or condensing), fewer "
    "features (PCA), lower-precision storage of the training vectors",
    "SVC": "fewer support vectors (C, a subset), fewer features (PCA, as here), "
    "lower-precision storage of the support vectors",
    "RandomForestRegressor": "fewer or shallower trees (n_estimators, max_depth, "
    "min_samples_leaf), cost-complexity pruning (ccp_alpha)",
    "HistGradientBoostingRegressor": "fewer boosting iterations (max_iter), fewer leaves "
    "(max_leaf_nodes), coarser bins (max_bins)",
    "KNeighborsRegressor": "fewer stored rows (prototype selection), fewer features (PCA), "
    "lower-precision storage of the training vectors",
    "DummyClassifier": "nothing: it stores one number per class",
    "DummyRegressor": "nothing: it stores one number",
}


# --------------------------------------------------------------------------- the model


_sha256_file = data._sha256  # one streaming file hash for the whole lab


@dataclass(eq=False)
class ThinModel:
    """A fitted scikit-learn estimator with what the lab measures about it.

    ``path`` is its skops file (None for an estimator wrapped with :meth:`from_estimator`
    until :meth:`save` or :attr:`artifact_bytes` writes one). ``train_seconds`` and
    ``train_energy_kwh`` are the fit's wall time and codecarbon energy (None when unknown).
    """

    estimator: object
    name: str
    path: Path | None = None
    train_seconds: float | None = None
    train_energy_kwh: float | None = None
    train_energy_source: str = ""
    quick: bool = False
    n_train: int | None = None
    key: str = ""
    paper_accuracy: float | None = None
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_estimator(cls, estimator: object, name: str | None = None) -> ThinModel:
        """Wrap any fitted estimator (e.g. your own) so it can be measured; a ValueError
        for one that is not fitted, or that cannot predict."""
        check_fitted(estimator)
        return cls(estimator=estimator, name=name or type(_final(estimator)).__name__)

    def __repr__(self) -> str:
        where = f", {self.path.name}" if self.path else ""
        mode = ", quick" if self.quick else ""
        return f"ThinModel({self.name}{mode}{where})"

    # -- prediction
    def predict(self, x: object) -> np.ndarray:
        """Class labels for N×1×H×W images (tensor or array) or N×D rows; ``x`` is not modified."""
        return np.asarray(self.estimator.predict(_read_only(features(x))))

    @property
    def executes_as(self) -> str:
        """``"scikit-learn <version> <Estimator>"`` (a pipeline's stages joined by →)."""
        import sklearn

        stages = " → ".join(type(s).__name__ for s in _steps(self.estimator))
        return f"scikit-learn {sklearn.__version__} {stages}"

    # -- the file
    def save(self, path: str | Path) -> int:
        """Write the skops file (and its ``.sha256`` sidecar) to ``path``; return its bytes.

        A model without a file adopts it (``path``): :attr:`artifact_bytes` is then its size.
        """
        path = Path(path)
        digest = _write_skops(for_serving(self.estimator), path, metadata=None)
        if self.path is None or self.path == path:
            self.path = path
            self._cache["sha"], self._cache["sha_of"] = digest, path
        return path.stat().st_size

    @property
    def artifact_bytes(self) -> int:
        """Bytes of the real skops file on disk (``path``). A model with no file yet is
        written to a temporary one and measured (skops names zip members by object ids, so
        two saves of one model can differ by a few bytes)."""
        if self.path is not None and self.path.is_file():
            return self.path.stat().st_size
        if "bytes" not in self._cache:
            with tempfile.TemporaryDirectory() as tmp:
                temporary = Path(tmp) / f"{self.name}.skops"
                _write_skops(for_serving(self.estimator), temporary, metadata=None)
                self._cache["bytes"] = temporary.stat().st_size
        return self._cache["bytes"]

    @property
    def file_sha256(self) -> str:
        """SHA-256 of the skops file ("" when the model has no file)."""
        if self.path is None or not self.path.is_file():
            return ""
        if self._cache.get("sha_of") != self.path:
            self._cache["sha"], self._cache["sha_of"] = _sha256_file(self.path), self.path
        return self._cache["sha"]

    # -- counts
    def _counts(self) -> tuple[int, int, str]:
        if "counts" not in self._cache:
            stages = [_stage_counts(s) for s in _steps(self.estimator)]
            kinds = {k for *_, k in stages}
            kind = "comparisons" if "comparisons" in kinds else "MACs"
            self._cache["counts"] = (
                sum(p for p, _, _ in stages),
                sum(n for _, n, _ in stages),
                kind,
            )
        return self._cache["counts"]

    @property
    def parameters(self) -> int:
        """Numbers the model stores to predict.

        * linear models: coefficients + intercepts (7,850 for 784→10);
        * MLP: weights + biases of every layer;
        * forests, trees, gradient boosting: tree **nodes** (each holds a feature index, a
          threshold and child links; leaves hold class values);
        * kNN: stored training vectors × features (n_train × 784);
        * SVC: support vectors × features + dual coefficients + intercepts;
        * a PCA stage: components × features + the mean.
        """
        return self._counts()[0]

    @property
    def nonzero_parameters(self) -> int:
        """Non-zero entries among :attr:`parameters` (all nodes count for trees)."""
        return self._counts()[1]

    @property
    def operations_kind(self) -> str:
        """``"MACs"`` (multiply-accumulates) or ``"comparisons"`` (tree models)."""
        return self._counts()[2]

    def count_operations(self, x: object) -> float:
        """Mean :attr:`operations_per_image` over the rows of ``x`` (see there)."""
        rows = _read_only(features(x))
        total = 0.0
        for step in _steps(self.estimator):
            ops, rows = _stage_operations(step, rows)
            total += ops
        return total

    @property
    def operations_per_image(self) -> float:
        """Work to classify one image, counted exactly as follows (summed over a pipeline's stages):

        * linear models (logistic regression, linear SVM): multiply-accumulates (MACs) of
          the matrix product, classes × features (7,840 for 784 → 10); bias adds, softmax
          and argmax not counted (as torch's FlopCounterMode counts a Linear layer);
        * MLP: MACs of every layer's matrix product (784·100 + 100·10 = 79,400);
        * trees, forests, gradient boosting: threshold **comparisons** = node visits =
          depth of the leaf reached, summed over all trees, averaged over the first
          1,000 ``val`` images (``apply`` on the fitted trees; for histogram gradient
          boosting, a walk of each tree's node table as its predictor does);
        * kNN: distance MACs, n_train × features (the search for the k smallest not counted);
        * SVC: kernel evaluations × features = support vectors × features MACs (the
          weighted sum over the kernel values not counted);
        * PCA stage: components × features MACs.
        """
        if "ops" not in self._cache:
            sample = data.load_split("val").images[:OPS_SAMPLE]
            self._cache["ops"] = self.count_operations(sample)
        return self._cache["ops"]

    # -- torch form
    @property
    def techniques(self) -> str:
        """Which of the lab's techniques apply to this model, in words."""
        final = _final(self.estimator)
        if _torch_form_possible(self.estimator):
            return (
                "all of the lab's weight techniques (pruning, quantization, the artifact file) "
                "through to_torch()"
            )
        own = _TECHNIQUES.get(type(final).__name__, "its own hyper-parameters")
        return (
            "not the lab's pruning/quantization (they act on torch Linear/Conv weights); "
            f"what shrinks a {type(final).__name__}: {own}"
        )

    def to_torch(self) -> nn.Module:
        """An equivalent ``torch.nn.Module`` (N×… samples → N×K logits, same argmax).

        Linear models become ``Flatten + Linear(D, K)``; an MLP becomes Flatten and its
        Linear layers with their activations; a binary model's single score ``s`` becomes
        the logits ``(0, s)``. Other estimators raise :class:`NoTorchForm` naming the
        techniques that do apply to them.
        """
        estimator = self.estimator
        final = _final(estimator)
        if not _torch_form_possible(estimator):
            raise NoTorchForm(
                f"{self.name} has no torch form: a {type(final).__name__} is not a stack of "
                f"Linear layers, so to_torch() exists only for linear models and MLPs. "
                f"Techniques that apply: {self.techniques}"
            )
        classes = np.asarray(final.classes_)
        if not np.array_equal(classes, np.arange(len(classes))):
            raise NoTorchForm(f"classes must be 0..K-1 to map logits to labels; got {classes}")
        layers: list[nn.Module] = [nn.Flatten()]
        if hasattr(final, "coefs_"):
            acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid, "identity": None}
            if final.activation not in acts:
                raise NoTorchForm(f"MLP activation {final.activation!r} has no torch form here")
            pairs = list(zip(final.coefs_, final.intercepts_, strict=True))
            for i, (w, b) in enumerate(pairs):
                layers.append(_linear(w.T, b))
                if i < len(pairs) - 1 and acts[final.activation] is not None:
                    layers.append(acts[final.activation]())
        else:
            layers.append(_linear(np.atleast_2d(final.coef_), np.atleast_1d(final.intercept_)))
        if layers[-1].out_features == 1 and len(classes) == 2:  # binary: one score s
            last = layers[-1]  # logits (0, s): the same argmax as s > 0
            pair = nn.Linear(last.in_features, 2)
            with torch.no_grad():
                pair.weight.zero_()
                pair.bias.zero_()
                pair.weight[1] = last.weight[0]
                pair.bias[1] = last.bias[0]
            layers[-1] = pair
        if layers[-1].out_features != len(classes):
            raise NoTorchForm(
                f"{self.name} has {layers[-1].out_features} outputs for {len(classes)} classes "
                "(binary models are not converted)"
            )
        return nn.Sequential(*layers).eval()


def _fitted_to(estimator, x: np.ndarray) -> object:
    """``estimator`` with a PCA stage no wider than the data allows (small or tabular data)."""
    for _, step in getattr(estimator, "steps", []):
        components = getattr(step, "n_components", None)
        if isinstance(components, int) and components > min(x.shape):
            step.set_params(n_components=min(x.shape))
    return estimator


_TORCH_FORM_CLASSES = ("LogisticRegression", "LinearSVC", "MLPClassifier")


def compression_problem(name: str) -> str | None:
    """Why the lab's pruning/quantization do not apply to thin model ``name`` (None when
    they do, through :meth:`ThinModel.to_torch`): a forest is not a stack of Linear layers.

    Example:
        >>> compression_problem("LogisticRegression") is None
        True
        >>> compression_problem("RandomForestClassifier")[:40]
        "a RandomForestClassifier has no weights "
    """
    final = _final(_spec(name).build())
    kind = type(final).__name__
    if len(_steps(_spec(name).build())) == 1 and kind in _TORCH_FORM_CLASSES:
        return None
    own = _TECHNIQUES.get(kind, "its own hyper-parameters")
    return (
        f"a {kind} has no weights the lab can prune or quantize (those act on torch "
        f"Linear/Conv layers); what shrinks it: {own}"
    )


def _torch_form_possible(estimator) -> bool:
    if len(_steps(estimator)) != 1:
        return False
    final = _final(estimator)
    return hasattr(final, "coefs_") or (
        _is_linear(final) and not hasattr(final, "support_vectors_")
    )


def _linear(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    out_features, in_features = weight.shape
    layer = nn.Linear(in_features, out_features)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(np.asarray(weight, dtype=np.float32)))
        layer.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float32)))
    return layer


# --------------------------------------------------------------------------- files


def _write_skops(estimator, path: Path, metadata: dict | None) -> str:
    """Write ``path`` (skops), ``path.sha256`` and, given ``metadata``, ``path.json``
    atomically (temporary files renamed into place; the hash sidecar last). Returns the hash."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        sio.dump(estimator, tmp, compression=SKOPS_COMPRESSION)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for the temporary name only
        digest = _sha256_file(tmp)
        if metadata is not None:
            meta_tmp = tmp.with_suffix(".json.tmp")
            meta_tmp.write_text(json.dumps({**metadata, "sha256": digest}, indent=2))
            meta_tmp.replace(_meta_path(path))
        tmp.replace(path)
        sha_tmp = tmp.with_suffix(".sha256.tmp")
        sha_tmp.write_text(f"{digest}  {path.name}\n")
        sha_tmp.replace(_sha_path(path))
        return digest
    finally:
        tmp.unlink(missing_ok=True)


def _sha_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def load_thin(path: str | Path) -> ThinModel:
    """Load a skops file written by :func:`fit_thin` after checking its SHA-256 sidecar.

    Raises:
        ThinCacheError: the file or its ``.sha256`` sidecar is missing, the hash does not
            match (corrupted or altered file), or the file holds a type outside skops'
            defaults and :data:`TRUSTED_TYPES`. Nothing is unpickled in any case.
    """
    import skops.io as sio

    path = Path(path)
    sha_path = _sha_path(path)
    if not path.is_file():
        raise ThinCacheError(f"{path} does not exist")
    if not sha_path.is_file():
        raise ThinCacheError(
            f"{path} has no SHA-256 sidecar ({sha_path.name}); it is not loaded. Delete the "
            "file to retrain, or re-save it with ThinModel.save()."
        )
    expected = sha_path.read_text().split()[0].strip().lower() if sha_path.read_text() else ""
    actual = _sha256_file(path)
    if actual != expected:
        raise ThinCacheError(
            f"{path} is corrupted or was altered: its SHA-256 is {actual[:12]}…, the sidecar "
            f"{sha_path.name} expects {expected[:12]}…. It was not loaded; delete it (and "
            "its sidecars) to retrain, or call fit_thin(), which retrains it."
        )
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise ThinCacheError(f"{path} is not a readable skops file: {exc}") from exc
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise ThinCacheError(
            f"{path} holds types the lab does not trust: {', '.join(unexpected)}; not loaded"
        )
    estimator = sio.load(path, trusted=list(untrusted))
    meta = {}
    if _meta_path(path).is_file():
        try:
            meta = json.loads(_meta_path(path).read_text())
        except ValueError:
            meta = {}
    name = meta.get("name") or type(_final(estimator)).__name__
    model = ThinModel(
        estimator=estimator,
        name=name,
        path=path,
        train_seconds=meta.get("train_seconds"),
        train_energy_kwh=meta.get("train_energy_kwh"),
        train_energy_source=meta.get("train_energy_source", ""),
        quick=bool(meta.get("quick", False)),
        n_train=meta.get("n_train"),
        key=meta.get("key", ""),
        paper_accuracy=THIN_MODELS[name].paper_accuracy if name in THIN_MODELS else None,
    )
    model._cache["sha"], model._cache["sha_of"] = actual, path
    return model


# --------------------------------------------------------------------------- fitting


_VOLATILE = ("n_jobs", "verbose", "cache_size")  # parameters that do not change the model


def _params_text(estimator) -> str:
    params = estimator.get_params(deep=True)
    kept = {
        k: (repr(v) if not isinstance(v, (int, float, str, bool, type(None))) else v)
        for k, v in sorted(params.items())
        if k.split("__")[-1] not in _VOLATILE
    }
    return json.dumps(kept, sort_keys=True, default=repr)


def cache_key(name: str, quick: bool, dataset: object = None) -> str:
    """SHA-256 of what determines a fitted thin model: name, hyper-parameters, quick/full,
    the scikit-learn version, the data's identity (Fashion-MNIST's raw file hashes and split
    seed, or your data's content fingerprint) and :data:`THIN_FORMAT`."""
    import sklearn

    dataset = as_data(dataset)
    spec = _spec(name)
    identity = {
        "format": THIN_FORMAT,
        "name": name,
        "params": _params_text(spec.build()),
        "quick": quick,
        "quick_size": QUICK_TRAIN_SIZE if quick else None,
        "quick_seed": QUICK_SEED if quick else None,
        "sklearn": sklearn.__version__,
        "data": sorted(data.RAW_SHA256.values()),
        "split": [data.SPLIT_SEED, data.VAL_SIZE],
    }
    if not dataset.is_default:
        identity["data"], identity["split"] = dataset.fingerprint, None
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _thin_dir(cache_dir: str | Path | None) -> Path:
    path = Path(cache_dir) if cache_dir is not None else data.cache_dir() / "thin"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_path(
    name: str,
    *,
    quick: bool | None = None,
    cache_dir: str | Path | None = None,
    data: object = None,
) -> Path:
    """Where :func:`fit_thin` keeps (or will keep) this model's skops file."""
    quick = quick_mode(quick)
    key = cache_key(name, quick, data)
    return _thin_dir(cache_dir) / f"{name}-{'quick' if quick else 'full'}-{key[:16]}.skops"


# Fitted attributes only training needs (to resume or early-stop), dropped before saving so
# the file holds what predict() uses: an MLP's Adam moments and best-iteration copies are
# 3× its weights.
_TRAINING_ONLY = ("_optimizer", "_best_coefs", "_best_intercepts")


def for_serving(estimator) -> object:
    """A copy of a fitted estimator ready to predict and be saved, with identical predictions:
    training-only state (:data:`_TRAINING_ONLY`) dropped and ``n_jobs=None`` (one joblib
    worker; BLAS/OpenMP threads still parallelize: with ``n_jobs=-1`` a forest's batch-1 call
    paid ~2× in thread dispatch here). Shallow: the fitted arrays are shared, not copied."""
    if hasattr(estimator, "steps"):
        clone = copy.copy(estimator)
        clone.steps = [(name, _serving_step(step)) for name, step in estimator.steps]
        return clone
    return _serving_step(estimator)


def _serving_step(step) -> object:
    clone = copy.copy(step)
    for attr in _TRAINING_ONLY:
        clone.__dict__.pop(attr, None)
    if "n_jobs" in clone.get_params(deep=False):
        clone.set_params(n_jobs=None)
    return clone


class _Ticker:
    """Refreshes a tqdm bar from a background thread while a fit runs (elapsed time, and
    progress read from the estimator: MLP epochs, boosting iterations)."""

    def __init__(self, bar, read: Callable[[], int] | None) -> None:
        self.bar, self.read = bar, read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            if self.read is not None:
                try:
                    done = min(int(self.read()), self.bar.total or 0)
                except Exception:  # a private attribute changed: elapsed time only
                    done = self.bar.n
                if done > self.bar.n:
                    self.bar.update(done - self.bar.n)
            self.bar.refresh()

    def __enter__(self) -> _Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _fit(spec: ThinSpec, estimator, x: np.ndarray, y: np.ndarray, progress: bool) -> None:
    """Fit ``estimator`` with a progress bar; the result is identical to ``estimator.fit(x, y)``
    (forests grow by warm-started chunks of trees, which scikit-learn guarantees equal)."""
    from tqdm.auto import tqdm

    desc = f"fitting {spec.name} on {len(x):,} images"
    if spec.progress == "trees":
        total = estimator.n_estimators
        step = max(1, total // 10)
        with tqdm(total=total, desc=desc, unit="tree", disable=not progress, leave=False) as bar:
            estimator.set_params(warm_start=True)
            try:
                for n in range(step, total + step, step):
                    estimator.set_params(n_estimators=min(n, total))
                    estimator.fit(x, y)
                    bar.update(min(n, total) - bar.n)
            finally:
                estimator.set_params(warm_start=False, n_estimators=total)
        return
    if spec.progress == "iterations":
        total, unit = estimator.max_iter, "iteration"

        def read() -> int:
            return len(getattr(estimator, "_predictors", None) or [])
    elif spec.progress == "epochs":
        total, unit = estimator.max_iter, "epoch"

        def read() -> int:
            return len(getattr(estimator, "loss_curve_", None) or [])
    else:
        total, unit, read = 1, "fit", None
    with tqdm(total=total, desc=desc, unit=unit, disable=not progress, leave=False) as bar:
        with _Ticker(bar, read):
            estimator.fit(x, y)
        bar.update(bar.total - bar.n)


def fit_thin(
    name: str,
    *,
    quick: bool | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    data: object = None,
) -> ThinModel:
    """The thin model ``name`` (a key of :data:`THIN_MODELS`), trained on ``data``'s ``train``.

    Loaded from the cache when it is there and its SHA-256 matches; otherwise trained (with
    a tqdm progress bar when ``progress``), its wall time and codecarbon energy recorded,
    and saved as a skops file with its sidecars. A cached file that fails its hash check is
    reported with a warning and retrained.

    Args:
        name: estimator class name, e.g. ``"LogisticRegression"``.
        quick: train on a stratified subset of 10,000 ``train`` images (default: ``LAB_QUICK``).
        progress: show a progress bar while training.
        cache_dir: where the files live (default ``lab.data.cache_dir() / "thin"``).
        data: what to train on (:func:`lab.datasets.as_data`; default Fashion-MNIST). The
            quick subset applies only to sets larger than 10,000 training samples.
    """

    spec = _spec(name)
    dataset = as_data(data)
    check_estimator_task(spec.build(), dataset, fitted=False)
    quick = quick_mode(quick) and len(dataset.split("train")) > QUICK_TRAIN_SIZE
    path = model_path(name, quick=quick, cache_dir=cache_dir, data=dataset)
    if path.is_file():
        try:
            return load_thin(path)
        except ThinCacheError as exc:
            warnings.warn(f"{exc} Retraining {name}.", RuntimeWarning, stacklevel=2)
    x, y = _training_data(quick, dataset)
    estimator = _fitted_to(spec.build(), x)
    with warnings.catch_warnings():
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)  # iteration caps are deliberate
        start = time.perf_counter()
        reading = energy.measure_energy(lambda: _fit(spec, estimator, x, y, progress))
        seconds = time.perf_counter() - start
    import sklearn

    metadata = {
        "name": name,
        "key": cache_key(name, quick, dataset),
        "data": dataset.name,
        "quick": quick,
        "n_train": len(y),
        "train_seconds": seconds,
        "train_energy_kwh": reading.kwh,
        "train_energy_source": reading.provenance,
        "sklearn": sklearn.__version__,
        "params": json.loads(_params_text(estimator)),
        "machine": machine.describe(),
        "created": time.time(),
    }
    estimator = for_serving(estimator)
    _write_skops(estimator, path, metadata)
    model = ThinModel(
        estimator=estimator,
        name=name,
        path=path,
        train_seconds=seconds,
        train_energy_kwh=reading.kwh,
        train_energy_source=reading.provenance,
        quick=quick,
        n_train=len(y),
        key=metadata["key"],
        paper_accuracy=spec.paper_accuracy,
    )
    return model


# --------------------------------------------------------------------------- measuring


def _threads() -> int:
    """Threads the numeric libraries (BLAS, OpenMP) use here, at most."""
    try:
        from threadpoolctl import threadpool_info

        counts = [int(info.get("num_threads", 1)) for info in threadpool_info()]
        return max(counts) if counts else 1
    except Exception:
        return torch.get_num_threads()
