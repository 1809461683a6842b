"""Your model from a file: whatever a practitioner has, loaded from a path (never downloaded).

:func:`load_model` reads, by the file's content (not its name):

* a ``state_dict`` (``torch.save(model.state_dict(), path)``) — weights only, so it needs
  ``architecture=``: a torchvision model name (``"resnet18"``, ``"mobilenet_v3_small"``…,
  built with ``weights=None`` and the number of classes the file's classifier has), a
  module of the right shape (copied; yours is not changed), or a function building one;
* a TorchScript program (``torch.jit.save``) — runs as it is;
* a ``torch.export`` program (``torch.export.save``, ``.pt2``) — its ``.module()``;
* an ONNX file — evaluated through ONNX Runtime (:class:`lab.export.OnnxRuntimeModel`);
* the lab's own compact file (:mod:`lab.artifact`).

A whole pickled module (``torch.save(model)``) is refused: unpickling runs arbitrary code.
Save its ``state_dict`` instead. Every load is on the CPU, in eval mode.

Example:
    >>> import tempfile, torch, torchvision
    >>> path = tempfile.mktemp(suffix=".pt")
    >>> torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), path)
    >>> model = load_model(path, architecture="resnet18")
    >>> model.fc.out_features
    3
"""

from __future__ import annotations

import copy
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from lab.io import artifact
from lab.runtimes.export import OnnxRuntimeModel

__all__ = ["FORMATS", "ModelFileError", "file_format", "load_model"]

FORMATS = ("state_dict", "torchscript", "torch.export", "onnx", "lab artifact")


class ModelFileError(ValueError):
    """The file cannot be loaded as a model; the message says what it is and what to do."""


def file_format(path: str | os.PathLike) -> str:
    """Which of :data:`FORMATS` the file at ``path`` holds (from its content)."""

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(artifact.MAGIC):
        return "lab artifact"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        entries = {n.split("/", 1)[-1] for n in names}  # below the archive's top folder
        if "archive_format" in entries:
            return "torch.export"
        if any(e.startswith("code/") for e in entries):
            return "torchscript"
        return "state_dict"
    if _is_onnx(path):
        return "onnx"
    raise ModelFileError(
        f"{str(path)!r} is none of {', '.join(FORMATS)} (a torch.save file is a zip archive; "
        "an ONNX file a protobuf with a graph)"
    )


def _is_onnx(path: Path) -> bool:
    try:
        import onnx

        graph = onnx.load_model(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not parseable as ONNX
        return False
    return len(graph.node) > 0 and len(graph.input) > 0


def _classifier_key(state: Mapping[str, torch.Tensor]) -> str | None:
    """The last 2-D ``….weight`` of a state_dict: a classifier's (K × features)."""
    keys = [k for k, v in state.items() if k.endswith("weight") and getattr(v, "ndim", 0) == 2]
    return keys[-1] if keys else None


def _torchvision(name: str, state: Mapping[str, torch.Tensor]) -> nn.Module:
    import torchvision

    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError as exc:
        known = ", ".join(sorted(torchvision.models.list_models(torchvision.models))[:12])
        raise ModelFileError(
            f"architecture={name!r} is not a torchvision classification model (e.g. {known}…)"
        ) from exc
    key = _classifier_key(state)
    options = {"weights": None}  # never download
    if key is not None:
        options["num_classes"] = int(state[key].shape[0])
    return builder(**options)


def _architecture(architecture: object, state: Mapping[str, torch.Tensor]) -> nn.Module:
    if architecture is None:
        raise ModelFileError(
            "this file is a state_dict (weights only): pass architecture= — a torchvision "
            "name such as 'resnet18', a module of the same shape, or a function building one"
        )
    if isinstance(architecture, str):
        return _torchvision(architecture, state)
    if isinstance(architecture, nn.Module):
        return copy.deepcopy(architecture)
    if callable(architecture):
        built = architecture()
        if not isinstance(built, nn.Module):
            raise ModelFileError(
                f"architecture() must return a torch.nn.Module; got {type(built).__name__}"
            )
        return built
    raise ModelFileError(
        "architecture must be a torchvision model name, an nn.Module or a function building "
        f"one; got {type(architecture).__name__}"
    )


def _plain_text(message: str) -> str:
    """``message`` without terminal colour codes (torch's unpickling errors carry them)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", message)


def _from_state_dict(path: Path, architecture: object) -> nn.Module:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickled modules and foreign objects alike
        raise ModelFileError(
            f"{str(path)!r} is a torch.save file that is not a plain state_dict (a whole "
            "pickled module needs unpickling, which runs arbitrary code): save "
            f"model.state_dict() instead. torch said: {_plain_text(str(exc)).splitlines()[0]}"
        ) from exc
    if (
        isinstance(state, Mapping)
        and "state_dict" in state
        and isinstance(state["state_dict"], Mapping)
    ):
        state = state["state_dict"]  # a training checkpoint {"state_dict": …, "epoch": …}
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        held = (
            [k for k, v in state.items() if isinstance(v, Mapping)]
            if isinstance(state, Mapping)
            else []
        )
        hint = (
            f"; its entries {', '.join(map(repr, held))} are dicts: if one is the "
            f"state_dict, save that one (torch.save(checkpoint[{held[0]!r}], path))"
            if held
            else ""
        )
        raise ModelFileError(f"{str(path)!r} does not hold a state_dict (name → tensor){hint}")
    model = _architecture(architecture, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"the weights in {str(path)!r} do not fit {type(model).__name__}: "
            f"{' '.join(str(exc).split())[:600]}"
        ) from exc
    return model


def load_model(path: str | os.PathLike, *, architecture: object = None) -> nn.Module:
    """The model stored at ``path`` as a ``torch.nn.Module`` on the CPU, in eval mode.

    Args:
        path: a state_dict, TorchScript, ``torch.export`` program, ONNX or lab artifact file.
        architecture: for a state_dict only — a torchvision model name, a module to copy
            and fill, or a function returning an empty module.

    Raises:
        TypeError: ``path`` is not a file name.
        FileNotFoundError: nothing at ``path``.
        ModelFileError: the file is not a model, or its weights do not fit ``architecture``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike file name; got {path!r} ({type(path).__name__})"
        )
    path = Path(path)
    kind = file_format(path)
    if architecture is not None and kind != "state_dict":
        raise ModelFileError(f"{str(path)!r} is a {kind} file: it carries its own architecture")
    if kind == "state_dict":
        model = _from_state_dict(path, architecture)
    elif kind == "torchscript":
        model = torch.jit.load(str(path), map_location="cpu")
    elif kind == "torch.export":
        model = _exported_module(path)
    elif kind == "onnx":
        return OnnxRuntimeModel(path)
    else:
        model = artifact.load(path)
    return _eval(model)


def _exported_module(path: Path) -> nn.Module:
    """A ``torch.export`` program's module. One exported for a fixed batch size keeps it in
    ``module.fixed_batch`` (``"x: 2×13"``): it runs that batch only, and the lab's
    interface check (:func:`lab.models.interface.check_model`) refuses to measure it."""
    program = torch.export.load(str(path))
    module = program.module()
    inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        value = node.meta.get("val") if node.op == "placeholder" else None
        if node.name not in inputs or not isinstance(value, torch.Tensor) or value.ndim == 0:
            continue
        if isinstance(value.shape[0], int):
            module.fixed_batch = f"{node.name}: {'×'.join(map(str, value.shape))}"
            break
    return module


def _eval(model: nn.Module) -> nn.Module:
    try:
        return model.eval()
    except (NotImplementedError, RuntimeError):  # an exported program's module: no train/eval
        return model
