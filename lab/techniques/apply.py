"""One verb: ``apply(model, recipe)`` returns a new, compressed model; the input is never modified.

Order: resolution → prune → fine-tune (masks kept, at the target resolution) →
quantize (QAT when fine-tuning) → optional real int8 execution. Fine-tuning distills
from a teacher when ``FinetuneConfig.teacher`` names one (``"original"``: the input model).

Each technique is one :class:`Step` in :data:`STEPS` (when it applies, what it does to the
work in progress); adding a technique means adding its config to the recipe and its step
here. The result is a :class:`Compressed`: the stored model (what :mod:`lab.artifact`
writes, FLOPs are counted on it), what actually executes, and plain notes on what the
recipe really changed and what it did not.

An fp32 runtime (every recipe without int8 activations, the baseline included) is an
inference copy of the stored model that computes the same function faster
(:func:`lab.techniques.runtime.fast_fp32`: batch norm folded, ``channels_last``).
``executes_as`` says what was done.

Example:
    >>> from lab import zoo
    >>> from lab.techniques import Recipe, PruneConfig, QuantConfig
    >>> out = apply(zoo.build("cnn"), Recipe(prune=PruneConfig(0.5), quant=QuantConfig(bits=4)))
    >>> out.executes_as
    'fp32 (4-bit weights dequantized, BN folded, channels_last)'
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from tqdm.auto import tqdm

from lab.datasets import Data, as_data
from lab.meters import machine
from lab.meters.device import on_device, resolve_device
from lab.models import zoo
from lab.models.fingerprint import fingerprint
from lab.models.interface import check_model
from lab.models.training import fit
from lab.techniques import int8, pruning, quantization, transformers
from lab.techniques.compressed import Compressed, calibration_images
from lab.techniques.configs import Recipe
from lab.techniques.distillation import LossFn, finetune_loss
from lab.techniques.resolution import AtResolution, check_runs_at
from lab.techniques.runtime import fast_fp32

__all__ = ["RUNTIMES", "STEPS", "Compressed", "Step", "apply", "calibration_images"]


@dataclass
class _Work:
    """A recipe being applied: the model so far, what executes, and the notes."""

    original: nn.Module
    recipe: Recipe
    progress: bool
    data: Data
    resolution: int | None = None  # px per side (None: tabular data)
    model: nn.Module | None = None  # the model so far (``original`` until a step copies it)
    loss_fn: LossFn | None = None  # fine-tuning loss (distillation when a teacher is named)
    runtime: nn.Module | None = None  # set by a step that builds its own runtime (int8)
    executes_as: str = "fp32"
    backend: str = "torch"  # apply()'s runtime=: "onnxruntime" builds its own int8 graph
    details: list[str] = field(default_factory=list)  # what the fp32 runtime says it runs
    notes: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Training input sizes: the resolution the model will run at (() for tabular data)."""
        return () if self.resolution is None else (self.resolution,)

    def own_copy(self) -> nn.Module:
        """The model so far, copied first if it still is the caller's."""
        if self.model is self.original:
            self.model = copy.deepcopy(self.original)
        return self.model

    def trained(self) -> None:
        self.model.cpu()  # trained on CUDA when present; the lab measures and stores on the CPU


@dataclass(frozen=True)
class Step:
    """One technique: ``applies(recipe)`` says whether it runs; ``run(work)`` does it."""

    name: str
    applies: Callable[[Recipe], bool]
    run: Callable[[_Work], None]


def _resolution(work: _Work) -> None:
    size = work.recipe.resolution.size
    check_runs_at(work.original, size, work.data)  # restores every submodule's mode
    work.resolution = size
    native = work.data.native_size
    work.notes.append(
        f"input area-downsampled from {native}×{native} to {size}×{size} px: "
        f"{size**2 / native**2:.0%} of the pixels"
    )


def _prune(work: _Work) -> None:

    config, finetune = work.recipe.prune, work.recipe.finetune
    gradual = (
        finetune is not None and finetune.gradual_steps > 1 and config.structure == "unstructured"
    )
    if gradual:  # finetune_pruned prunes along its schedule, starting dense
        work.own_copy()
    else:
        example = work.data.example(1, work.resolution)
        work.model = pruning.prune(work.model, config, example_input=example)

    if config.structure == "unstructured":
        work.notes.append(
            "unstructured sparsity shrinks the file, but the zeros still execute "
            "(no sparse kernels): latency and FLOPs unchanged"
        )
    elif transformers.attention_layers(work.original):
        work.notes.append(transformers.pruning_note(work.original, work.model))
    else:
        work.notes.append("channel pruning removed filters: FLOPs and latency really drop")
    if finetune is not None:  # before quantizing (then QAT gets the same budget)
        pruning.finetune_pruned(
            work.model,
            finetune,
            config,
            sizes=work.sizes,
            loss_fn=work.loss_fn,
            progress=work.progress,
            data=work.data,
        )
        work.trained()


