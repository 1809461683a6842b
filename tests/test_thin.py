"""lab.thin: scikit-learn models trained on the lab's splits, cached as skops files, measured.

Quick mode throughout (a stratified 10,000-image subset); one logistic regression is fitted
for the module, everything else uses tiny estimators. Oracles: file sizes and hashes on
disk, hand counts, sklearn's own predictions, torch's own argmax.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_limits

from lab import data, thin
from lab.measure import Measurement

# One BLAS/OpenMP thread for fitting: on 2 shared cores, threaded small fits mostly spin.
ONE_THREAD = 1


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("thin-cache")


@pytest.fixture(scope="module")
def logreg(cache):
    with threadpool_limits(ONE_THREAD):
        return thin.fit_thin("LogisticRegression", quick=True, progress=False, cache_dir=cache)


@pytest.fixture(scope="module")
def live():
    return data.load_split("live")


def _small_training(n: int = 600):
    x, y = thin._training_data(True)
    idx = thin._stratified_subset(y, n)
    return x[idx], y[idx]


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- registry


def test_registry_has_the_papers_models_keyed_by_class_name():
    required = {
        "LogisticRegression",
        "RandomForestClassifier",
        "KNeighborsClassifier",
        "SVC",
        "HistGradientBoostingClassifier",
        "MLPClassifier",
    }
    assert required <= set(thin.thin_names())
    paper = {
        "SVC": 0.897,
        "HistGradientBoostingClassifier": 0.880,  # GradientBoostingClassifier's figure
        "RandomForestClassifier": 0.873,
        "MLPClassifier": 0.871,
        "KNeighborsClassifier": 0.854,
        "LogisticRegression": 0.842,
    }
    for name, spec in thin.THIN_MODELS.items():
        estimator = spec.build()
        assert type(thin._final(estimator)).__name__ == name
        if name in paper:
            assert spec.paper_accuracy == paper[name]
    with pytest.raises(ValueError, match="LogisticRegression.*RandomForestClassifier"):
        thin.fit_thin("XGBClassifier")


def test_quick_mode_and_cache_key(monkeypatch):
    monkeypatch.setenv("LAB_QUICK", "1")
    assert thin.quick_mode() is True and thin.quick_mode(False) is False
    monkeypatch.setenv("LAB_QUICK", "0")
    assert thin.quick_mode() is False and thin.quick_mode(True) is True
    with pytest.raises(ValueError, match="quick"):
        thin.quick_mode("yes")
    quick, full = thin.cache_key("SVC", True), thin.cache_key("SVC", False)
    assert quick != full
    spec = thin.THIN_MODELS["LogisticRegression"]
    before = thin.cache_key("LogisticRegression", True)
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setitem(
        thin.THIN_MODELS,
        "LogisticRegression",
        dataclasses.replace(spec, build=lambda: LogisticRegression(C=2.0)),
    )
    assert thin.cache_key("LogisticRegression", True) != before  # hyper-parameters count


def test_quick_subset_is_stratified_and_a_copy():
    split = data.load_split("train")
    x, y = thin._training_data(True)
    assert x.shape == (thin.QUICK_TRAIN_SIZE, 784) and x.dtype == np.float32
    counts = np.bincount(y, minlength=10)
    expected = np.bincount(split.labels.numpy(), minlength=10) / len(split) * len(y)
    assert np.all(np.abs(counts - expected) <= 1)
    assert not np.shares_memory(x, split.images.numpy())
    again, _ = thin._training_data(True)
    assert np.array_equal(x, again)  # seeded


# --------------------------------------------------------------------------- the file


def test_artifact_is_the_skops_file_and_reloads_to_identical_predictions(logreg, live):
    path = logreg.path
    assert path.suffix == ".skops" and path.parent.name.startswith("thin-cache")
    assert logreg.artifact_bytes == path.stat().st_size > 0
    sidecar = path.with_name(path.name + ".sha256").read_text().split()
    assert sidecar == [_sha256(path), path.name]  # sha256sum format
    assert logreg.file_sha256 == sidecar[0]
    reloaded = thin.load_thin(path)
    assert np.array_equal(reloaded.predict(live.images), logreg.predict(live.images))
    assert reloaded.name == "LogisticRegression" and reloaded.quick
    assert reloaded.n_train == thin.QUICK_TRAIN_SIZE
    assert reloaded.train_seconds == pytest.approx(logreg.train_seconds)
    with open(path, "rb") as handle:  # a zip of JSON + .npy: no pickle stream inside
        assert handle.read(2) == b"PK"


def test_second_fit_loads_from_the_cache(logreg, cache, live):
    start = time.perf_counter()
    again = thin.fit_thin("LogisticRegression", quick=True, progress=False, cache_dir=cache)
    assert time.perf_counter() - start < 5
    assert again.path == logreg.path
    assert np.array_equal(again.predict(live.images[:200]), logreg.predict(live.images[:200]))


def test_corrupted_cache_file_is_caught_and_retrained(logreg, tmp_path, monkeypatch):
    for source in logreg.path.parent.glob(logreg.path.name + "*"):
        shutil.copy(source, tmp_path / source.name)
    copy = tmp_path / logreg.path.name
    thin.load_thin(copy)  # intact copy loads
    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(thin.ThinCacheError, match="corrupted or was altered"):
        thin.load_thin(copy)
    # fit_thin warns and retrains (on 600 images here, to stay fast)
    small = _small_training()
    monkeypatch.setattr(thin, "_training_data", lambda quick, dataset=None: small)
    with pytest.warns(RuntimeWarning, match="Retraining LogisticRegression"):
        with threadpool_limits(ONE_THREAD):
            fresh = thin.fit_thin(
                "LogisticRegression", quick=True, progress=False, cache_dir=tmp_path
            )
    assert fresh.path == copy and fresh.n_train == 600
    assert copy.with_name(copy.name + ".sha256").read_text().split()[0] == _sha256(copy)
    thin.load_thin(copy)
    # a missing sidecar is refused too
    copy.with_name(copy.name + ".sha256").unlink()
    with pytest.raises(thin.ThinCacheError, match="no SHA-256 sidecar"):
        thin.load_thin(copy)


def test_untrusted_types_are_refused(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=eval), path)  # loading it would hand out eval
    path.with_name(path.name + ".sha256").write_text(f"{_sha256(path)}  {path.name}\n")
    with pytest.raises(thin.ThinCacheError, match="does not trust: builtins.eval"):
        thin.load_thin(path)


def _tiny(name: str):
    """The registry's estimator with fewer trees/iterations, fitted on 600 images."""
    small = {
        "RandomForestClassifier": {"n_estimators": 5},
        "HistGradientBoostingClassifier": {"max_iter": 3},
        "MLPClassifier": {"max_iter": 3},
        "LinearSVC": {"max_iter": 50},
        "LogisticRegression": {"max_iter": 20},
    }
    estimator = thin.THIN_MODELS[name].build().set_params(**small.get(name, {}))
    x, y = _small_training()
    with warnings.catch_warnings(), threadpool_limits(ONE_THREAD):
        warnings.simplefilter("ignore")
        estimator.fit(x, y)
    return thin.ThinModel.from_estimator(estimator), x


