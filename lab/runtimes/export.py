"""Export for deployment: an ONNX file that computes what the lab's runtime computes.

:func:`to_onnx` writes one self-contained ONNX file for a :class:`~lab.techniques.apply.Compressed`
(the result of ``lab.apply(model, recipe)``) or a plain ``torch.nn.Module``:

* **fp32** runtimes (every recipe without int8 activations) are exported from the stored
  model with torch's ``dynamo=True`` exporter (``torch.export`` + onnxscript; the
  TorchScript-based exporter cannot translate the zoo ``cnn``'s 7→3 adaptive pooling).
  Stored weights are exported as they are: pruned zeros stay zeros, ``k``-bit weights
  are their dequantized values, exactly what the lab's fp32 runtime computes.
* **int8** runtimes (``recipe.quant.activations``) become a QDQ graph
  (QuantizeLinear/DequantizeLinear pairs around each operator, which ONNX Runtime fuses
  into int8 kernels): the fp32 graph above is quantized with
  ``onnxruntime.quantization.quantize_static`` — int8 weights per output channel
  (symmetric), uint8 activations whose ranges are calibrated (min/max) on the same
  training images the lab's own int8 model is calibrated on
  (:func:`lab.techniques.calibration_images`). Weights stored at fewer than 8 bits are
  re-quantized to int8 from their dequantized values (the lab's int8 runtime keeps their
  exact integers instead), so the two int8 models agree closely but not bit for bit.
* A lower **resolution** (``recipe.resolution``) is part of the graph, as in the lab
  (:class:`~lab.techniques.resolution.AtResolution`): the graph takes N×1×28×28 images
  and area-downsamples them itself.

Every graph has one input ``images`` (N×1×28×28 float32, normalized like
:mod:`lab.data`'s splits) and one output ``logits`` (N×10); the batch dimension is
dynamic. The file's metadata records what it executes as, the recipe and the resolution.
The input model is never modified: a copy is exported in eval mode.

:class:`OnnxRuntimeModel` runs such a file with ONNX Runtime's CPU provider behind a
``torch.nn.Module`` interface (tensors in, logits out), so the lab can measure it like any
runtime; :func:`onnxruntime_runtime` exports and loads in one call.

Needs the ``onnx``, ``onnxruntime`` and ``onnxscript`` packages.

Example:
    >>> from lab import zoo
    >>> from lab.techniques import apply, Recipe, QuantConfig
    >>> small = apply(zoo.load("cnn"), Recipe(quant=QuantConfig(bits=8, activations=True)))
    >>> to_onnx(small, "cnn_int8.onnx")  # doctest: +SKIP
    PosixPath('cnn_int8.onnx')
    >>> fast = onnxruntime_runtime(small)  # doctest: +SKIP
    >>> fast.executes_as  # doctest: +SKIP
    'onnxruntime int8 (QDQ)'
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lab.datasets import as_data
from lab.models.interface import ModelInterfaceError, check_model
from lab.techniques.compressed import Compressed, calibration_images
from lab.techniques.configs import Recipe, ResolutionConfig
from lab.techniques.resolution import AtResolution, check_runs_at

__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "OnnxRuntimeModel",
    "onnxruntime_runtime",
    "to_onnx",
]

INPUT_NAME = "images"
OUTPUT_NAME = "logits"
CALIBRATION_BATCH = 128  # images per calibration run of quantize_static
_META_PREFIX = "efficiency_lab."
_INPUT_DTYPES = {"tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(double)": "float64"}
_PACKAGES = "pip install onnx onnxruntime onnxscript"


def _require(module: str):
    """Import an optional dependency, or say which packages export needs."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"lab.export needs {module!r}: {_PACKAGES}") from exc


# --------------------------------------------------------------------------- checking inputs


def _is_int8_recipe(recipe: Recipe) -> bool:
    return recipe.quant is not None and recipe.quant.activations


