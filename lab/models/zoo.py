"""The model zoo: named architectures, their training recipes and their shipped checkpoints.

Each checkpoint ``lab/checkpoints/NAME.pt`` ships with a model card ``NAME.json``
(accuracy on val/test, parameter count, seed, the exact command that reproduces
it, SHA-256). Loading uses ``torch.load(weights_only=True)`` after checking the hash.

Cards also carry what training cost (:data:`TRAIN_ENERGY_FIELDS`): its energy and CO2
measured with codecarbon through :mod:`lab.energy`, with the power source, the grid's
country, the CPU and the load. ``python -m lab train NAME`` measures them while it
trains; ``python -m lab train NAME --energy-only`` re-runs the recipe into a temporary
directory and records that re-run's figures in the shipped card, keeping the shipped
checkpoint (``train_energy_run`` says which run the figures come from).
:func:`cards` puts every card in one DataFrame.

Example:
    >>> from lab import zoo
    >>> sorted(zoo.names())
    ['cnn', 'mlp', 'mobile', 'teacher']
    >>> model = zoo.load("cnn")  # a fresh copy; yours to change
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from lab.datasets import fashion as data
from lab.meters import energy, machine
from lab.models import architectures
from lab.models.training import TrainConfig, TrainReport, accuracy, fit

__all__ = [
    "CHECKPOINT_DIR",
    "TRAIN_ENERGY_FIELDS",
    "CheckpointError",
    "ModelSpec",
    "build",
    "card",
    "cards",
    "load",
    "names",
    "parameter_count",
    "record_training_energy",
    "spec",
    "train_and_save",
]

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"

# What a card records about the energy of training (besides train_seconds, the duration
# of the run that produced the checkpoint):
TRAIN_ENERGY_FIELDS = (
    "train_energy_kwh",  # CPU + RAM energy of the measured run, kWh (None if unavailable)
    "train_cpu_kwh",  # its CPU share
    "train_ram_kwh",  # its (modelled) RAM share
    "train_co2_g",  # train_energy_kwh × train_carbon_intensity_g_per_kwh
    "train_country",  # whose grid prices the CO2 (ISO alpha-3)
    "train_carbon_intensity_g_per_kwh",  # codecarbon's figure for that country
    "train_energy_source",  # lab.energy's provenance, or "unavailable: <reason>"
    "train_energy_seconds",  # duration of the measured run (codecarbon's task)
    "train_machine",  # CPU model
    "train_threads",  # torch threads
    "train_load_1min",  # the machine's 1-min load average [at start, at end]
    "train_energy_measured_at",  # date of the measured run
    "train_energy_run",  # which run the figures come from
)
_SHA256_HEX = re.compile("[0-9a-fA-F]{64}")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or does not match its model card."""


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry: how to build the network and how it was trained."""

    name: str
    description: str
    factory: Callable[[], nn.Module]
    train: TrainConfig = field(default_factory=TrainConfig)


_SPECS = {
    s.name: s
    for s in [
        ModelSpec(
            "cnn",
            "default lab model: 3-stage CNN (32-64-128), 3x3 adaptive pooling",
            lambda: architectures.SmallCNN(((32,), (64,), (128,)), dropout=0.1, head_grid=3),
            TrainConfig(epochs=15, lr=0.05, weight_decay=3e-4, augment=True, shift=0),
        ),
        ModelSpec(
            "teacher",
            "deeper, 3x costlier CNN (32 | 64-64 | 128-128), 3x3 adaptive pooling",
            lambda: architectures.SmallCNN(((32,), (64, 64), (128, 128)), dropout=0.3, head_grid=3),
            TrainConfig(epochs=15, lr=0.05, augment=True, shift=1),
        ),
        ModelSpec(
            "mobile",
            "MobileNetV1-style depthwise-separable CNN",
            lambda: architectures.MobileNetLike(head_grid=2),  # stride-2 first block: CPU-friendly
            TrainConfig(epochs=12, lr=0.05, weight_decay=2e-4, augment=True),
        ),
        ModelSpec(
            "mlp",
            "LeNet-300-100 fully connected (Deep Compression's MNIST baseline)",
            lambda: architectures.LeNet300100(),
            TrainConfig(epochs=20, lr=0.02, weight_decay=1e-4),
        ),
    ]
}


DATA = "fashion-mnist"  # the fingerprint of the data every zoo model was trained on


def fits(data: object) -> bool:
    """Whether the zoo's models were made for ``data`` (a :class:`lab.datasets.Data`): they
    read 1×28×28 Fashion-MNIST images and predict its 10 classes."""
    return getattr(data, "fingerprint", None) == DATA


def names() -> list[str]:
    """Names of the zoo's models."""
    return list(_SPECS)


def spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``."""
    if name not in _SPECS:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(_SPECS)}")
    return _SPECS[name]


def build(name: str) -> nn.Module:
    """A freshly initialised (untrained) network of the zoo architecture ``name``.

    Always the same weights (initialised from seed 0); the caller's random stream is
    left as it was.
    """
    factory = spec(name).factory
    with torch.random.fork_rng(devices=[]):  # the factories initialise on the CPU
        torch.default_generator.manual_seed(0)
        return factory()


def parameter_count(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def _paths(name: str, directory: Path | None = None) -> tuple[Path, Path]:
    directory = Path(directory) if directory else CHECKPOINT_DIR
    return directory / f"{name}.pt", directory / f"{name}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _read_card(card_path: Path, name: str) -> dict:
    """The parsed card at ``card_path``; CheckpointError naming the file if it is not a JSON object."""
    retrain = f"restore it (git checkout) or retrain: python -m lab train {name}"
    try:
        meta = json.loads(card_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError(
            f"model card {card_path} is not UTF-8 text (byte {exc.start}); {retrain}"
        ) from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"model card {card_path} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); {retrain}"
        ) from exc
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"model card {card_path} must be a JSON object ({{...}}), found {_json_type(meta)}; "
            f"{retrain}"
        )
    return meta


def _card_sha256(meta: dict, card_path: Path, name: str) -> str:
    """The card's ``sha256`` (lower-case hex); CheckpointError if absent or malformed."""
    digest = meta.get("sha256")
    if isinstance(digest, str) and _SHA256_HEX.fullmatch(digest):
        return digest.lower()
    problem = "has no" if "sha256" not in meta else f"has a malformed ({digest!r})"
    raise CheckpointError(
        f'model card {card_path} {problem} "sha256" field: it must hold the 64 hex digits of '
        f"{name}.pt's SHA-256. Restore the card (git checkout) or retrain: python -m lab train {name}"
    )


def card(name: str, directory: Path | None = None) -> dict:
    """The model card (a dict) of checkpoint ``name``.

    Raises:
        CheckpointError: when the card is missing, not UTF-8 JSON, or not a JSON object.
    """
    spec(name)
    _, card_path = _paths(name, directory)
    if not card_path.is_file():
        raise CheckpointError(
            f"no model card for {name!r} at {card_path}; train it with: python -m lab train {name}"
        )
    return _read_card(card_path, name)


def _verified_weights(name: str, weights_path: Path, expected: str) -> None:
    """CheckpointError unless ``weights_path`` exists, is not empty and has hash ``expected``."""
    if not weights_path.is_file():
        raise CheckpointError(
            f"checkpoint {weights_path} is missing; run: python -m lab train {name}"
        )
    if weights_path.stat().st_size == 0:
        raise CheckpointError(
            f"checkpoint {weights_path} is empty (0 bytes); restore it (git checkout) or "
            f"retrain: python -m lab train {name}"
        )
    digest = _sha256(weights_path)
    if digest != expected:
        raise CheckpointError(
            f"checkpoint {weights_path} is corrupt or was replaced: SHA-256 {digest[:12]}… but its "
            f"model card expects {expected[:12]}…. Restore it (git checkout) or retrain: "
            f"python -m lab train {name}"
        )


