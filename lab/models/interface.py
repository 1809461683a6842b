"""Check, once and up front, that a model fits the data it will be measured on.

A model that returns 5 logits for 10 classes, a tuple instead of a tensor, or expects
3-channel images would otherwise fail deep inside torch, or worse, run and report a
meaningless accuracy. :func:`check_model` runs it on two images and says plainly what
was expected and what came back. The caller's model is left as it was: its train/eval
mode (of every submodule) and its weights (batch-norm statistics included: the check
runs in eval mode under ``torch.no_grad``).

Example:
    >>> from lab import zoo
    >>> check_model(zoo.build("cnn"))
"""

from __future__ import annotations

import torch
from torch import nn

from lab.datasets import as_data
from lab.memo import Memo
from lab.models.fingerprint import fingerprint, structure_key
from lab.models.training import eval_mode

__all__ = ["ModelInterfaceError", "check_model"]


class ModelInterfaceError(ValueError):
    """The model's input or output does not match the data (the message says how)."""


def _device_of(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


# Checks passed, by what their outcome depends on (the data, the model's structure and
# content): a model object of the same content and data passes without running again.
_PASSED: Memo[None] = Memo(entries=256)


def _state(model: nn.Module) -> tuple:
    """What the check's outcome depends on: the model's :func:`structure_key` (modules,
    settings, shapes) and its content hash (:func:`fingerprint`: every weight's value — a
    hash, not a version counter, which ``p.data.mul_(…)`` would not bump). Hashing is
    cheaper than running a big model (resnet18: about half)."""
    return structure_key(model), fingerprint(model)


def check_model(model: nn.Module, data: object = None) -> None:
    """Raise :class:`ModelInterfaceError` unless ``model`` maps a batch of the data's
    samples (N×C×H×W images or N×D features; Fashion-MNIST by default) to N×K logits, or
    to N×1 predictions on regression data.

    A model that passed on the same data is not run again until its modules, their settings
    or its weights change (replaced, reloaded or edited in place, ``.data`` included): a
    dashboard's every move applies a recipe to the same model."""

    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    _check_batch_free(model)
    dataset = as_data(data)
    key = (dataset.fingerprint, dataset.input_shape, _state(model))
    _PASSED.get(key, lambda: _run_check(model, dataset))  # a failed check is not remembered


def _run_check(model: nn.Module, dataset) -> None:
    shape = "×".join(str(d) for d in dataset.input_shape)
    what = "images" if dataset.kind == "image" else "feature rows"
    k = dataset.n_outputs
    if dataset.is_classification:
        expected = f"N×{shape} {what} → N×{k} logits (one per class of {dataset.name!r})"
    else:
        expected = f"N×{shape} {what} → N×1 predictions (the regression target of {dataset.name!r})"
    x = dataset.example(2).to(_device_of(model))
    try:
        with torch.no_grad(), eval_mode(model):
            out = model(x)
    except Exception as exc:
        embeds = any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in model.modules())
        hint = (
            " The model looks up embeddings: if the data are token ids, keep them as integers "
            "with as_data((ids, labels), pad_id=<your padding id>) (or lab.text.text_data)"
            if embeds and dataset.kind != "tokens"
            else ""
        )
        said = str(exc).rstrip()
        said = said if said.endswith(".") else f"{said}."
        who = "ONNX Runtime" if isinstance(getattr(model, "onnx_bytes", None), bytes) else "torch"
        raise ModelInterfaceError(
            f"the model failed on a 2×{shape} input batch; the lab expects "
            f"{expected}. {who} said: {type(exc).__name__}: {said}{hint}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ModelInterfaceError(
            f"the model returned a {type(out).__name__}, not a tensor; the lab expects {expected}. "
            "Wrap it so that forward() returns the logits tensor only"
        )
    if out.shape != (2, k):
        raise ModelInterfaceError(
            f"the model returned shape {tuple(out.shape)} for 2 samples; the lab expects "
            f"{expected}, i.e. (2, {k})"
        )
    if not out.is_floating_point():
        raise ModelInterfaceError(f"the model returned {out.dtype} values; expected float logits")
    _check_outputs_rank(out, dataset.name, expected)


def _check_batch_free(model: nn.Module) -> None:
    """A ModelInterfaceError for a ``torch.export`` program made for one batch size
    (``lab.loading`` keeps it in ``model.fixed_batch``): the lab runs batches of any size."""
    fixed = getattr(model, "fixed_batch", None)
    if isinstance(fixed, str):
        name = fixed.split(":")[0]
        raise ModelInterfaceError(
            f"the model was exported for one batch size only ({fixed}); the lab runs batches "
            "of 1 to thousands. Export it with a dynamic batch: torch.export.export(model, "
            f"(x,), dynamic_shapes={{{name!r}: {{0: torch.export.Dim('batch')}}}})"
        )


def _check_outputs_rank(out: torch.Tensor, name: str, expected: str) -> None:
    """A ModelInterfaceError when outputs hold NaN or +inf: argmax would pick a class for
    them (−inf may mask a class and is allowed)."""
    nan = bool(torch.isnan(out).any())
    if nan or bool((out == float("inf")).any()):
        raise ModelInterfaceError(
            f"the model returned {'NaN' if nan else '+inf'} for 2 real samples of {name!r}; "
            f"the lab expects {expected} (−inf may mask a class; NaN and +inf rank nothing). "
            "Its accuracy would be the share of the class argmax picks for them: check its "
            "weights (torch.isfinite) and its forward()"
        )