def _check_float_module(module: nn.Module) -> None:
    """Reject modules that already run torch's int8 kernels: they have no ONNX translation."""
    quantized = any(
        type(m).__module__.startswith("torch.ao.nn.quantized") for m in module.modules()
    )
    tensors = [t for t in module.state_dict().values() if isinstance(t, torch.Tensor)]
    if quantized or any(t.is_quantized for t in tensors):
        raise TypeError(
            "to_onnx() exports float models; this one already runs torch int8 kernels "
            "(e.g. Compressed.runtime of an int8 recipe). Pass the Compressed itself: its "
            "int8 runtime is exported as a QDQ graph from its stored float model."
        )


def _source(model: nn.Module | Compressed) -> tuple[nn.Module, Recipe | None]:
    """The float module to export and the recipe (None for a plain module)."""
    if isinstance(model, Compressed):
        return model.model, model.recipe
    if isinstance(model, nn.Module):
        _check_float_module(model)
        return model, None
    raise TypeError(
        "to_onnx() needs a torch.nn.Module or a lab Compressed (the result of "
        f"lab.apply(model, recipe)); got {type(model).__name__}"
    )


def _data_of(model: nn.Module | Compressed, data_: object, check: bool = True):
    """The data the graph is for: a Compressed's own (``data`` may only repeat it), else
    ``data`` (default Fashion-MNIST) — checked to be what the module maps to logits."""

    if isinstance(model, Compressed):
        own = model.data if model.data is not None else as_data(None)
        if data_ is not None and as_data(data_).fingerprint != own.fingerprint:
            raise ValueError(
                f"this Compressed was made for {own.name!r} ({own.describe()}); the ONNX "
                f"graph takes its samples: pass data=None, or apply the recipe on "
                f"{as_data(data_).name!r} first"
            )
        return own
    dataset = as_data(data_)
    if not check:  # a plain module with its own example: the example gives the shape
        return dataset
    try:
        check_model(model, dataset)
    except ModelInterfaceError as exc:
        raise ValueError(
            f"cannot export for {dataset.name!r}: {exc}. Pass data= the data set the model "
            "was made for"
        ) from None
    return dataset


def _resolution(
    model: nn.Module | Compressed, resolution: int | None, dataset: object = None
) -> int | None:
    """The px the network processes: the Compressed's own, or ``resolution`` for a module
    (None: the data's native size; None for tabular data)."""
    if isinstance(model, Compressed):
        if resolution is not None and resolution != model.resolution:
            raise ValueError(
                f"this Compressed runs at {model.resolution} px (its recipe); pass "
                f"resolution=None or {model.resolution}, or apply a recipe with "
                f"ResolutionConfig({resolution})"
            )
        return model.resolution

    dataset = as_data(dataset)
    if resolution is None:
        return dataset.native_size
    return dataset.check_size(ResolutionConfig(resolution).size)  # an integer, in its range


def _example(
    example: torch.Tensor | None, int8: bool, dataset: object = None, strict: bool = False
) -> torch.Tensor:
    """A float example batch of at least 2 samples (batch 1 would be exported as a constant),
    shaped like ``dataset``'s samples; ``strict``: an ``example`` of another shape is refused
    (the model was made for that data)."""

    dataset = as_data(dataset)
    native = tuple(dataset.input_shape)
    if example is None:
        return torch.zeros(2, *native)
    if not isinstance(example, torch.Tensor) or example.dim() < 2 or not len(example):
        raise TypeError(
            "example must be a non-empty batch tensor N×… (e.g. torch.zeros(2, 1, 28, 28)); "
            f"got {type(example).__name__}"
        )
    if not example.is_floating_point():
        raise TypeError(f"example must be a float tensor; got {example.dtype}")
    shape = "×".join(map(str, native))
    if (int8 or strict) and tuple(example.shape[1:]) != native:
        raise ValueError(
            f"example has shape {tuple(example.shape)}, but the model was made for "
            f"{dataset.name!r}, whose samples are {shape}: the graph would take N×"
            f"{'×'.join(map(str, example.shape[1:]))} inputs it was not made for. Pass an "
            f"example shaped N×{shape} (or none)"
        )
    first = example.detach().cpu().float()[:1]
    return first.expand(2, *first.shape[1:]).clone()