@pytest.mark.parametrize("name", thin.thin_names())  # the Fashion-MNIST classifiers
def test_every_kind_round_trips_through_skops(name, tmp_path, live):
    model, x = _tiny(name)
    path = tmp_path / f"{name}.skops"
    assert model.path is None
    unsaved = model.artifact_bytes  # a temporary file's size (zip member names vary by a few bytes)
    written = model.save(path)
    assert model.path == path  # from now on, its bytes are this file's
    assert written == path.stat().st_size == model.artifact_bytes
    assert abs(unsaved - written) < 64
    reloaded = thin.load_thin(path)
    images = live.images[:300]
    assert np.array_equal(reloaded.predict(images), model.predict(images))
    assert reloaded.parameters == model.parameters > 0
    assert model.count_operations(x[:50]) > 0
    assert model.executes_as.startswith("scikit-learn ") and model.executes_as.endswith(name)


def test_saved_mlp_has_no_optimizer_state(tmp_path):
    model, _ = _tiny("MLPClassifier")
    assert hasattr(model.estimator, "_optimizer")  # the caller's estimator keeps it
    model.save(tmp_path / "mlp.skops")
    reloaded = thin.load_thin(tmp_path / "mlp.skops").estimator
    assert not hasattr(reloaded, "_optimizer") and not hasattr(reloaded, "_best_coefs")


# --------------------------------------------------------------------------- counts


def test_logistic_regression_counts_by_hand(logreg):
    assert logreg.parameters == 784 * 10 + 10
    assert logreg.nonzero_parameters <= logreg.parameters
    assert logreg.operations_kind == "MACs"
    assert logreg.operations_per_image == 784 * 10  # one 784→10 matrix product


