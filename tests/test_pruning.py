"""Pruning: exact sparsity, untouched inputs, real channel removal, masks through fine-tuning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.utils.prune as torch_prune
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lab import training, zoo
from lab.architectures import SmallCNN
from lab.techniques.configs import FinetuneConfig, PruneConfig
from lab.techniques.pruning import (
    apply_masks,
    cubic_sparsity,
    finetune_pruned,
    masks_of,
    plot_sensitivity,
    prunable_layers,
    prune,
    sensitivity_scan,
    sparsity_of,
)

SPARSITIES = (0.0, 0.1, 0.5, 0.77, 0.9, 0.99)


def zeros(module: nn.Module) -> int:
    return int((module.weight == 0).sum())


def flops(model: nn.Module, size: int = 28) -> int:
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(torch.zeros(2, 1, size, size))
    return counter.get_total_flops()


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def snapshot(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_global_sparsity_is_exact(sparsity):
    model = zoo.build("cnn")
    pruned = prune(model, PruneConfig(sparsity))
    total = sum(m.weight.numel() for m in prunable_layers(pruned).values())
    assert sum(zeros(m) for m in prunable_layers(pruned).values()) == round(sparsity * total)
    assert sparsity_of(pruned) == pytest.approx(round(sparsity * total) / total)


@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_layer_sparsity_is_exact_in_every_layer(sparsity):
    pruned = prune(zoo.build("mobile"), PruneConfig(sparsity, scope="layer"))
    for module in prunable_layers(pruned).values():
        assert zeros(module) == round(sparsity * module.weight.numel())


def test_ties_still_give_the_exact_count(tiny_model):
    with torch.no_grad():
        for module in prunable_layers(tiny_model).values():
            module.weight.fill_(0.5)  # every weight tied
    pruned = prune(tiny_model, PruneConfig(0.3))
    total = sum(m.weight.numel() for m in prunable_layers(pruned).values())
    assert sum(zeros(m) for m in prunable_layers(pruned).values()) == round(0.3 * total)


def test_per_layer_overrides_and_the_rest_pooled():
    pruned = prune(
        zoo.build("cnn"), PruneConfig(0.6, per_layer={"features.0.0": 0.1, "classifier": 0.0})
    )
    layers = prunable_layers(pruned)
    assert zeros(layers["features.0.0"]) == round(0.1 * layers["features.0.0"].weight.numel())
    assert zeros(layers["classifier"]) == 0
    rest = [layers["features.2.0"], layers["features.4.0"]]
    assert sum(map(zeros, rest)) == round(0.6 * sum(m.weight.numel() for m in rest))


def test_global_prunes_smallest_magnitudes_and_leaves_a_plain_module():
    model = zoo.build("cnn")
    pruned = prune(model, PruneConfig(0.5))
    weights = torch.cat([m.weight.flatten().abs() for m in prunable_layers(model).values()])
    kept = torch.cat([m.weight.flatten().abs() for m in prunable_layers(pruned).values()])
    assert kept[kept > 0].min() >= weights.kthvalue(weights.numel() // 2).values
    assert set(pruned.state_dict()) == set(model.state_dict())  # no weight_orig / buffers
    assert all(mask.dtype == torch.bool for mask in masks_of(pruned).values())


@pytest.mark.parametrize("structure", ["unstructured", "channel"])
def test_input_model_is_untouched(structure):
    model = zoo.build("cnn").train()
    before = snapshot(model)
    pruned = prune(model, PruneConfig(0.5, structure=structure))
    assert pruned is not model
    assert same_state(before, model.state_dict())
    assert not masks_of(model) and model.training and pruned.training


@pytest.mark.parametrize(("name", "flop_ratio"), [("cnn", 0.3), ("mobile", 0.3), ("mlp", 0.5)])
def test_channel_pruning_removes_channels_and_flops(name, flop_ratio):
    model = zoo.build(name)
    pruned = prune(model, PruneConfig(0.5, structure="channel", scope="layer"))
    dense_layers, slim_layers = prunable_layers(model), prunable_layers(pruned)
    hidden = list(dense_layers)[:-1]
    for layer in hidden:
        assert slim_layers[layer].weight.shape[0] == dense_layers[layer].weight.shape[0] // 2
    last = list(slim_layers)[-1]
    assert slim_layers[last].weight.shape[0] == 10  # the classifier keeps its classes
    for size in (28, 14):
        assert pruned.eval()(torch.randn(3, 1, size, size)).shape == (3, 10)
    assert flops(pruned) < flop_ratio * flops(model)  # the MLP keeps its 784 inputs


def test_lenet_channel_pruning_traced_at_a_lower_resolution():
    model = zoo.build("mlp")
    pruned = prune(
        model,
        PruneConfig(0.5, structure="channel", scope="layer"),
        example_input=torch.zeros(1, 1, 14, 14),
    )
    assert (pruned.fc1.out_features, pruned.fc2.in_features, pruned.fc2.out_features) == (
        150,
        150,
        50,
    )
    assert flops(pruned, 14) < flops(model, 14)
    assert pruned(torch.randn(2, 1, 14, 14)).shape == (2, 10)


def test_depthwise_groups_stay_consistent():
    pruned = prune(zoo.build("mobile"), PruneConfig(0.5, structure="channel"))
    for module in pruned.modules():
        if isinstance(module, nn.Conv2d) and module.groups > 1:
            assert module.groups == module.in_channels == module.out_channels


def test_channel_pruning_after_unstructured_keeps_masks_consistent():
    sparse = prune(zoo.build("cnn"), PruneConfig(0.5))
    slim = prune(sparse, PruneConfig(0.5, structure="channel"))
    apply_masks(slim)  # shapes match the smaller weights
    assert all(m.shape == slim.get_submodule(n).weight.shape for n, m in masks_of(slim).items())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sparsity": -0.1}, r"\[0, 1\)"),
        ({"sparsity": 1.0}, r"\[0, 1\)"),
        ({"structure": "foo"}, "'unstructured', 'channel'"),
        ({"scope": "net"}, "'global', 'layer'"),
    ],
)
def test_bad_config_raises_with_allowed_values(kwargs, message):
    model = zoo.build("cnn")
    before = snapshot(model)
    with pytest.raises(ValueError, match=message):
        prune(model, PruneConfig(**kwargs))
    assert same_state(before, model.state_dict())


@pytest.mark.parametrize("structure", ["unstructured", "channel"])
def test_unknown_layer_and_bad_arguments_raise_and_leave_model_untouched(structure):
    model = zoo.build("cnn")
    before = snapshot(model)
    with pytest.raises(ValueError, match="features.0.0, features.2.0"):
        prune(model, PruneConfig(0.5, structure=structure, per_layer={"conv9": 0.5}))
    with pytest.raises(ValueError, match="PruneConfig"):
        prune(model, {"sparsity": 0.5})
    assert same_state(before, model.state_dict())
    with pytest.raises(ValueError, match="classifier"):
        prune(model, PruneConfig(0.0, structure="channel", per_layer={"classifier": 0.5}))


def test_model_without_prunable_layers_raises():
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(784))
    before = snapshot(model)
    for structure in ("unstructured", "channel"):
        with pytest.raises(ValueError, match=r"nn\.Conv2d and nn\.Linear"):
            prune(model, PruneConfig(0.5, structure=structure))
    with pytest.raises(ValueError, match="no prunable layer"):
        sparsity_of(model)
    assert same_state(before, model.state_dict())


def test_masks_keep_zeros_through_finetuning():
    model = prune(zoo.build("cnn"), PruneConfig(0.8))
    before = snapshot(model)
    pruned_at = {n: ~m.clone() for n, m in masks_of(model).items()}
    finetune_pruned(model, FinetuneConfig(max_seconds=30), max_batches=3, progress=False)
    for name, where in pruned_at.items():
        assert torch.all(model.get_submodule(name).weight[where] == 0)
    assert not torch.equal(model.features[2][0].weight, before["features.2.0.weight"])  # it trained
    assert sparsity_of(model) == pytest.approx(0.8, abs=1e-5)


def test_masks_work_with_fit_after_step_directly():
    model = prune(zoo.build("mlp"), PruneConfig(0.9, scope="layer"))
    zero_at = {n: model.get_submodule(n).weight == 0 for n in masks_of(model)}
    training.fit(
        model,
        training.TrainConfig(max_batches=3),
        progress=False,
        after_step=lambda m, _step, _total: apply_masks(m),
    )
    assert all(torch.all(model.get_submodule(n).weight[z] == 0) for n, z in zero_at.items())


def test_gradual_pruning_reaches_the_target_along_the_cubic_schedule(monkeypatch):
    assert cubic_sparsity(0.0, 0.8) == 0.0 and cubic_sparsity(1.0, 0.8) == pytest.approx(0.8)
    assert cubic_sparsity(0.5, 0.8) == pytest.approx(0.8 - 0.8 * 0.125)
    model = zoo.build("cnn")
    seen = []
    target = PruneConfig(0.8, per_layer={"classifier": 0.5})
    finetune = FinetuneConfig(max_seconds=60, gradual_steps=3)
    original = training.fit

    def spy(m, config, **kwargs):
        after = kwargs.pop("after_step")
        return original(
            m, config, after_step=lambda *a: (after(*a), seen.append(sparsity_of(a[0]))), **kwargs
        )

    monkeypatch.setattr("lab.techniques.pruning.fit", spy)
    finetune_pruned(model, finetune, target, max_batches=5, progress=False)
    assert seen == sorted(seen) and 0 < seen[0] < seen[-1]  # sparsity ramps up
    assert zeros(model.classifier) == round(0.5 * model.classifier.weight.numel())
    assert sparsity_of(model) > 0.75


def test_sensitivity_scan_rows_and_values(tiny_model):
    df = sensitivity_scan(tiny_model, (0.0, 0.5, 0.9), progress=False)
    assert list(df.columns) == ["layer", "sparsity", "accuracy"]
    assert len(df) == 2 * 3 and set(df.layer) == {"0", "4"}
    direct = training.accuracy(prune(tiny_model, PruneConfig(0.0, per_layer={"0": 0.9})), "live")
    assert df.query("layer == '0' and sparsity == 0.9").accuracy.item() == pytest.approx(
        direct, abs=1e-3
    )
    assert df[df.sparsity == 0.0].accuracy.nunique() == 1


def test_sensitivity_scan_on_channels_skips_the_classifier():
    torch.manual_seed(0)
    model = SmallCNN(((4,), (8,), (16,)))
    df = sensitivity_scan(model, (0.0, 0.5), structure="channel", progress=False)
    assert list(df.layer.unique()) == ["features.0.0", "features.2.0", "features.4.0"]
    direct = training.accuracy(
        prune(model, PruneConfig(0.0, structure="channel", per_layer={"features.2.0": 0.5})), "live"
    )
    assert df.query("layer == 'features.2.0' and sparsity == 0.5").accuracy.item() == pytest.approx(
        direct, abs=1e-3
    )
    with pytest.raises(ValueError, match="'unstructured', 'channel'"):
        sensitivity_scan(model, (0.5,), structure="foo")


def test_plot_sensitivity_draws_one_curve_per_layer(tiny_model):
    import pandas as pd
    from matplotlib.figure import Figure

    df = pd.DataFrame(
        {
            "layer": ["a", "a", "b", "b"],
            "sparsity": [0.0, 0.5] * 2,
            "accuracy": [0.9, 0.8, 0.9, 0.5],
        }
    )
    ax = Figure().add_subplot()
    assert plot_sensitivity(df, ax) is ax
    assert len(ax.get_lines()) == 2


def test_channel_pruning_keeps_batchnorm_statistics_of_kept_channels():
    model = zoo.build("cnn").train()
    with torch.no_grad():
        model.features[0][1].running_mean.uniform_(-1, 1)
    pruned = prune(model, PruneConfig(0.5, structure="channel", scope="layer"))
    kept = pruned.features[0][1].running_mean
    assert len(kept) == 16 and torch.isin(kept, model.features[0][1].running_mean).all()


def test_torch_prune_reparametrization_is_refused():
    model = zoo.build("mlp")
    torch_prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    with pytest.raises(ValueError, match="prune.remove"):
        prune(model, PruneConfig(0.5))


class FlatLinear(nn.Linear):
    """A model that is itself its only prunable layer (named "")."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1))