def _target(path: str | os.PathLike) -> Path:
    """``path`` as a Path, after checking that a file can be written there."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike file name; got {type(path).__name__}")
    target = Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"cannot write the ONNX file: {target} is a directory; name a file")
    parent = target.parent
    if not parent.is_dir():
        kind = "is not a directory" if parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {target}: its folder {parent} {kind}")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise PermissionError(f"cannot write {target}: no write permission")
    return target


# --------------------------------------------------------------------------- exporting


def _inference_copy(module: nn.Module, resolution: int | None, dataset: object = None) -> nn.Module:
    """A CPU, eval-mode copy of ``module`` (wrapped to area-downsample to ``resolution`` px)."""

    dataset = as_data(dataset)
    copied = copy.deepcopy(module).cpu().eval()
    if resolution is None or resolution == dataset.native_size:
        return copied
    check_runs_at(copied, resolution, dataset)
    return AtResolution(copied, resolution).eval()


def _check_runs_on(module: nn.Module, example: torch.Tensor) -> None:
    """A ValueError when ``module`` fails on ``example`` (the exporter's own error for that
    is pages of tracing output): the graph would be made for inputs the model cannot take."""
    try:
        with torch.no_grad():
            module(example)
    except Exception as exc:  # noqa: BLE001 - any failure: the example does not fit
        said = " ".join(str(exc).split())[:300]
        shape = "×".join(map(str, example.shape[1:]))
        raise ValueError(
            f"{type(module).__name__} fails on the example's samples ({shape}): "
            f"{type(exc).__name__}: {said}. Pass an example shaped like the model's input, "
            "or data= the data set it was made for"
        ) from exc


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings from the exporter and quantizer (their progress output is off already:
    ``verbose=False``, min/max calibration)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _export_fp32(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Write ``module`` as an fp32 ONNX graph with a dynamic batch dimension."""
    _require("onnxscript")
    batch = torch.export.Dim("batch")
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                dynamic_shapes=({0: batch},),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                external_data=False,
                verbose=False,
            )
            program.save(path, external_data=False)
    except Exception as exc:
        raise RuntimeError(
            f"torch.onnx.export (dynamo) could not export {type(module).__name__}: "
            f"{type(exc).__name__}: {str(exc)[:500]}"
        ) from exc


class _Calibration:
    """Feeds calibration images to quantize_static, ``CALIBRATION_BATCH`` at a time."""

    def __init__(self, images: torch.Tensor) -> None:
        self._batches = iter(images.split(CALIBRATION_BATCH))

    def get_next(self) -> dict | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch.contiguous().numpy()}


