"""Bad input is rejected clearly; good input in any reasonable form is accepted.

Property-based (Hypothesis) over the configs and ``Recipe.from_json``: whatever a user
types either becomes a valid, canonical, round-tripping recipe or raises a
:class:`ConfigError` — never a ``TypeError``/``AttributeError`` from deep inside, and
never a silently misread value (a string taken as a boolean, NaN taken as a number).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from lab import apply, evaluate, zoo
from lab.datasets import as_data
from lab.interface import ModelInterfaceError, check_model
from lab.techniques.configs import (
    ConfigError,
    FinetuneConfig,
    PruneConfig,
    QuantConfig,
    Recipe,
    ResolutionConfig,
)

CONFIGS = {
    "prune": PruneConfig,
    "quant": QuantConfig,
    "resolution": ResolutionConfig,
    "finetune": FinetuneConfig,
}
BOOLEAN_FIELDS = {("quant", "symmetric"), ("quant", "activations"), ("finetune", "augment")}
FINITE_FIELDS = {
    ("prune", "sparsity"),
    ("finetune", "epochs"),
    ("finetune", "max_seconds"),
    ("finetune", "lr"),
    ("finetune", "temperature"),
    ("finetune", "distill_weight"),
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 40)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "no", "false", "yes", "uniform", "kmeans", "channel", "conv1"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = {part: list(kind.__dataclass_fields__) for part, kind in CONFIGS.items()}
part_payloads = st.sampled_from(sorted(CONFIGS)).flatmap(
    lambda part: st.tuples(
        st.just(part),
        st.dictionaries(st.sampled_from(field_names[part]), json_values, max_size=3),
    )
)
recipe_payloads = st.lists(part_payloads, max_size=4).map(dict)


def _assert_well_typed(recipe: Recipe) -> None:
    for part, name in BOOLEAN_FIELDS:
        config = getattr(recipe, part)
        if config is not None:
            assert type(getattr(config, name)) is bool
    for part, name in FINITE_FIELDS:
        config = getattr(recipe, part)
        value = None if config is None else getattr(config, name)
        if value is not None:
            assert type(value) is float and math.isfinite(value)
    if recipe.quant is not None:
        assert type(recipe.quant.bits) is int and 1 <= recipe.quant.bits <= 8
        assert all(type(s) is str for s in recipe.quant.skip)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(recipe_payloads, json_values))
def test_any_json_is_a_valid_canonical_recipe_or_a_config_error(payload):
    text = json.dumps(payload)
    try:
        recipe = Recipe.from_json(text)
    except ConfigError as exc:
        assert str(exc)  # says something
        return
    _assert_well_typed(recipe)
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe and hash(again) == hash(recipe)
    assert again.to_json() == recipe.to_json()


@settings(max_examples=300, deadline=None)
@given(
    part=st.sampled_from(sorted(CONFIGS)),
    data=st.data(),
)
def test_each_field_accepts_only_what_it_documents(part, data):
    name = data.draw(st.sampled_from(field_names[part]))
    value = data.draw(
        json_values
        | st.sampled_from([math.nan, math.inf, -math.inf, np.int64(4), np.float32(0.5), "1"])
    )
    try:
        config = CONFIGS[part](**{name: value})
    except ConfigError:
        return
    _assert_well_typed(Recipe(**{part: config}))


@pytest.mark.parametrize(
    "make",
    [
        lambda: QuantConfig(bits=4, symmetric="no"),
        lambda: QuantConfig(bits=4, activations="false"),
        lambda: QuantConfig(bits=4, activations=1),
        lambda: FinetuneConfig(augment="yes"),
        lambda: FinetuneConfig(lr=math.nan),
        lambda: FinetuneConfig(max_seconds=math.nan),
        lambda: FinetuneConfig(epochs=math.nan),
        lambda: FinetuneConfig(epochs=math.inf),
        lambda: FinetuneConfig(epochs="1"),
        lambda: PruneConfig(per_layer=[0.5]),
        lambda: PruneConfig(per_layer={"conv": math.nan}),
        lambda: QuantConfig(per_layer={"fc": 4.0}),
        lambda: QuantConfig(skip=3),
        lambda: ResolutionConfig(14.0),
        lambda: Recipe.from_json('{"quant":{"bits":8,"activations":"false"}}'),
        lambda: Recipe.from_json('{"prune":{"foo":1}}'),
        lambda: Recipe.from_json('{"prune":0.5}'),
        lambda: Recipe.from_json("null"),
        lambda: Recipe.from_json(""),
        lambda: Recipe.from_json("not json"),
        lambda: Recipe.from_json(None),
        lambda: Recipe.of(0.5),
    ],
)
def test_reported_bad_inputs_raise_a_config_error_that_says_what_is_allowed(make):
    with pytest.raises(ConfigError) as info:
        make()
    message = str(info.value)
    assert any(word in message for word in ("must", "allowed", "expected", "unknown"))


def test_a_config_error_is_both_a_value_and_a_type_error():
    with pytest.raises(ValueError):
        FinetuneConfig(epochs="1")
    with pytest.raises(TypeError):
        FinetuneConfig(epochs="1")


def test_numpy_scalars_are_accepted_as_plain_numbers():
    config = QuantConfig(bits=np.int64(4), per_layer={"fc": np.int32(8)})
    assert config.bits == 4 and type(config.bits) is int and type(config.per_layer["fc"]) is int
    assert PruneConfig(np.float32(0.5)).sparsity == 0.5
    assert ResolutionConfig(np.int64(14)).size == 14
    assert json.loads(Recipe(quant=config).to_json())["quant"]["bits"] == 4


def test_a_single_skip_name_is_one_layer_not_its_letters():
    assert QuantConfig(skip="classifier").skip == ("classifier",)
    assert Recipe.from_json('{"quant": {"skip": "fc3"}}').quant.skip == ("fc3",)
    model = zoo.build("mlp")
    out = apply(model, QuantConfig(bits=2, skip="fc3"))
    assert any(row.unique().numel() > 4 for row in out.model.fc3.weight)  # left in float
    assert all(row.unique().numel() <= 4 for row in out.model.fc1.weight)  # 2 bits per channel


def test_identity_parts_have_one_canonical_form_and_key():
    assert Recipe(prune=PruneConfig(0.0)) == Recipe()
    fashion = as_data(None)  # the native size is dropped where the data is known
    assert fashion.canonical(Recipe(resolution=ResolutionConfig(28))) == Recipe()
    assert fashion.canonical(Recipe(resolution=ResolutionConfig(14))) != Recipe()
    assert Recipe(prune=PruneConfig(0.0)).to_json() == Recipe().to_json() == "{}"
    assert hash(Recipe(prune=PruneConfig(0.0))) == hash(Recipe())
    assert Recipe(prune=PruneConfig(0.0, per_layer={"fc1": 0.5})).prune is not None
    configs = {PruneConfig(0.5, per_layer={"a": 0.1}), PruneConfig(0.5, per_layer={"a": 0.1})}
    assert len(configs) == 1


def test_a_single_config_is_accepted_where_a_recipe_is_expected(tiny_model):
    out = apply(tiny_model, PruneConfig(0.5))
    assert out.recipe == Recipe(prune=PruneConfig(0.5))
    m = evaluate(tiny_model, QuantConfig(bits=4), effort="quick")
    assert m.recipe == Recipe(quant=QuantConfig(bits=4)).to_json()


# ------------------------------------------------------------------ command line

BAD_RECIPES = [
    '{"prune":{"foo":1}}',
    '{"prune":0.5}',
    "null",
    "",
    "not json",
    '{"quant":{"bits":8,"activations":"false"}}',
    '{"finetune":{"epochs":"1"}}',
    '{"quant":{"bits":99}}',
]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("recipe", BAD_RECIPES)
def test_cli_bad_recipe_is_one_line_naming_recipe_and_exit_2(recipe):
    done = _cli("evaluate", "--split", "live", "--recipe", recipe)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--recipe" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--model", "nope"],
        ["evaluate", "--split", "train"],
        ["evaluate", "--country", "XXX"],
        ["train", "nope"],
        ["train", "mlp", "--epochs", "nan"],
    ],
)
def test_cli_every_error_is_one_line_with_exit_2(args):
    done = _cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "error" in done.stderr


# ------------------------------------------------------------------ the model's interface


class _Tuple(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)), x


def _rgb() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)
    )


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (nn.Sequential(nn.Flatten(), nn.Linear(784, 5)), "(2, 5)"),
        (_Tuple(), "tuple"),
        (_rgb(), "2×1×28×28"),
    ],
)
def test_a_model_that_does_not_fit_the_data_is_rejected_up_front(model, words):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    for call in (lambda: apply(model), lambda: evaluate(model, effort="quick")):
        with pytest.raises(ModelInterfaceError, match="N×10 logits") as info:
            call()
        assert words in str(info.value)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_the_check_leaves_batch_norm_statistics_and_modes_alone():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.BatchNorm2d(4),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 10),
    )
    model.train()
    model[1].eval()  # mixed modes must come back as they were
    before = model[1].running_mean.clone(), model[1].num_batches_tracked.clone()
    check_model(model)
    assert torch.equal(model[1].running_mean, before[0])
    assert torch.equal(model[1].num_batches_tracked, before[1])
    assert model.training and not model[1].training and model[0].training


# ------------------------------------------------------------------ honest baselines


def test_every_ratio_is_against_the_input_models_fp32_file(tmp_path, trained_cnn):
    # torch.save's zip records the file's name: save under the lab's name, in two folders
    (tmp_path / "input").mkdir()
    (tmp_path / "pruned").mkdir()
    torch.save(trained_cnn.state_dict(), tmp_path / "input" / "state_dict.pt")
    input_bytes = os.path.getsize(tmp_path / "input" / "state_dict.pt")
    for recipe in (Recipe(), PruneConfig(0.5, structure="channel"), QuantConfig(bits=4)):
        m = evaluate(trained_cnn, recipe, effort="quick")
        assert m.state_dict_bytes == input_bytes
        assert m.compression_ratio == pytest.approx(input_bytes / m.artifact_bytes)
    pruned = apply(trained_cnn, PruneConfig(0.5, structure="channel"))
    torch.save(pruned.model.state_dict(), tmp_path / "pruned" / "state_dict.pt")
    m = evaluate(pruned, effort="quick")  # a Compressed knows its input model
    assert (
        m.state_dict_bytes == input_bytes > os.path.getsize(tmp_path / "pruned" / "state_dict.pt")
    )


# ------------------------------------------------------------------ process-wide settings


def test_importing_the_lab_with_lab_threads_leaves_torch_threads_alone():
    code = (
        "import torch; torch.set_num_threads(1); import lab.measure, lab.techniques.int8; "
        "print(torch.get_num_threads(), torch.backends.quantized.engine)"
    )
    env = {**os.environ, "LAB_THREADS": "2"}
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch; torch.set_num_threads(1); "
            "print(torch.get_num_threads(), torch.backends.quantized.engine)",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split() == baseline.stdout.split() == ["1", baseline.stdout.split()[1]]


def test_lab_threads_applies_to_the_evaluation_only(tiny_model, monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("LAB_THREADS", "1")
    assert evaluate(tiny_model, effort="quick").threads == 1
    assert torch.get_num_threads() == before
    assert evaluate(tiny_model, effort="quick", threads=1).threads == 1
    monkeypatch.setenv("LAB_THREADS", "many")
    with pytest.raises(ValueError, match="LAB_THREADS must be a positive integer"):
        evaluate(tiny_model, effort="quick")


# ------------------------------------------------------------------ what machine, which phases


def test_a_measurement_says_which_machine_and_phases_are_timed(tiny_model):
    timings: dict[str, float] = {}
    m = evaluate(tiny_model, effort="quick", timings=timings)
    assert m.cpu_model and m.cpu_capability and m.torch_version == torch.__version__
    assert {"fingerprint", "apply", "latency", "size", "result store write"} <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())
    row = m.to_frame().iloc[0]
    assert row["cpu_capability"] == m.cpu_capability


def test_int8_notes_say_when_the_cpu_has_no_int8_instructions(tiny_model, monkeypatch):
    from lab import machine

    recipe = Recipe(quant=QuantConfig(bits=8, activations=True))
    monkeypatch.setattr(machine, "int8_instructions", lambda: [])
    assert any("no VNNI/AMX" in note for note in apply(tiny_model, recipe).notes)
    monkeypatch.setattr(machine, "int8_instructions", lambda: ["avx512_vnni"])
    assert not any("VNNI" in note for note in apply(tiny_model, recipe).notes)


def test_a_model_that_passed_the_check_is_run_again_only_when_it_changes():
    """``check_model`` runs a model once per data set; changing its weights in place,
    replacing a layer (caught: wrong output size) or reloading a state dict runs it again."""

    calls = []

    class Counted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(len(x))
            return self.head(x.flatten(1))

    model = Counted()
    check_model(model)
    check_model(model)
    assert len(calls) == 1
    with torch.no_grad():
        model.head.weight.add_(1.0)
    check_model(model)
    assert len(calls) == 2
    model.head.weight.data.mul_(float("nan"))  # .data: no version counter moves
    with pytest.raises(ModelInterfaceError):
        check_model(model)
    model.head.weight.data.fill_(0.0)
    check_model(model)
    assert len(calls) == 4
    model.head = nn.Linear(784, 5)
    with pytest.raises(ModelInterfaceError, match="10 logits"):
        check_model(model)
    with pytest.raises(ModelInterfaceError):  # a failed check is not remembered as passed
        check_model(model)
    model.head = nn.Linear(784, 10)
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    digits = as_data((x.astype("float32"), y), name="digits (check)")
    with pytest.raises(ModelInterfaceError):  # another data set: checked again, and refused
        check_model(model, digits)


def test_a_changed_setting_of_a_checked_model_is_checked_again():
    """A plain setting that changes the outputs (here how many logits are kept) makes the
    check run again, and refuse the model, although no tensor changed."""

    class Cropped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head, self.keep = nn.Linear(784, 12), 10

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(x.flatten(1))[:, : self.keep]

    model = Cropped()
    check_model(model)
    model.keep = 9
    with pytest.raises(ModelInterfaceError, match=r"\(2, 10\)"):
        check_model(model)
