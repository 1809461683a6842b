"""Knowledge distillation as a fine-tuning loss (FinetuneConfig.teacher)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from lab import measure
from lab.techniques import apply
from lab.techniques.configs import FinetuneConfig, PruneConfig, QuantConfig, Recipe
from lab.techniques.distillation import distillation_loss, finetune_loss, resolve_teacher


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"teacher": "bogus"}, "teacher must be one of None, 'original', 'cnn'"),
        ({"teacher": "teacher", "temperature": 0.0}, "temperature must be a finite number > 0"),
        (
            {"teacher": "teacher", "distill_weight": 1.5},
            r"distill_weight must be a finite number in \[0, 1\]",
        ),
    ],
)
def test_bad_distillation_settings_name_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**kwargs)


def test_a_recipe_with_a_teacher_round_trips_through_json():
    recipe = Recipe(
        prune=PruneConfig(0.9), finetune=FinetuneConfig(teacher="original", augment=True)
    )
    assert Recipe.from_json(recipe.to_json()) == recipe
    assert recipe.describe().endswith("fine-tuned (distilled from original)")


def test_weight_zero_is_plain_cross_entropy(tiny_model):
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
    loss = distillation_loss(copy.deepcopy(tiny_model), temperature=3.0, weight=0.0)
    assert torch.allclose(loss(tiny_model, x, y), F.cross_entropy(tiny_model(x), y))


def test_soft_targets_match_torch_kl_and_vanish_for_an_identical_student(tiny_model):
    x, y = torch.randn(8, 1, 28, 28), torch.arange(8) % 10
    loss = distillation_loss(copy.deepcopy(tiny_model), temperature=2.0, weight=1.0)
    assert float(loss(tiny_model, x, y).detach()) == pytest.approx(0.0, abs=1e-6)

    torch.manual_seed(1)
    student = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(0.3 * torch.randn_like(p))
    t = 2.0
    teacher_p = F.softmax(tiny_model(x) / t, dim=1)
    reference = (teacher_p * (teacher_p.log() - F.log_softmax(student(x) / t, dim=1))).sum(1).mean()
    assert torch.allclose(loss(student, x, y), t**2 * reference, rtol=1e-4)


def test_resolve_teacher_copies_the_original_and_freezes_it(tiny_model):
    assert resolve_teacher(None, tiny_model) is None
    assert resolve_teacher(FinetuneConfig(), tiny_model) is None
    assert finetune_loss(FinetuneConfig(), tiny_model) is None
    teacher = resolve_teacher(FinetuneConfig(teacher="original"), tiny_model)
    assert teacher is not tiny_model and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in tiny_model.parameters())


def test_distilled_fine_tuning_leaves_the_input_model_untouched(tiny_model):
    before = measure.fingerprint(tiny_model)
    recipe = Recipe(
        prune=PruneConfig(0.5),
        quant=QuantConfig(bits=4),
        finetune=FinetuneConfig(epochs=0.005, max_seconds=5, teacher="original"),
    )
    out = apply(tiny_model, recipe, progress=False)
    assert measure.fingerprint(tiny_model) == before
    assert measure.fingerprint(out.model) != before
    weights = [
        m.weight for m in out.model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    assert sum(int((w == 0).sum()) for w in weights) == round(0.5 * sum(w.numel() for w in weights))


def test_adapting_to_a_resolution_distills_when_a_teacher_is_named(tiny_model, monkeypatch):
    """resolution.adapt honours FinetuneConfig.teacher like apply does (never silently dropped)."""
    from lab.techniques import resolution

    seen = []
    monkeypatch.setattr(
        resolution,
        "fit",
        lambda model, config, loss_fn=None, progress=True, **kw: seen.append(loss_fn),
    )
    before = measure.fingerprint(tiny_model)
    resolution.adapt(tiny_model, 14, FinetuneConfig(teacher="original"), progress=False)
    resolution.adapt(tiny_model, 14, FinetuneConfig(), progress=False)
    assert callable(seen[0]) and seen[1] is None
    assert measure.fingerprint(tiny_model) == before