def _quantize_qdq(fp32: Path, target: Path, images: torch.Tensor, scratch: Path) -> None:
    """Quantize an fp32 ONNX file to QDQ int8: per-channel int8 weights, calibrated uint8
    activations (min/max over ``images``)."""
    quantization = _require("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = scratch / "prepared.onnx"
    reader = _Calibration(images)
    with _quiet():
        quant_pre_process(str(fp32), str(prepared))  # shape inference + ORT graph clean-up
        quantization.quantize_static(
            str(prepared),
            str(target),
            reader,
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            calibrate_method=quantization.CalibrationMethod.MinMax,
        )


def _executes_as(recipe: Recipe | None) -> str:
    """What ONNX Runtime will run for ``recipe`` (None: a plain module, fp32)."""
    quant = recipe.quant if recipe is not None else None
    if quant is None:
        return "onnxruntime fp32"
    if quant.activations:
        extra = f"; {quant.bits}-bit weights execute as int8" if quant.bits < 8 else ""
        return f"onnxruntime int8 (QDQ){extra}"
    return f"onnxruntime fp32 ({quant.bits}-bit weights dequantized)"


def _stamp(path: Path, metadata: dict[str, str]) -> None:
    """Record ``metadata`` in the ONNX file's ``metadata_props``."""
    onnx = _require("onnx")
    proto = onnx.load(str(path))
    existing = {p.key: p for p in proto.metadata_props}
    for key, value in metadata.items():
        entry = existing.get(_META_PREFIX + key) or proto.metadata_props.add()
        entry.key, entry.value = _META_PREFIX + key, value
    onnx.save(proto, str(path))


def to_onnx(
    model: nn.Module | Compressed,
    path: str | os.PathLike,
    *,
    resolution: int | None = None,
    example: torch.Tensor | None = None,
    data: object = None,
) -> Path:
    """Write ``model`` as one ONNX file at ``path`` and return the path.

    Args:
        model: a :class:`~lab.techniques.apply.Compressed` (``lab.apply``'s result: int8
            recipes become QDQ graphs, everything else fp32) or a plain float
            ``torch.nn.Module`` (exported in fp32, in eval mode). Never modified.
        path: the file to write (its folder must exist); replaced if it exists.
        resolution: plain modules only: run the network at this many px (4–28), with the
            graph area-downsampling its 28 px input like the lab's resolution knob. A
            Compressed runs at its recipe's resolution.
        example: an input batch whose shape (apart from the batch size) the graph takes;
            default the data's sample shape (N×1×28×28). Only the first sample is used;
            the batch stays dynamic. For a Compressed, or with ``data``, it must have the
            data's sample shape.
        data: plain modules only: the data set the module was made for (anything
            :func:`lab.datasets.as_data` takes; default Fashion-MNIST), checked by running
            the module on it. A Compressed is exported for the data it was made for.

    Raises:
        TypeError: ``model`` is neither a module nor a Compressed, or already runs torch
            int8 kernels; ``example`` or ``path`` have the wrong type.
        ValueError: a resolution outside the data's range (or different from a
            Compressed's own), a model that cannot run at it, or a model, ``data`` or
            ``example`` made for another data set's shape.
        OSError: ``path`` cannot be written (missing folder, a directory, no permission).
        RuntimeError: torch's exporter failed (the message says why).
    """
    module, recipe = _source(model)
    dataset = _data_of(model, data, check=example is None or data is not None)
    size = _resolution(model, resolution, dataset)
    int8 = recipe is not None and _is_int8_recipe(recipe)
    strict = isinstance(model, Compressed) or data is not None
    example = _example(example, int8, dataset, strict)
    target = _target(path)
    exported = _inference_copy(module, size, dataset)
    _check_runs_on(exported, example)
    executes_as = _executes_as(recipe)
    with tempfile.TemporaryDirectory(prefix="lab-onnx-") as tmp:
        scratch = Path(tmp)
        fp32 = scratch / "fp32.onnx"
        _export_fp32(exported, example, fp32)
        result = fp32
        if int8:
            result = scratch / "int8.onnx"
            _quantize_qdq(fp32, result, calibration_images(data=dataset), scratch)
        _stamp(
            result,
            {
                "executes_as": executes_as,
                "recipe": recipe.to_json() if recipe is not None else "{}",
                "resolution": str(size),
                "data": dataset.name,
                "input_shape": "x".join(map(str, example.shape[1:])),
            },
        )
        try:
            shutil.copyfile(result, target)
        except OSError as exc:
            raise type(exc)(f"cannot write {target}: {exc}") from exc
    return target


# --------------------------------------------------------------------------- running


def _session(onnx_bytes: bytes, threads: int):
    """A CPU InferenceSession on ``threads`` intra-op threads (no spinning between runs)."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    # Idle worker threads otherwise spin for a while after each run, taking CPU from
    # whatever runs next (torch, in the lab's interleaved timings) on a small machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ValueError(f"ONNX Runtime cannot load this model: {exc}") from exc


class OnnxRuntimeModel(nn.Module):
    """An ONNX model run by ONNX Runtime on the CPU, as a ``torch.nn.Module``: tensors in, logits out.

    Args:
        model: an ONNX file (path) or its bytes, e.g. written by :func:`to_onnx`.
        threads: intra-op threads; default ``torch.get_num_threads()`` at construction,
            so ONNX Runtime and torch are measured on the same number of cores.
        executes_as: what runs; default read from the file's metadata (written by
            :func:`to_onnx`), else "onnxruntime int8 (QDQ)" or "onnxruntime fp32" from
            whether the graph has QuantizeLinear nodes.

    ``forward`` takes a float tensor shaped like the graph's input (N×1×28×28 for the lab's
    models), returns a CPU float tensor, and never tracks gradients. ``train()``/``eval()``
    change nothing (the graph is inference-only). Copying or pickling the module
    rebuilds its session from the ONNX bytes it keeps (``onnx_bytes``).
    """

    def __init__(
        self,
        model: str | os.PathLike | bytes,
        *,
        threads: int | None = None,
        executes_as: str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(model, (bytes, bytearray)):
            onnx_bytes = bytes(model)
        elif isinstance(model, (str, os.PathLike)):
            onnx_bytes = Path(model).read_bytes()
        else:
            raise TypeError(
                f"OnnxRuntimeModel needs an ONNX file path or its bytes; got {type(model).__name__}"
            )
        threads = torch.get_num_threads() if threads is None else threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer ≥ 1; got {threads!r}")
        self._load(onnx_bytes, threads, executes_as)

    def _load(self, onnx_bytes: bytes, threads: int, executes_as: str | None) -> None:
        self.onnx_bytes, self.threads = onnx_bytes, threads
        self.session = _session(onnx_bytes, threads)
        self.input_name = self.session.get_inputs()[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.executes_as = (
            executes_as or metadata.get(_META_PREFIX + "executes_as") or _guess(onnx_bytes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"expected a torch.Tensor of images; got {type(x).__name__}")
        kind = self.session.get_inputs()[0].type  # "tensor(float)", "tensor(int64)" (token ids)…
        dtype = _INPUT_DTYPES.get(kind, "float32")
        expected = self.session.get_inputs()[0].shape  # ints where fixed, names where dynamic
        if len(expected) != x.dim() or any(
            isinstance(e, int) and e != g for e, g in zip(expected, x.shape, strict=False)
        ):
            shown = "×".join(str(e) if isinstance(e, int) else "N" for e in expected)
            raise ValueError(
                f"this ONNX graph takes inputs shaped {shown}; got {tuple(x.shape)}. It was "
                "exported for that shape: export it again with a dynamic batch axis "
                f"(torch.onnx.export(..., dynamic_axes={{{self.input_name!r}: {{0: 'batch'}}}})),"
                " or with lab.export.to_onnx(..., data=…) for other data"
            )
        array = np.ascontiguousarray(x.detach().cpu().numpy().astype(dtype, copy=False))
        (logits,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(logits)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("session")  # an InferenceSession cannot be copied or pickled
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.session = _session(self.onnx_bytes, self.threads)

    def extra_repr(self) -> str:
        return f"{self.executes_as!r}, threads={self.threads}, {len(self.onnx_bytes):,} bytes"


def _guess(onnx_bytes: bytes) -> str:
    """'onnxruntime int8 (QDQ)' if the graph quantizes anything, else 'onnxruntime fp32'."""
    onnx = _require("onnx")
    ops = {node.op_type for node in onnx.load_from_string(onnx_bytes).graph.node}
    return "onnxruntime int8 (QDQ)" if "QuantizeLinear" in ops else "onnxruntime fp32"


def onnxruntime_runtime(
    model: nn.Module | Compressed, *, threads: int | None = None
) -> OnnxRuntimeModel:
    """Export ``model`` (a Compressed or a float module, see :func:`to_onnx`) to a temporary
    file and load it in ONNX Runtime; the file is deleted, the model keeps its bytes."""
    with tempfile.TemporaryDirectory(prefix="lab-onnx-") as tmp:
        path = to_onnx(model, Path(tmp) / "model.onnx")
        return OnnxRuntimeModel(path, threads=threads)