def _two_level_tree():
    """x0 ≤ 0.5 → (x1 ≤ 0.5 → class 0 | class 1); x0 > 0.5 → class 2."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5, dtype=np.float32)
    y = np.array([0, 1, 2, 2] * 5)
    return x, y


def test_tiny_tree_and_forest_comparisons_by_hand():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    x, y = _two_level_tree()
    tree = thin.ThinModel.from_estimator(DecisionTreeClassifier(random_state=0).fit(x, y))
    assert tree.parameters == 5  # root, its two children, and the two leaves under x1
    assert tree.operations_kind == "comparisons"
    assert tree.count_operations(np.array([[0, 0]])) == 2  # root, then x1
    assert tree.count_operations(np.array([[1, 1]])) == 1  # root only
    assert tree.count_operations(np.array([[0, 1], [1, 0]])) == 1.5
    forest = RandomForestClassifier(n_estimators=3, bootstrap=False, max_features=None)
    forest = thin.ThinModel.from_estimator(forest.fit(x, y))
    assert forest.parameters == 15
    assert forest.count_operations(np.array([[0, 0], [1, 1]])) == 3 * 1.5


def test_hist_gradient_boosting_walk_matches_its_predictions():
    """The node-table walk reaches the leaves the predictor reaches: their values, summed
    with the baseline, give sklearn's own decision function; depths match a per-row walk."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5) + (x[:, 2] > 1)
    model = HistGradientBoostingClassifier(max_iter=4, max_leaf_nodes=7, random_state=0)
    model.fit(x, y)
    raw = np.tile(model._baseline_prediction, (len(x), 1)).astype(float)
    depth_total = np.zeros(len(x))
    for iteration in model._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            for i, row in enumerate(x.astype(np.float64)):
                node = 0
                while not nodes["is_leaf"][node]:
                    left = row[nodes["feature_idx"][node]] <= nodes["num_threshold"][node]
                    node = nodes["left"][node] if left else nodes["right"][node]
                raw[i, k] += nodes["value"][node]
                depth_total[i] += nodes["depth"][node]
    assert np.allclose(raw, model.decision_function(x))
    walked = thin._hgb_comparisons(model, x)
    assert np.array_equal(walked, depth_total)
    wrapped = thin.ThinModel.from_estimator(model)
    assert wrapped.count_operations(x) == pytest.approx(depth_total.mean())
    assert wrapped.parameters == sum(len(p.nodes) for it in model._predictors for p in it)


def test_knn_svc_and_mlp_counts_by_hand():
    knn, _ = _tiny("KNeighborsClassifier")
    assert knn.parameters == 600 * 784 and knn.operations_per_image == 600 * 784
    svc, _ = _tiny("SVC")
    pca, machine = svc.estimator.steps[0][1], svc.estimator.steps[1][1]
    n_sv, k = machine.support_vectors_.shape
    assert k == pca.n_components_ == 100
    assert svc.operations_per_image == 100 * 784 + n_sv * 100
    assert svc.parameters == (
        100 * 784 + 784 + n_sv * 100 + machine.dual_coef_.size + machine.intercept_.size
    )
    mlp, _ = _tiny("MLPClassifier")
    assert mlp.operations_per_image == 784 * 100 + 100 * 10
    assert mlp.parameters == 784 * 100 + 100 + 100 * 10 + 10


# --------------------------------------------------------------------------- torch form


def test_to_torch_gives_identical_argmax_and_compresses(logreg, live):
    from lab import apply
    from lab.techniques import QuantConfig, Recipe

    module = logreg.to_torch()
    assert [type(m).__name__ for m in module] == ["Flatten", "Linear"]
    assert (module[1].in_features, module[1].out_features) == (784, 10)
    with torch.no_grad():
        logits = module(live.images)
    sk = logreg.predict(live.images)
    assert np.array_equal(logits.argmax(1).numpy(), sk)
    labels = live.labels.numpy()
    compressed = apply(module, Recipe(quant=QuantConfig(bits=4)), progress=False)
    with torch.no_grad():
        quantized = compressed.runtime(live.images).argmax(1).numpy()
    assert abs(np.mean(quantized == labels) - np.mean(sk == labels)) < 0.03


def test_mlp_to_torch_parity(live):
    mlp, _ = _tiny("MLPClassifier")
    module = mlp.to_torch()
    assert [type(m).__name__ for m in module] == ["Flatten", "Linear", "ReLU", "Linear"]
    with torch.no_grad():
        torch_labels = module(live.images).argmax(1).numpy()
    assert np.array_equal(torch_labels, mlp.predict(live.images))