def load(name: str, directory: Path | None = None) -> nn.Module:
    """The trained model ``name`` in eval mode, after checking the checkpoint's SHA-256.

    Raises:
        ValueError: for an unknown name (the message lists the zoo).
        CheckpointError: when the card or the checkpoint is missing, unreadable or
            malformed, the checkpoint's hash differs from the card, or it does not fit
            the architecture; the message names the file and what is wrong.
    """
    weights_path, card_path = _paths(name, directory)
    meta = card(name, directory)
    _verified_weights(name, weights_path, _card_sha256(meta, card_path, name))
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        model = build(name)
        model.load_state_dict(state)
    except Exception as exc:  # unpickling errors, shape mismatches
        raise CheckpointError(f"checkpoint {weights_path} cannot be loaded: {exc}") from exc
    return model.eval()


def _measured_fit(
    model: nn.Module, recipe: TrainConfig, progress: bool, country: str
) -> tuple[TrainReport, dict]:
    """``fit(model, recipe)`` as one codecarbon task; its report and the card's energy fields."""
    country = energy.validate_country(country)
    reports: list[TrainReport] = []
    load_start = machine.load_average()
    reading = energy.measure_energy(lambda: reports.append(fit(model, recipe, progress=progress)))
    intensity = energy.carbon_intensity(country)
    if math.isnan(intensity):
        intensity = None
    co2 = None if reading.kwh is None or intensity is None else reading.kwh * intensity
    fields = {
        "train_energy_kwh": reading.kwh,
        "train_cpu_kwh": reading.cpu_kwh,
        "train_ram_kwh": reading.ram_kwh,
        "train_co2_g": co2,
        "train_country": country,
        "train_carbon_intensity_g_per_kwh": intensity,
        "train_energy_source": reading.provenance,
        "train_energy_seconds": None if reading.seconds is None else round(reading.seconds, 2),
        "train_machine": machine.cpu_model(),
        "train_threads": torch.get_num_threads(),
        "train_load_1min": [load_start, machine.load_average()],
        "train_energy_measured_at": time.strftime("%Y-%m-%d"),
        "train_energy_run": "this checkpoint's own training run",
    }
    return reports[0], fields


def train_and_save(
    name: str,
    directory: Path | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    country: str = energy.DEFAULT_COUNTRY,
) -> dict:
    """Train zoo model ``name`` with its recipe, write ``NAME.pt`` and ``NAME.json``; return the card.

    Training runs as one codecarbon task (:func:`lab.energy.measure_energy`): the card
    records its energy, and its CO2 priced with ``country``'s grid
    (:data:`TRAIN_ENERGY_FIELDS`). If codecarbon fails, training still runs and
    ``train_energy_source`` says ``unavailable: <reason>``.
    """
    recipe = config or spec(name).train
    model = build(name)
    report, energy_fields = _measured_fit(model, recipe, progress, country)
    model = model.cpu().eval()
    weights_path, card_path = _paths(name, directory)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), weights_path)
    meta = {
        "name": name,
        "description": spec(name).description,
        "accuracy": {
            "val": round(accuracy(model, "val"), 4),
            "test": round(accuracy(model, "test"), 4),
        },
        "parameters": parameter_count(model),
        "seed": recipe.seed,
        "command": f"python -m lab train {name}",
        "train_config": recipe.to_dict(),
        "train_seconds": round(report.seconds, 1),
        "train_device": report.device,
        **energy_fields,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "trained_at": time.strftime("%Y-%m-%d"),
        "input": f"1x{data.NATIVE_SIZE}x{data.NATIVE_SIZE}, normalized (mean {data.MEAN}, std {data.STD})",
        "sha256": _sha256(weights_path),
    }
    card_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _recipe_differences(card_config: dict, recipe: TrainConfig) -> list[str]:
    """Keys where ``recipe`` differs from a card's ``train_config`` (keys the card lacks are skipped)."""
    ours = json.loads(json.dumps(recipe.to_dict()))
    if not ours.get("sizes"):  # () means the data's native size
        ours["sizes"] = [data.NATIVE_SIZE]
    return [key for key, value in card_config.items() if key in ours and ours[key] != value]


