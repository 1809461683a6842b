"""Calling (or importing) the lab leaves the user's process as it was.

Every public entry point runs between two snapshots of process state — random streams
(torch, NumPy, Python), thread count, quantized engine, grad mode, default dtype,
environment — and of a user's model (weights, buffers, ``requires_grad``, every
submodule's ``training`` flag), with the model in train mode, in eval mode and in a mix.
A new entry point is one line in ``ENTRY_POINTS``; a new piece of state one line in
``_process_state``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lab
from lab import memory, store, training, zoo
from lab.deployment import compare_runtimes
from lab.learning import learning_curve
from lab.techniques import FinetuneConfig, PruneConfig, QuantConfig, Recipe, ResolutionConfig
from lab.techniques.distillation import distillation_loss
from lab.techniques.int8 import ENGINE
from lab.techniques.pruning import sensitivity_scan
from lab.techniques.resolution import at_resolution, check_runs_at

TINY_FINETUNE = FinetuneConfig(epochs=0.01, max_seconds=5)
# set by torch itself on the first (lazy) import of torch._dynamo, whoever triggers it
TORCH_OWN_ENV = {"TORCHINDUCTOR_CACHE_DIR"}


def _bytes(tensor: torch.Tensor) -> tuple:
    tensor = tensor.detach().cpu()
    return (str(tensor.dtype), tuple(tensor.shape), tensor.contiguous().numpy().tobytes())


def _process_state() -> dict[str, object]:
    """Everything process-wide a library could change behind its caller's back."""
    numpy_state = np.random.get_state()
    state = {
        "torch RNG": _bytes(torch.get_rng_state()),
        "NumPy RNG": (numpy_state[0], numpy_state[1].tobytes(), *numpy_state[2:]),
        "Python RNG": random.getstate(),
        "torch threads": torch.get_num_threads(),
        "torch inter-op threads": torch.get_num_interop_threads(),
        "quantized engine": torch.backends.quantized.engine,
        "grad mode": torch.is_grad_enabled(),
        "inference mode": torch.is_inference_mode_enabled(),
        "anomaly detection": torch.is_anomaly_enabled(),
        "default dtype": torch.get_default_dtype(),
        "deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32 matmul precision": torch.get_float32_matmul_precision(),
        "fused attention path": torch.backends.mha.get_fastpath_enabled(),
        "mkldnn enabled": torch.backends.mkldnn.enabled,
        "environment": {k: v for k, v in os.environ.items() if k not in TORCH_OWN_ENV},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for device in range(torch.cuda.device_count()):
            state[f"CUDA RNG {device}"] = _bytes(torch.cuda.get_rng_state(device))
    return state


def _model_state(model: nn.Module) -> dict[str, object]:
    """A model's weights and buffers, parameters' ``requires_grad`` and every module's mode."""
    return {
        "model weights and buffers": {k: _bytes(v) for k, v in model.state_dict().items()},
        "model requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "model devices": sorted({str(p.device) for p in model.parameters()}),
        "model training flags": {n or "<root>": m.training for n, m in model.named_modules()},
    }


def snapshot(model: nn.Module) -> dict[str, object]:
    return {**_process_state(), **_model_state(model)}


def changes(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Names of what changed; for a mapping (environment, flags, …) with the keys that did."""
    found = []
    for name, old in before.items():
        new = after.get(name)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            name = f"{name}: {', '.join(map(str, keys))}"
        found.append(name)
    return found


def _user_model(mode: str) -> nn.Module:
    """A conv net with batch norm and dropout (modes matter), global pooling (any size)."""
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(8, 10),
    )
    if mode == "eval":
        return model.eval()
    model.train()
    if mode == "mixed":  # a user's frozen batch norm inside a training model
        model[1].eval()
    return model


def _fit_another_model(model: nn.Module, tmp_path: Path) -> None:
    """fit trains its argument in place by design: train a second model, watch the user's."""
    config = training.TrainConfig(max_batches=3)
    training.fit(zoo.build("mlp"), config, device="cpu", progress=False)


def _load(name: str) -> nn.Module:
    try:
        return zoo.load(name)
    except zoo.CheckpointError as exc:
        pytest.skip(str(exc))


def _apply(recipe: Recipe) -> Callable[[nn.Module, Path], object]:
    return lambda model, tmp_path: lab.apply(model, recipe, progress=False)


def _distill(model: nn.Module, tmp_path: Path) -> None:
    loss = distillation_loss(model)
    student = zoo.build("cnn").eval()  # its dropout would draw from the caller's stream
    loss(student, torch.zeros(4, 1, 28, 28), torch.arange(4)).backward()


def _sizes_for(model: nn.Module, tmp_path: Path) -> object:
    from widgets.sliders import ResolutionSlider

    return ResolutionSlider.sizes_for(model)


def _load_model(model: nn.Module, tmp_path: Path) -> object:
    from lab.loading import load_model

    torch.save(model.state_dict(), tmp_path / "weights.pt")
    return load_model(tmp_path / "weights.pt", architecture=model)


def _lazy_images(model: nn.Module, tmp_path: Path) -> object:
    from lab.datasets import as_data

    pixels = np.arange(30 * 28 * 28, dtype=np.int64).reshape(30, 1, 28, 28) % 256
    data = as_data((pixels.astype(np.uint8), np.arange(30) % 2), lazy=True)
    return data.split("live").images[0:4]


def _text_transformer_flops(model: nn.Module, tmp_path: Path) -> object:
    from lab.flops import count_flops
    from lab.text import TextTransformer, sentiment_data

    data = sentiment_data(30, length=8)
    with torch.random.fork_rng(devices=[]):  # building a model draws its initial weights
        text_model = TextTransformer(data.vocab_size, 2, d_model=16, heads=2, ffn=16).eval()
    return count_flops(text_model, data.example(1))


# name → call(user_model, tmp_path). A new public entry point is one more line.
ENTRY_POINTS: dict[str, Callable[[nn.Module, Path], object]] = {
    "zoo.build": lambda model, tmp_path: zoo.build("cnn"),
    "zoo.load": lambda model, tmp_path: _load("mlp"),
    "training.fit": _fit_another_model,
    "training.accuracy": lambda model, tmp_path: training.accuracy(model, "live"),
    "apply(prune)": _apply(Recipe(prune=PruneConfig(0.5))),
    "apply(channel prune)": _apply(Recipe(prune=PruneConfig(0.5, structure="channel"))),
    "apply(quant)": _apply(Recipe(quant=QuantConfig(bits=4))),
    "apply(int8 activations)": _apply(Recipe(quant=QuantConfig(bits=8, activations=True))),
    "apply(resolution)": _apply(Recipe(resolution=ResolutionConfig(14))),
    "apply(prune+finetune)": _apply(Recipe(prune=PruneConfig(0.5), finetune=TINY_FINETUNE)),
    "apply(finetune)": _apply(Recipe(finetune=TINY_FINETUNE)),
    "apply(QAT)": _apply(Recipe(quant=QuantConfig(bits=4), finetune=TINY_FINETUNE)),
    "apply(distillation)": _apply(
        Recipe(
            prune=PruneConfig(0.5),
            finetune=FinetuneConfig(epochs=0.01, max_seconds=5, teacher="original"),
        )
    ),
    "evaluate": lambda model, tmp_path: lab.evaluate(
        model, split="live", effort="quick", store=store.ResultStore(tmp_path / "s.sqlite")
    ),
    "check_runs_at": lambda model, tmp_path: check_runs_at(model, 14),
    "at_resolution": lambda model, tmp_path: at_resolution(model, ResolutionConfig(14)),
    "distillation_loss": _distill,
    "sensitivity_scan": lambda model, tmp_path: sensitivity_scan(model, (0.5,), progress=False),
    "ResolutionSlider.sizes_for": _sizes_for,
    "memory.planned_peak": lambda model, tmp_path: memory.planned_peak(
        model, torch.zeros(1, 1, 28, 28), batch=3
    ),
    "memory.measured_peak": lambda model, tmp_path: memory.measured_peak(
        model, torch.zeros(1, 1, 28, 28)
    ),
    "learning_curve(distilled)": lambda model, tmp_path: learning_curve(
        "mlp-s", sizes=[10], repeats=1, steps=2, split="live", teacher=model
    ),
    "compare_runtimes": lambda model, tmp_path: compare_runtimes(
        model, batches=(1,), rounds=1, runtimes=("torch fp32", "torch int8")
    ),
    "loading.load_model": _load_model,
    "as_data(lazy=True)": _lazy_images,
    "text + count_flops": _text_transformer_flops,
}


# Leaks in files outside this change, allowed until fixed there: entry → what changes.
# When one is fixed the test fails and asks for its line here to be removed.
KNOWN_LEAKS: dict[str, set[str]] = {}  # entry point → state it is known to change (none)


def _other_engine(than: str | None = None) -> str:
    """A supported quantized engine other than ``than`` (default: the current one)."""
    than = than or torch.backends.quantized.engine
    engines = [e for e in torch.backends.quantized.supported_engines if e not in ("none", than)]
    if not engines:
        pytest.skip(f"this torch supports no quantized engine besides {than}")
    return engines[0]


@pytest.fixture(autouse=True)
def _unusual_start():
    """Start from settings a library would not pick by itself, so that setting them is seen:
    seeded random streams, a non-default thread count and quantized engine."""
    threads, engine = torch.get_num_threads(), torch.backends.quantized.engine
    unusual_engine = _other_engine(than=ENGINE)  # to_int8 uses ENGINE
    random.seed(12345)
    np.random.seed(12345)
    torch.manual_seed(12345)
    torch.set_num_threads(1 if threads > 1 else 2)
    torch.backends.quantized.engine = unusual_engine
    yield
    torch.set_num_threads(threads)
    torch.backends.quantized.engine = engine


@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_entry_point_leaves_process_and_model_state_alone(entry, mode, tmp_path):
    model = _user_model(mode)
    before = snapshot(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ENTRY_POINTS[entry](model, tmp_path)
    changed = changes(before, snapshot(model))
    known = KNOWN_LEAKS.get(entry, set())
    assert [c for c in changed if c not in known] == [], f"{entry} changed the caller's state"
    fixed = known - set(changed)
    assert not fixed, f"{entry} no longer changes {fixed}: remove it from KNOWN_LEAKS"


def test_snapshot_sees_each_kind_of_change():
    """The oracle is not blind: each thing the entry points must not do is detected."""
    model = _user_model("mixed")
    mutations = {
        "torch RNG": lambda: torch.rand(1),
        "NumPy RNG": lambda: np.random.rand(),
        "Python RNG": lambda: random.random(),
        "quantized engine": lambda: setattr(torch.backends.quantized, "engine", _other_engine()),
        "torch threads": lambda: torch.set_num_threads(torch.get_num_threads() + 1),
        "model training flags": lambda: model.train(),
        "model weights and buffers": lambda: model(torch.zeros(2, 1, 8, 8)),  # BN statistics
    }
    for name, mutate in mutations.items():  # the fixture restores threads and engine
        before = snapshot(model)
        mutate()
        assert any(c.startswith(name) for c in changes(before, snapshot(model))), name


def test_training_stays_deterministic_with_its_seed():
    weights = []
    for start in (1, 2):  # different caller streams must not matter
        torch.manual_seed(start)
        model = zoo.build("cnn")
        config = training.TrainConfig(max_batches=3, augment=True)  # dropout + augmentation
        training.fit(model, config, device="cpu", progress=False)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


IMPORT_CHECK = """
import json, torch
torch.set_num_threads(3)  # a value no library would pick by itself
probe = lambda: [torch.get_num_threads(), torch.backends.quantized.engine,
                 str(torch.get_default_dtype()), torch.is_grad_enabled(),
                 torch.get_rng_state().sum().item()]
before = probe()
{imports}
print(json.dumps([before, probe()]))
"""

IMPORTS = {
    "import lab": "import lab",
    "every public lab module": "import lab\nfor name in lab.__all__: getattr(lab, name)",
    "lab.techniques": "import lab.techniques, lab.techniques.int8, lab.techniques.pruning",
    "widgets": "import widgets, widgets.dashboard",
}


@pytest.mark.parametrize("imports", IMPORTS)
def test_importing_changes_nothing(imports):
    env = {k: v for k, v in os.environ.items() if k != "LAB_THREADS"}  # that one is a request
    script = IMPORT_CHECK.format(imports=IMPORTS[imports])
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert after == before