def _finetune(work: _Work) -> None:
    """Fine-tuning alone (with pruning it runs inside the prune step; with quantization, as QAT)."""

    config = work.recipe.finetune.train_config(work.sizes)
    fit(work.own_copy(), config, loss_fn=work.loss_fn, progress=work.progress, data=work.data)
    work.trained()


def _quantize(work: _Work) -> None:

    config, finetune = work.recipe.quant, work.recipe.finetune
    weights_only = replace(config, activations=False)
    if finetune is not None:
        work.model = quantization.quantization_aware_finetune(
            work.model,
            weights_only,
            finetune,
            size=work.resolution,
            loss_fn=work.loss_fn,
            progress=work.progress,
            data=work.data,
        )
    else:
        work.model = quantization.quantize(work.model, weights_only)
    if not config.activations:
        work.details.append(f"{config.bits}-bit weights dequantized")
        work.notes.append(
            f"weights stored at {config.bits} bits; without int8 activations they execute "
            "in fp32, the baseline's kernels (a smaller file; expect no speed-up: a latency "
            "difference comes from when each was timed, not from the bits)"
        )
        return

    work.model.eval()
    if work.backend == "onnxruntime":  # token models: ONNX Runtime's dynamic int8 (in apply)
        work.notes.append(
            "ONNX Runtime dynamic int8: every MatMul/Gemm with constant weights (the attention "
            "projections included) stores int8 weights per channel and quantizes its input per "
            "batch; attention's score and weighted-sum MatMuls stay fp32"
        )
        return
    runtime, executes_as, notes = _int8_runtime(work)
    work.runtime, work.executes_as = runtime, executes_as
    work.notes += notes
    if config.bits < 8:
        work.notes.append(
            f"{config.bits}-bit weights have no {config.bits}-bit kernel: they execute as int8"
        )
    if not machine.int8_instructions():
        work.notes.append(
            f"this CPU ({machine.cpu_model()}, {machine.cpu_capability()}) has no VNNI/AMX "
            "int8 instructions: int8 kernels may run little faster than fp32 here"
        )


INT8_CACHE_ENTRIES = 16  # int8 runtimes kept in-process: a slider never converts twice
INT8_TIMING_BUDGET_S = 2.0  # fp32 vs int8 side by side, to say when int8 is slower
_INT8_CACHE: OrderedDict[str, tuple[nn.Module, str, list[str]]] = OrderedDict()
_INT8_LOCK = threading.Lock()


def _int8_key(work: _Work) -> str:

    return "|".join(
        (
            fingerprint(work.model),
            work.recipe.to_json(),
            work.data.fingerprint,
            str(work.resolution),
            str(torch.get_num_threads()),
        )
    )


def _int8_runtime(work: _Work) -> tuple[nn.Module, str, list[str]]:
    """The int8 runtime of ``work.model`` (dynamic int8 for transformers and embedding
    models, static int8 calibrated on training images otherwise), what executes, and notes —
    cached by model content, recipe and data, so the same configuration converts once."""

    key = _int8_key(work)
    with _INT8_LOCK:
        if key in _INT8_CACHE:
            _INT8_CACHE.move_to_end(key)
            return _INT8_CACHE[key]
    fp32 = _wrap(work.model, work.resolution, work.data)
    dynamic = transformers.is_sequence_model(work.model) or work.data.kind == "tokens"
    steps = ["convert (dynamic int8)"] if dynamic else ["calibrate + convert (static int8)"]
    with tqdm(steps, desc="int8", disable=not work.progress, leave=False) as bar:
        for _ in bar:
            if dynamic:
                runtime, executes_as, notes = transformers.dynamic_int8(fp32)
            else:
                calibration = calibration_images(data=work.data)  # native size: runtime resizes
                runtime = int8.to_int8(fp32, calibration)
                executes_as, notes = getattr(runtime, "executes_as", "int8"), []
    slower = transformers.int8_speed_note(
        fp32, runtime, work.data.example(8), budget_s=INT8_TIMING_BUDGET_S
    )
    notes = notes + ([slower] if slower else [])
    with _INT8_LOCK:
        _INT8_CACHE[key] = (runtime, executes_as, notes)
        while len(_INT8_CACHE) > INT8_CACHE_ENTRIES:
            _INT8_CACHE.popitem(last=False)
    return runtime, executes_as, notes