def record_training_energy(
    name: str,
    directory: Path | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    country: str = energy.DEFAULT_COUNTRY,
) -> dict:
    """Re-run the training of checkpoint ``name`` and record its time, energy and CO2 in the card.

    The re-run trains into a temporary directory; the checkpoint in ``directory`` (default
    :data:`CHECKPOINT_DIR`) is never replaced. Its card gains :data:`TRAIN_ENERGY_FIELDS`,
    with ``train_energy_run`` saying whether the re-run reproduced the checkpoint bit for
    bit (same SHA-256) or, if not, that the figures come from a re-run of the recipe on this
    machine (with its SHA-256 and test accuracy). Returns the updated card.
    """
    weights_path, card_path = _paths(name, directory)
    meta = card(name, directory)
    shipped = _card_sha256(meta, card_path, name)
    _verified_weights(name, weights_path, shipped)
    recipe = config or spec(name).train
    with tempfile.TemporaryDirectory(prefix=f"lab-rerun-{name}-") as tmp:
        rerun = train_and_save(name, Path(tmp), recipe, progress=progress, country=country)
    fields = {key: rerun[key] for key in TRAIN_ENERGY_FIELDS}
    differs = _recipe_differences(meta.get("train_config", {}), recipe)
    same_recipe = (
        "the card's recipe"
        if not differs
        else "a recipe differing from the card's in " + ", ".join(differs)
    )
    when = f"on {rerun['trained_at']} on this machine ({rerun['train_machine']})"
    if rerun["sha256"] == shipped:
        fields["train_energy_run"] = (
            f"re-run of {same_recipe} {when}: reproduced this checkpoint bit for bit "
            f"(same SHA-256), in {rerun['train_seconds']} s"
        )
    else:
        fields["train_energy_run"] = (
            f"re-run of {same_recipe} into a temporary directory {when}, in "
            f"{rerun['train_seconds']} s; its weights differ from this checkpoint's "
            f"(SHA-256 {rerun['sha256'][:12]}..., test accuracy {rerun['accuracy']['test']:.2%}), "
            "which is kept: train_seconds is the original run's"
        )
    updated = {k: v for k, v in meta.items() if k not in TRAIN_ENERGY_FIELDS}
    position = list(updated).index("train_device") + 1 if "train_device" in updated else None
    items = list(updated.items())
    if position is None:
        items += list(fields.items())
    else:
        items[position:position] = list(fields.items())
    updated = dict(items)
    card_path.write_text(json.dumps(updated, indent=2) + "\n")
    return updated


def cards(directory: Path | None = None):
    """Every zoo model's card as one pandas DataFrame row (index: name).

    Columns: description, parameters, val and test accuracy, train_seconds, the
    :data:`TRAIN_ENERGY_FIELDS` (None where a card lacks them) and sha256; a model
    whose card cannot be read has its ``error``.
    """
    import pandas as pd

    rows = []
    for name in names():
        try:
            meta = card(name, directory)
        except CheckpointError as exc:
            rows.append({"name": name, "error": str(exc)})
            continue
        accuracy_ = meta.get("accuracy") or {}
        row = {
            "name": name,
            "description": meta.get("description"),
            "parameters": meta.get("parameters"),
            "val": accuracy_.get("val"),
            "test": accuracy_.get("test"),
            "train_seconds": meta.get("train_seconds"),
        }
        row.update({key: meta.get(key) for key in TRAIN_ENERGY_FIELDS})
        row["sha256"] = meta.get("sha256")
        row["error"] = None
        rows.append(row)
    return pd.DataFrame(rows).set_index("name")
