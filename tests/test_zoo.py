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


# ------------------------------------------------- broken model cards and checkpoints


def _without_sha(text: str) -> str:
    return json.dumps({k: v for k, v in json.loads(text).items() if k != "sha256"})


def _numeric_sha(text: str) -> str:
    return json.dumps({**json.loads(text), "sha256": 42})


# Each way a card or checkpoint can be broken: new card (text, bytes or a function of
# the shipped text; None keeps it), new checkpoint bytes (None keeps them), the file the
# message must name and a phrase it must contain. A new kind of damage is one more line.
BROKEN = {
    "card is not JSON": ("{'name': 'mlp',", None, "mlp.json", "not valid JSON"),
    "card is truncated": (lambda text: text[: len(text) // 2], None, "mlp.json", "not valid JSON"),
    "card is empty": ("", None, "mlp.json", "not valid JSON"),
    "card is a list": ('["sha256"]', None, "mlp.json", "must be a JSON object"),
    "card is null": ("null", None, "mlp.json", "found null"),
    "card is not UTF-8": (b"\xff\xfe{}", None, "mlp.json", "not UTF-8"),
    "card has no sha256": (_without_sha, None, "mlp.json", 'has no "sha256"'),
    "card has a bad sha256": (_numeric_sha, None, "mlp.json", "malformed"),
    "checkpoint is empty": (None, b"", "mlp.pt", "empty (0 bytes)"),
    "checkpoint is altered": (None, b"not a checkpoint", "mlp.pt", "corrupt or was replaced"),
}


@pytest.fixture
def mlp_copy(tmp_path):
    """A copy of the shipped mlp checkpoint and card in a tmp directory."""
    for suffix in (".pt", ".json"):
        source = zoo.CHECKPOINT_DIR / f"mlp{suffix}"
        if not source.is_file():
            pytest.skip(f"{source} is not there yet")
        shutil.copy(source, tmp_path / f"mlp{suffix}")
    return tmp_path


def _damage(directory, new_card, new_weights) -> None:
    card_path = directory / "mlp.json"
    if callable(new_card):
        new_card = new_card(card_path.read_text())
    if isinstance(new_card, str):
        card_path.write_text(new_card)
    elif isinstance(new_card, bytes):
        card_path.write_bytes(new_card)
    if new_weights is not None:
        (directory / "mlp.pt").write_bytes(new_weights)


def test_intact_copy_loads(mlp_copy):
    """The fixture is sound: without damage the copy loads (so each case below can fail)."""
    assert zoo.load("mlp", directory=mlp_copy)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize("case", BROKEN)
def test_broken_card_or_checkpoint_is_a_checkpoint_error_naming_the_file(mlp_copy, case):
    new_card, new_weights, culprit, phrase = BROKEN[case]
    _damage(mlp_copy, new_card, new_weights)
    with pytest.raises(zoo.CheckpointError) as err:
        zoo.load("mlp", directory=mlp_copy)
    message = str(err.value)
    assert str(mlp_copy / culprit) in message and phrase in message
    assert "python -m lab train mlp" in message  # and how to repair it


UNREADABLE_CARDS = [c for c, v in BROKEN.items() if v[2].endswith(".json") and "sha" not in c]


@pytest.mark.parametrize("case", UNREADABLE_CARDS)
def test_card_reports_an_unreadable_card_too(mlp_copy, case):
    new_card, new_weights, _, phrase = BROKEN[case]
    _damage(mlp_copy, new_card, new_weights)
    with pytest.raises(zoo.CheckpointError, match=phrase):
        zoo.card("mlp", directory=mlp_copy)


def test_build_is_deterministic_and_leaves_the_callers_random_stream():
    torch.manual_seed(1234)
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    first = zoo.build("cnn").state_dict()
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream went on untouched
    torch.manual_seed(99)
    second = zoo.build("cnn").state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


# ------------------------------------------------- what training cost (energy, CO2)


@pytest.mark.parametrize("name", zoo.names())
def test_cards_record_the_energy_of_training(name):
    try:
        meta = zoo.card(name)
    except zoo.CheckpointError as exc:
        pytest.skip(str(exc))
    assert set(zoo.TRAIN_ENERGY_FIELDS) <= set(meta), "run: python -m lab train NAME --energy-only"
    assert meta["train_machine"] and meta["train_energy_measured_at"] and meta["train_energy_run"]
    if meta["train_energy_source"].startswith("unavailable: "):
        assert meta["train_energy_kwh"] is None
        return
    assert meta["train_energy_source"].startswith("codecarbon ")
    assert meta["train_energy_kwh"] > 0 and meta["train_energy_seconds"] > 0
    assert meta["train_cpu_kwh"] + meta["train_ram_kwh"] == pytest.approx(meta["train_energy_kwh"])
    assert meta["train_co2_g"] == pytest.approx(
        meta["train_energy_kwh"] * meta["train_carbon_intensity_g_per_kwh"]
    )


def test_cards_frame_has_one_row_per_model_with_the_training_energy():
    frame = zoo.cards()
    assert list(frame.index) == zoo.names()
    assert {"test", "parameters", "train_seconds", *zoo.TRAIN_ENERGY_FIELDS} <= set(frame.columns)
    for name in zoo.names():
        try:
            meta = zoo.card(name)
        except zoo.CheckpointError:
            continue
        assert frame.loc[name, "test"] == meta["accuracy"]["test"]
        recorded, shown = meta.get("train_energy_kwh"), frame.loc[name, "train_energy_kwh"]
        assert shown == recorded or (recorded is None and shown != shown)  # None shows as NaN
