"""Model zoo: architectures, checkpoints, model cards, training."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch

from lab import measure, training, zoo

CARD_FIELDS = {"name", "accuracy", "parameters", "seed", "command", "sha256", "train_config"}


@pytest.mark.parametrize("name", zoo.names())
def test_every_model_runs_natively_at_lower_resolution(name):
    model = zoo.build(name).eval()
    flops = {size: measure.count_flops(model, size) for size in (28, 14, 7)}
    for size in (28, 14, 7, 4):
        assert model(torch.zeros(2, 1, size, size)).shape == (2, 10)
    assert flops[28] > flops[14] > flops[7] > 0  # fewer pixels really cost less


def test_default_cnn_is_small_enough():
    assert zoo.parameter_count(zoo.build("cnn")) <= 110_000


def test_unknown_model_names_the_zoo():
    with pytest.raises(ValueError, match="cnn, teacher, mobile, mlp"):
        zoo.build("resnet")


@pytest.mark.parametrize("name", zoo.names())
def test_shipped_checkpoints_match_their_cards(name):
    try:
        meta = zoo.card(name)
    except zoo.CheckpointError as exc:
        pytest.skip(str(exc))
    assert CARD_FIELDS <= set(meta)
    model = zoo.load(name)
    assert zoo.parameter_count(model) == meta["parameters"]
    assert meta["command"] == f"python -m lab train {name}"


def test_shipped_accuracy_targets(trained_cnn):
    targets = {"cnn": 0.91, "teacher": 0.93, "mobile": 0.89, "mlp": 0.87}
    for name, target in targets.items():
        try:
            meta = zoo.card(name)
        except zoo.CheckpointError:
            continue
        assert meta["accuracy"]["test"] >= target, name
    # the card's number is real: re-measure the cnn on the full test set
    assert abs(training.accuracy(trained_cnn, "test") - zoo.card("cnn")["accuracy"]["test"]) < 1e-3


def test_corrupt_checkpoint_gets_a_clear_error(tmp_path, trained_cnn):
    for suffix in (".pt", ".json"):
        shutil.copy(zoo.CHECKPOINT_DIR / f"cnn{suffix}", tmp_path / f"cnn{suffix}")
    payload = bytearray((tmp_path / "cnn.pt").read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    (tmp_path / "cnn.pt").write_bytes(bytes(payload))
    with pytest.raises(zoo.CheckpointError, match="corrupt"):
        zoo.load("cnn", tmp_path)


def test_missing_checkpoint_says_how_to_train(tmp_path):
    with pytest.raises(zoo.CheckpointError, match="python -m lab train mlp"):
        zoo.load("mlp", tmp_path)


def test_load_returns_an_independent_copy(trained_cnn):
    other = zoo.load("cnn")
    with torch.no_grad():
        next(other.parameters()).zero_()
    assert next(trained_cnn.parameters()).abs().sum() > 0


def test_train_and_save_writes_a_verifiable_checkpoint(tmp_path):
    config = replace(zoo.spec("mlp").train, max_batches=5)
    meta = zoo.train_and_save("mlp", tmp_path, config, progress=False)
    assert json.loads((tmp_path / "mlp.json").read_text())["sha256"] == meta["sha256"]
    assert zoo.load("mlp", tmp_path)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_training_is_seeded():
    runs = []
    for _ in range(2):
        model = zoo.build("mlp")
        training.fit(model, training.TrainConfig(max_batches=3), device="cpu", progress=False)
        runs.append(model.fc1.weight.detach().clone())
    assert torch.equal(runs[0], runs[1])


def test_augmentation_shifts_and_flips_exactly():
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    out = training.augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    # every output pixel is an input pixel of the same image or the padding value
    for i in range(2):
        values = set(out[i].flatten().tolist())
        assert values <= set(x[i].flatten().tolist()) | {float(x.min())}