def test_scan_of_a_model_that_is_a_single_layer():
    torch.manual_seed(0)
    model = FlatLinear(784, 10)
    assert list(prunable_layers(model)) == [""]
    df = sensitivity_scan(model, (0.0, 0.9), progress=False)
    direct = training.accuracy(prune(model, PruneConfig(0.9)), "live")
    assert df.accuracy.iloc[-1] == pytest.approx(direct, abs=1e-3)
    assert len(df) == 2 and df.accuracy.between(0, 1).all()


def test_lowest_matches_a_stable_argsort_with_ties():
    """The linear-time selection removes exactly what the first `count` of a stable argsort would."""
    from lab.techniques.pruning import _lowest

    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        n = int(torch.randint(1, 300, (1,), generator=generator))
        values = torch.randint(0, 6, (n,), generator=generator).float()  # many ties
        count = int(torch.randint(0, n + 1, (1,), generator=generator))
        expected = torch.zeros(n, dtype=torch.bool)
        expected[torch.argsort(values, stable=True)[:count]] = True
        assert torch.equal(_lowest(values, count), expected)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=True, width=32),
            st.sampled_from([0.0, -0.0, 1.0, 0.5]),  # ties
        ),
        min_size=1,
        max_size=400,
    ),
    data=st.data(),
)
def test_the_kth_smallest_is_torchs_kthvalue(values, data):
    """NumPy's selection gives torch.kthvalue's value for any k, ties, signed zeros and infinities
    included (with NaN the model is not prunable by magnitude: torch's own path runs)."""
    from lab.techniques.pruning import _kth_smallest

    tensor = torch.tensor(values, dtype=torch.float32)
    k = data.draw(st.integers(1, len(values)))
    assert _kth_smallest(tensor, k).item() == torch.kthvalue(tensor, k).values.item()
    with_nan = torch.cat([tensor, torch.tensor([float("nan")])])
    got, expected = _kth_smallest(with_nan, k), torch.kthvalue(with_nan, k).values
    assert got.item() == expected.item() or (got.isnan() and expected.isnan())


def test_global_selection_on_millions_of_weights_matches_a_stable_argsort():
    """At resnet18's scale (the selection NumPy makes there), the masks equal the first
    ``count`` of a stable argsort, ties included."""
    from lab.techniques.pruning import _lowest

    generator = torch.Generator().manual_seed(1)
    values = torch.randint(0, 50_000, (3_000_000,), generator=generator).float() / 7
    for count in (1, 1_234_567, 2_999_999):
        expected = torch.zeros_like(values, dtype=torch.bool)
        expected[torch.argsort(values, stable=True)[:count]] = True
        assert torch.equal(_lowest(values, count), expected)