@pytest.mark.parametrize(
    "name, hint",
    [
        ("RandomForestClassifier", "n_estimators"),
        ("KNeighborsClassifier", "stored images"),
        ("SVC", "support vectors"),
        ("HistGradientBoostingClassifier", "max_iter"),
    ],
)
def test_no_torch_form_says_which_techniques_apply(name, hint):
    model, _ = _tiny(name)
    with pytest.raises(NotImplementedError, match="no torch form") as info:
        model.to_torch()
    assert isinstance(info.value, thin.NoTorchForm)
    assert hint in str(info.value) and "Techniques that apply" in str(info.value)


# --------------------------------------------------------------------------- measuring


def _measured(model, **kwargs) -> Measurement:
    from lab import evaluate

    return evaluate(model, use_cache=False, **kwargs)


def test_a_thin_model_is_measured_by_the_one_pipeline(logreg):
    m = _measured(logreg, split="live", country="FRA")
    assert m.compression_ratio == 1.0
    assert m.n_images == 2000 and 0.7 < m.accuracy < 0.9
    assert m.artifact_bytes == logreg.path.stat().st_size
    assert m.parameters == 7850 and m.macs == 7840 and m.flops == 15680
    assert m.operations_kind == "MACs" and m.runtime == "scikit-learn"
    assert 0 < m.latency_ms_p50 <= m.latency_ms_p95
    assert m.throughput_ips > 0
    assert m.executes_as.startswith("scikit-learn ")
    assert m.executes_as.endswith(" LogisticRegression")
    assert m.model_hash == logreg.file_sha256[:16]
    assert m.train_seconds == logreg.train_seconds > 0 and logreg.quick
    assert logreg.n_train == 10_000
    if m.energy_kwh_per_1k is not None:
        assert m.co2_g_per_1k == pytest.approx(m.energy_kwh_per_1k * m.carbon_intensity_g_per_kwh)
    else:
        assert m.energy_source.startswith("unavailable")
    with pytest.raises(ValueError, match="live, val, test"):
        _measured(logreg, split="train")


def test_inputs_are_never_modified(logreg, live):
    images_before = live.images.clone()
    as_numpy = live.images.numpy().copy()
    frozen = as_numpy.copy()
    frozen.flags.writeable = False
    logreg.predict(live.images)
    logreg.predict(as_numpy)
    logreg.predict(frozen)  # read-only input works
    logreg.count_operations(as_numpy[:10])
    _measured(logreg, split="live", effort="quick")
    logreg.to_torch()
    assert torch.equal(live.images, images_before)
    assert np.array_equal(as_numpy, images_before.numpy())
    assert torch.equal(data.load_split("live").images, images_before)


def test_features_accepts_images_and_rows():
    images = torch.zeros(3, 1, 28, 28)
    assert thin.features(images).shape == (3, 784)
    assert thin.features(np.zeros((3, 784), dtype=np.float64)).dtype == np.float32
    assert thin.features(torch.zeros(3, 3, 32, 32)).shape == (3, 3 * 32 * 32)  # RGB images
    with pytest.raises(ValueError, match="N×C×H×W"):
        thin.features(torch.zeros(28, 28, 1, 1, 1))


def test_quick_effort_and_cancel(logreg):
    import threading

    from lab.measure import Cancelled

    m = _measured(logreg, split="live", effort="quick")
    assert m.effort == "quick"
    runs = int(next(n for n in m.notes if n.startswith("batch-1 latency")).split()[3])
    assert 5 <= runs <= 15 and len(m.latency_samples_ms) == runs
    with pytest.raises(ValueError, match="quick, full"):
        _measured(logreg, effort="thorough")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        _measured(logreg, split="live", cancel=stop)


def test_evaluate_measures_a_thin_model_like_a_torch_model(logreg):
    from lab import evaluate, recommend, zoo
    from lab.measure import Measurement
    from lab.techniques.configs import QuantConfig

    m = evaluate(logreg, split="live", effort="quick")
    assert isinstance(m, Measurement) and m.executes_as.startswith("scikit-learn")
    assert m.artifact_bytes == logreg.path.stat().st_size
    assert m.operations_kind == "MACs" and m.macs == 784 * 10
    assert m.train_seconds is not None and m.name == "LogisticRegression"
    assert evaluate(logreg, split="live", effort="quick").cached  # stored like the others
    with pytest.raises(ValueError, match="to_torch"):
        evaluate(logreg, QuantConfig(bits=4))
    x, y = _small_training(300)
    forest = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(x, y)
    raw = evaluate(forest, split="live", effort="quick")  # a plain fitted estimator works too
    assert raw.operations_kind.startswith("comparisons")
    cnn = evaluate(zoo.load("cnn"), QuantConfig(bits=4), effort="quick")
    chosen = recommend.recommend([m, raw, cnn], tolerance_pt=1.0, objective="bytes").chosen
    assert chosen is not None