STEPS: tuple[Step, ...] = (
    Step("resolution", lambda r: r.resolution is not None, _resolution),
    Step("prune", lambda r: r.prune is not None, _prune),
    Step(
        "finetune",
        lambda r: r.finetune is not None and r.prune is None and r.quant is None,
        _finetune,
    ),
    Step("quant", lambda r: r.quant is not None, _quantize),
)


RUNTIMES = ("torch", "onnxruntime")


def apply(
    model: nn.Module,
    recipe: object = None,
    *,
    progress: bool = True,
    runtime: str = "torch",
    data: object = None,
    device: str | torch.device | None = None,
) -> Compressed:
    """Apply ``recipe`` to a copy of ``model`` and return a :class:`Compressed`.

    Args:
        model: any ``torch.nn.Module`` with Conv2d/Linear layers mapping a batch of the
            data's samples (N×1×28×28 Fashion-MNIST images by default) to N×K logits
            (checked up front, with a clear error).
        recipe: a :class:`Recipe`, one technique config (e.g. ``PruneConfig(0.5)``), or
            ``None`` / an empty recipe to measure the model as it is.
        progress: show progress bars during fine-tuning.
        runtime: what executes: ``"torch"`` (the lab's fp32 runtime or torch's int8
            kernels) or ``"onnxruntime"`` (the same model exported by :mod:`lab.export`,
            int8 as QDQ; faster at batch 1 on many CPUs). ``executes_as`` says which.
        data: the data fine-tuning trains on and int8 calibrates with, whose native size
            the resolution is relative to: anything :func:`lab.datasets.as_data` accepts
            (default Fashion-MNIST).
        device: where the runtime executes: None (the CPU), ``"cuda"`` or ``"auto"`` (a GPU
            when present; see :mod:`lab.device`). The stored model stays on the CPU.
    """
    if runtime not in RUNTIMES:
        raise ValueError(
            f"runtime must be one of {', '.join(map(repr, RUNTIMES))}; got {runtime!r}"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"apply() needs a torch.nn.Module, got {type(model).__name__}")
    resolve_device(device)  # an unavailable device fails before any work
    dataset = as_data(data)
    if runtime == "onnxruntime" and not dataset.is_default and dataset.kind != "tokens":
        raise ValueError(
            "runtime='onnxruntime' exports Fashion-MNIST-shaped graphs only so far; "
            f"measure {dataset.name!r} with runtime='torch'"
        )
    recipe = dataset.canonical(Recipe.of(recipe))
    check_model(model, dataset)
    teacher = recipe.finetune.teacher if recipe.finetune is not None else None
    if teacher not in (None, "original") and not zoo.fits(dataset):
        raise ValueError(
            f"teacher={teacher!r} is a Fashion-MNIST zoo model; on {dataset.name!r} use "
            "teacher='original' (the model before compression) or None"
        )
    work = _Work(
        original=model,
        recipe=recipe,
        progress=progress,
        data=dataset,
        model=model,
        resolution=dataset.native_size,
        backend=runtime if dataset.kind == "tokens" else "torch",
    )
    work.loss_fn = finetune_loss(recipe.finetune, model)
    for step in STEPS:
        if step.applies(recipe):
            step.run(work)
    stored = work.own_copy().eval()
    executes = work.runtime
    if executes is None:  # fp32: a faster copy computing the same function (stored model untouched)
        fast, done = fast_fp32(stored, dataset.example(1, work.resolution))
        details = ", ".join(d for d in (*work.details, *done) if d)
        work.executes_as = f"fp32 ({details})" if details else "fp32"
        executes = _wrap(fast, work.resolution, dataset)
    compressed = Compressed(
        model=stored,
        runtime=executes.eval(),
        recipe=recipe,
        resolution=work.resolution,
        executes_as=work.executes_as,
        notes=work.notes,
        original=model,
        data=dataset,
    )
    if runtime == "onnxruntime" and dataset.kind == "tokens":  # the standard int8: dynamic
        int8 = recipe.quant is not None and recipe.quant.activations
        from lab.runtimes.onnx_dynamic import onnxruntime_model  # runtimes sit above, on request

        compressed.runtime = onnxruntime_model(stored, dataset.example(2), int8=int8)
        compressed.executes_as = compressed.runtime.executes_as
    elif runtime == "onnxruntime":
        from lab.runtimes.export import onnxruntime_runtime

        compressed.runtime = onnxruntime_runtime(compressed)
        compressed.executes_as = compressed.runtime.executes_as
    placed = on_device(compressed.runtime, device)
    if placed is not compressed.runtime:
        compressed.runtime = placed.eval()
        compressed.executes_as += f" on {placed.executes_on}"
    return compressed


def _wrap(model: nn.Module, resolution: int | None, dataset: Data) -> nn.Module:
    return model if resolution == dataset.native_size else AtResolution(model, resolution)
