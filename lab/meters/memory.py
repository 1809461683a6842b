"""Peak memory of inference: planned from the traced execution order, and measured.

The survey's footprint is "model size, latency, RAM"; MCUNet (Lin et al. 2020) and MIT
6.5940 lab 3 count peak SRAM analytically. This module gives both views of one inference:

* :func:`planned_peak` — a **tensor-lifetime plan**. One forward pass runs under a
  ``TorchDispatchMode`` that records every aten operator in execution order, the storage of
  each tensor it produces (bytes from the real dtype: int8 activations take 1 byte) and
  which storages each operator reads, and (global module hooks, removed afterwards) when
  each module call returns and which tensors it took as arguments. A tensor lives from the
  operator that creates it to the last operator that reads it *and* to the return of every
  module call it is an argument of: eager PyTorch holds a module's arguments until its
  ``forward`` returns (``TransformerEncoderLayer``'s input after the residual add, a
  squeeze-excitation block's input). Views and in-place results share their base's
  storage; the model's outputs live to the end; the input is held by the caller throughout.
  The plan's peak is the weights (resident) plus the largest set of activations alive at
  once. ``lifetimes="last-use"`` drops the module-call rule: what an ideal memory planner
  (TFLite Micro's arena, MCUNet's) would need, never above the eager plan. Pruned
  channels and a lower resolution shrink it through the shapes; int8 activations through
  the dtype. At a large batch each activation's size is extrapolated linearly from traces
  at batch 1 and 2, or 2 and 3 where batch 1 runs other operators (checked: the two traces
  must run the same operators).
* :func:`measured_peak` — the **real high-water mark of tensor memory** during one
  inference on this machine: the same dispatch mode registers a ``weakref.finalize`` on
  the storage of every tensor an operator creates, so the live total goes up when an
  operator allocates a storage and down at the moment Python frees it (eager PyTorch frees
  a tensor when its last reference goes, which can be later than its last use: the
  measurement is never below the plan for the same operators). Exact at operator
  granularity for tensor memory; an operator's internal scratch (e.g. oneDNN's workspace),
  freed before it returns, is invisible to both. The process's resident-set increase over
  the call (``psutil``) is reported beside it: it includes the allocator's caching and
  torch's one-time initialisations, so it is context, not the figure.
* :func:`thin_memory` — scikit-learn estimators: the arrays the loaded estimator keeps
  (resident bytes) and the working memory of one prediction (``tracemalloc`` peak; numpy
  reports its allocations to it).

Fused fast paths that hide their insides (``nn.TransformerEncoderLayer``'s
``_transformer_encoder_layer_fwd``) are disabled while tracing by an empty
``TorchFunctionMode``, so the plan sees the same operator-by-operator execution a
microcontroller runtime would run. Nothing global is changed and the model is never
modified: a model in training mode is traced on an ``eval()`` copy.

Example:
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    >>> plan = planned_peak(net, torch.zeros(1, 8))
    >>> plan.weights_bytes, plan.peak_activation_bytes  # (8·16+16+16·4+4)·4; (8+16+16)·4
    (848, 160)
"""

from __future__ import annotations

import copy
import sys
import threading
import tracemalloc
import weakref
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = [
    "MemoryMeasurement",
    "MemoryPlan",
    "ThinMemory",
    "measured_peak",
    "memory_fields",
    "planned_peak",
    "thin_memory",
    "weights_bytes",
]

LIFETIMES = ("eager", "last-use")
PLAN_METHOD = (
    "tensor-lifetime plan over the traced aten operators (dispatch mode): weights resident + "
    "the largest set of activations alive at once (each from the operator creating it to its "
    "last reader and to the return of every module call it is an argument of, as eager "
    "PyTorch keeps it; bytes from the real dtypes; input held throughout)"
)
LAST_USE_METHOD = (
    "tensor-lifetime plan over the traced aten operators (dispatch mode): weights resident + "
    "the largest set of activations alive at once (each from the operator creating it to its "
    "last reader: an ideal arena planner's need; bytes from the real dtypes; input held "
    "throughout)"
)
MEASURE_METHOD = (
    "dispatch mode with weakref finalizers on every storage an operator creates: live tensor "
    "bytes at each operator, freed when Python frees them; weights counted as resident"
)


@dataclass(frozen=True)
class MemoryPlan:
    """Planned peak memory of one inference (bytes)."""

    weights_bytes: int  # parameters, buffers and packed int8 weights, resident throughout
    peak_activation_bytes: int  # largest set of activations (input included) alive at once
    peak_bytes: int  # weights_bytes + peak_activation_bytes
    batch: int  # samples per inference
    peak_op: str  # the operator at which the peak happens
    operators: int  # aten operators traced
    method: str = PLAN_METHOD

    def __repr__(self) -> str:
        return (
            f"MemoryPlan(peak {_kb(self.peak_bytes)} = weights {_kb(self.weights_bytes)} + "
            f"activations {_kb(self.peak_activation_bytes)} at batch {self.batch}, "
            f"at {self.peak_op})"
        )


@dataclass(frozen=True)
class MemoryMeasurement:
    """Measured high-water mark of tensor memory during one inference on this machine (bytes)."""

    weights_bytes: int
    peak_activation_bytes: int  # live tensor bytes at the high-water mark (input included)
    peak_bytes: int  # weights_bytes + peak_activation_bytes
    batch: int
    peak_op: str
    rss_increase_bytes: int  # the process's resident set after minus before the call
    method: str = MEASURE_METHOD

    def __repr__(self) -> str:
        return (
            f"MemoryMeasurement(peak {_kb(self.peak_bytes)} = weights "
            f"{_kb(self.weights_bytes)} + activations {_kb(self.peak_activation_bytes)} at "
            f"batch {self.batch}; RSS +{_kb(self.rss_increase_bytes)})"
        )


@dataclass(frozen=True)
class ThinMemory:
    """Memory of a scikit-learn estimator: what it keeps, and what one prediction needs."""

    resident_bytes: int  # the numpy arrays (and Python objects) the loaded estimator holds
    working_bytes: int  # tracemalloc peak while predicting one row
    method: str = (
        "resident: arrays reachable from the estimator's attributes (each counted once) + "
        "sys.getsizeof of the other objects; working: tracemalloc peak during predict(one row)"
    )


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


# ---------------------------------------------------------------------------------- weights


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def weights_bytes(model: nn.Module) -> int:
    """Bytes of the model's weights as they sit in memory: parameters, buffers, packed int8.

    Each storage is counted once (tied weights once). torch.ao quantized Conv/Linear keep
    their weights packed (not as parameters): their int8 weight and float bias are counted
    from ``module.weight()`` / ``module.bias()``.

    Example:
        >>> weights_bytes(torch.nn.Linear(10, 2))
        88
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    seen: set[int] = set()
    held: list[torch.Tensor] = []  # temporaries (unpacked int8 weights) kept alive: a freed
    total = 0  # one's address could be reused by the next and wrongly skipped

    def add(t: torch.Tensor | None) -> None:
        nonlocal total
        if not isinstance(t, torch.Tensor) or t.numel() == 0:
            return
        held.append(t)
        try:
            key = t.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError):  # opaque tensors (mkldnn): by identity
            key = id(t)
        if key in seen:
            return
        seen.add(key)
        total += _tensor_bytes(t) if t.is_quantized else _storage_bytes(t)

    for t in model.parameters():
        add(t)
    for t in model.buffers():
        add(t)
    for module in model.modules():
        if hasattr(module, "_weight_bias"):  # torch.ao quantized Conv/Linear (packed params)
            weight, bias = module._weight_bias()
            add(weight)
            add(bias)
    return total


def _storage_bytes(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError):
        return _tensor_bytes(t)


# ---------------------------------------------------------------------------------- tracing


@dataclass
class _Storage:
    birth: int  # operator index that created it
    last: int  # last operator index that read (or re-produced) it
    nbytes: int
    shape: tuple[int, ...]
    dtype: str
    freed: int | None = None  # operators run when Python freed it (None: still alive)


class _NoFastPath(TorchFunctionMode):
    """Active while tracing so fused fast paths (TransformerEncoderLayer) run op by op."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class _Recorder(TorchDispatchMode):
    """Records each operator's new storages and reads; keeps the live total with finalizers."""

    def __init__(self, preexisting: set[int]) -> None:
        super().__init__()
        self.preexisting = preexisting  # data_ptrs of weights and the input
        self.ops: list[str] = []
        self.storages: list[_Storage] = []
        self._key_of: dict[int, int] = {}  # id(storage object) → index in storages (live only)
        self.live_bytes = 0
        self.peak_bytes = 0
        self.peak_index = -1
        # module calls: (last operator inside the call, storages its tensor arguments hold)
        self.calls: list[tuple[int, list[int]]] = []

    def call_ended(self, arguments: object) -> None:
        """A module's forward returned: its arguments were referenced until now."""
        keys = []
        for t in tree_flatten(arguments)[0]:
            if isinstance(t, torch.Tensor):
                _, key = self._lookup(t)
                if key is not None:
                    keys.append(key)
        if keys:
            self.calls.append((len(self.ops) - 1, keys))

    def _free(self, obj_id: int, index: int) -> None:
        if self._key_of.get(obj_id) == index:
            del self._key_of[obj_id]
        self.live_bytes -= self.storages[index].nbytes
        self.storages[index].freed = len(self.ops)

    def _lookup(self, t: torch.Tensor) -> tuple[object, int | None]:
        try:
            storage = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return t, self._key_of.get(id(t))
        return storage, self._key_of.get(id(storage))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        index = len(self.ops)
        self.ops.append(str(func))
        for t in tree_flatten((args, kwargs))[0]:
            if isinstance(t, torch.Tensor):
                _, key = self._lookup(t)
                if key is not None:
                    self.storages[key].last = index
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            holder, key = self._lookup(t)
            if key is not None:  # a view or an in-place result: no new memory
                self.storages[key].last = index
                continue
            nbytes = _storage_bytes(t) if holder is not t else _tensor_bytes(t)
            if nbytes == 0:
                continue
            if holder is not t and holder.data_ptr() in self.preexisting:
                continue  # a view of a weight or of the input
            key = len(self.storages)
            self.storages.append(
                _Storage(index, index, nbytes, tuple(t.shape), str(t.dtype).replace("torch.", ""))
            )
            self._key_of[id(holder)] = key
            weakref.finalize(holder, self._free, id(holder), key)
            self.live_bytes += nbytes
            if self.live_bytes > self.peak_bytes:
                self.peak_bytes, self.peak_index = self.live_bytes, index
        return out

    def outputs(self, result: object) -> None:
        """Marks the storages of the model's outputs as alive to the end."""
        end = len(self.ops)
        for t in tree_flatten(result)[0]:
            if isinstance(t, torch.Tensor):
                _, key = self._lookup(t)
                if key is not None:
                    self.storages[key].last = end


class _ModuleCalls:
    """While active, tells ``recorder`` when each of ``net``'s modules returns (on this thread
    only), with its arguments. Global hooks: the model itself gets none; removed on exit."""

    def __init__(self, net: nn.Module, recorder: _Recorder) -> None:
        self.ids = {id(m) for m in net.modules()}
        self.recorder, self.thread = recorder, threading.get_ident()
        self.handle = None

    def _ended(self, module, args, kwargs, output=None) -> None:
        if id(module) in self.ids and threading.get_ident() == self.thread:
            self.recorder.call_ended((args, kwargs))

    def __enter__(self) -> _ModuleCalls:
        from torch.nn.modules.module import register_module_forward_hook

        self.handle = register_module_forward_hook(self._ended, with_kwargs=True, always_call=True)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


@dataclass
class _Trace:
    ops: list[str]
    storages: list[_Storage]
    input_bytes: int
    weights_bytes: int
    measured_activation_peak: int
    measured_peak_index: int
    batch: int
    calls: list[tuple[int, list[int]]]  # module calls: (last operator, argument storages)


def _inference_copy(model: nn.Module) -> nn.Module:
    """The model itself when it is in eval mode everywhere, else an eval() copy."""
    if any(m.training for m in model.modules()):
        return copy.deepcopy(model).eval()
    return model


def _batched(example: torch.Tensor, batch: int) -> torch.Tensor:
    # its own contiguous storage (a slice of a larger batch would count the whole batch)
    return (
        example[:1].expand(batch, *example.shape[1:]).clone(memory_format=torch.contiguous_format)
    )


def _check(model: object, example: object, batch: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(example, torch.Tensor) or example.dim() < 1 or example.shape[0] < 1:
        raise ValueError(
            "example must be a torch.Tensor with a batch dimension first (e.g. one sample, "
            f"shape 1×…); got {type(example).__name__}"
            + (f" of shape {tuple(example.shape)}" if isinstance(example, torch.Tensor) else "")
        )
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer; got {batch!r}")


def _trace(model: nn.Module, example: torch.Tensor, batch: int) -> _Trace:
    net = _inference_copy(model)
    x = _batched(example, batch)
    preexisting = set()
    for t in [*net.parameters(), *net.buffers(), x]:
        try:
            preexisting.add(t.untyped_storage().data_ptr())
        except (RuntimeError, NotImplementedError):
            pass
    recorder = _Recorder(preexisting)
    with torch.no_grad(), _NoFastPath(), _ModuleCalls(net, recorder), recorder:
        result = net(x)
    recorder.outputs(result)
    trace = _Trace(
        ops=recorder.ops,
        storages=recorder.storages,
        input_bytes=_tensor_bytes(x),
        weights_bytes=weights_bytes(net),
        measured_activation_peak=recorder.peak_bytes,
        measured_peak_index=recorder.peak_index,
        batch=batch,
        calls=recorder.calls,
    )
    del result
    return trace


def _lasts(trace: _Trace, lifetimes: str) -> list[int]:
    """The last operator each storage is alive at: its last reader ("last-use"), or also the
    end of every module call that took it as an argument ("eager": Python holds a module's
    arguments until its forward returns)."""
    lasts = [s.last for s in trace.storages]
    if lifetimes == "eager":
        for end, keys in trace.calls:
            for key in keys:
                lasts[key] = max(lasts[key], end)
    return lasts


def _sweep(
    storages: list[_Storage], lasts: list[int], sizes: list[int], n_ops: int
) -> tuple[int, int]:
    """(largest total of sizes alive at one operator, that operator's index)."""
    delta = np.zeros(n_ops + 2, dtype=np.int64)
    for s, last, size in zip(storages, lasts, sizes, strict=True):
        delta[s.birth] += size
        delta[min(last, n_ops) + 1] -= size
    alive = np.cumsum(delta)[: n_ops + 1]
    if len(alive) == 0 or alive.max() <= 0:
        return 0, -1
    i = int(alive.argmax())
    return int(alive[i]), i


def _op_text(trace: _Trace, index: int) -> str:
    if index < 0 or index >= len(trace.ops):
        return "the input (no operator allocates)"
    made = [s for s in trace.storages if s.birth == index]
    shape = f" → {list(made[0].shape)} {made[0].dtype}" if made else ""
    return f"{trace.ops[index]}{shape} (operator {index + 1} of {len(trace.ops)})"


def _plan_from(
    trace: _Trace, sizes: list[int], input_bytes: int, batch: int, lifetimes: str
) -> MemoryPlan:
    lasts = _lasts(trace, lifetimes)
    activations, index = _sweep(trace.storages, lasts, sizes, len(trace.ops))
    activations += input_bytes
    return MemoryPlan(
        weights_bytes=trace.weights_bytes,
        peak_activation_bytes=activations,
        peak_bytes=trace.weights_bytes + activations,
        batch=batch,
        peak_op=_op_text(trace, index),
        operators=len(trace.ops),
        method=PLAN_METHOD if lifetimes == "eager" else LAST_USE_METHOD,
    )


def planned_peak(
    model: nn.Module, example: torch.Tensor, *, batch: int = 1, lifetimes: str = "eager"
) -> MemoryPlan:
    """Planned peak memory of ``model`` on a batch of ``batch`` samples like ``example``.

    Args:
        model: the module (its mode and weights are left as they are).
        example: one input sample with its batch dimension (e.g. ``1×1×28×28``); only its
            first sample is used.
        batch: samples per inference. Above 2 each activation's size is extrapolated
            linearly from traces at batch 1 and 2 (so batch 256 of a 224 px model needs no
            gigabytes) — from batches 2 and 3 when batch 1 runs other operators (torch's
            attention does); if those differ too it is traced directly.
        lifetimes: ``"eager"`` (default): a tensor lives to its last reader and, as eager
            PyTorch keeps it, to the return of every module call it is an argument of (a
            ``TransformerEncoderLayer``'s input stays referenced by ``forward``'s argument
            after the residual add; a local variable a ``forward`` keeps after its last use
            is not modelled). ``"last-use"``: to its last reader only — what an ideal
            arena planner (TFLite Micro's, MCUNet's) needs; never above the eager plan.

    Example:
        >>> import torch
        >>> conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU())
        >>> planned_peak(conv, torch.zeros(1, 1, 8, 8)).peak_activation_bytes  # (64+2·256)·4
        2304
    """
    _check(model, example, batch)
    if lifetimes not in LIFETIMES:
        raise ValueError(f"lifetimes must be one of {LIFETIMES}; got {lifetimes!r}")
    return _plan(model, example, batch, lifetimes)


def _plan(
    model: nn.Module,
    example: torch.Tensor,
    batch: int,
    lifetimes: str = "eager",
    one: _Trace | None = None,
) -> MemoryPlan:
    """:func:`planned_peak`, reusing ``one`` (a batch-1 trace of the same model) if given."""
    if batch <= 2:
        trace = one if batch == 1 and one is not None else _trace(model, example, batch)
        sizes = [s.nbytes for s in trace.storages]
        return _plan_from(trace, sizes, trace.input_bytes, batch, lifetimes)
    one = one if one is not None else _trace(model, example, 1)
    two = _trace(model, example, 2)
    if not _same_program(one, two):
        # batch 1 may take other kernels (e.g. attention's), so extrapolate from 2 and 3
        three = _trace(model, example, 3) if batch > 3 else None
        if three is None or not _same_program(two, three):
            trace = _trace(model, example, batch)
            sizes = [s.nbytes for s in trace.storages]
            return _plan_from(trace, sizes, trace.input_bytes, batch, lifetimes)
        one, two, start = two, three, 2
    else:
        start = 1
    sizes = [
        a.nbytes + (b.nbytes - a.nbytes) * (batch - start)
        for a, b in zip(one.storages, two.storages, strict=True)
    ]
    input_bytes = one.input_bytes + (two.input_bytes - one.input_bytes) * (batch - start)
    return _plan_from(one, sizes, input_bytes, batch, lifetimes)


def _same_program(a: _Trace, b: _Trace) -> bool:
    """Whether two traces ran the same operators on the same storages (only sizes differ)."""
    return a.ops == b.ops and len(a.storages) == len(b.storages) and a.calls == b.calls


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def measured_peak(model: nn.Module, example: torch.Tensor, *, batch: int = 1) -> MemoryMeasurement:
    """The high-water mark of tensor memory during one real inference on this machine.

    Args:
        model: the module (its mode and weights are left as they are).
        example: one input sample with its batch dimension; its first sample is repeated
            ``batch`` times.
        batch: samples per inference (really run: mind the memory at large batches).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
        >>> measured_peak(net, torch.zeros(1, 8)).peak_activation_bytes  # (8+16+16)·4
        160
    """
    _check(model, example, batch)
    return _measured(*_traced_with_rss(model, example, batch))


def _traced_with_rss(model: nn.Module, example: torch.Tensor, batch: int) -> tuple[_Trace, int]:
    """One traced inference and the process's RSS increase beside it."""
    before = _rss()
    trace = _trace(model, example, batch)
    return trace, max(0, _rss() - before)


def _measured(trace: _Trace, rss_increase: int) -> MemoryMeasurement:
    """The real high-water mark a trace recorded (allocations and frees as they happened)."""
    batch = trace.batch
    activations = trace.input_bytes + trace.measured_activation_peak
    return MemoryMeasurement(
        weights_bytes=trace.weights_bytes,
        peak_activation_bytes=activations,
        peak_bytes=trace.weights_bytes + activations,
        batch=batch,
        peak_op=_op_text(trace, trace.measured_peak_index),
        rss_increase_bytes=rss_increase,
    )


# ------------------------------------------------------------------------------ thin models


def _deep_bytes(obj: object, seen: dict[int, object]) -> int:
    """Bytes of the arrays and objects reachable from ``obj`` (each object counted once).

    ``seen`` maps id → object and so keeps temporaries (``__getstate__`` results) alive:
    a freed temporary's id could otherwise be reused and wrongly skipped."""
    if id(obj) in seen:
        return 0
    seen[id(obj)] = obj
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        if base is not obj:
            return _deep_bytes(base, seen)
        if obj.dtype == object:
            return obj.nbytes + sum(_deep_bytes(v, seen) for v in obj.ravel())
        return obj.nbytes
    if isinstance(obj, (str, bytes, int, float, bool, type(None), np.generic)):
        return sys.getsizeof(obj)
    if isinstance(obj, dict):
        return sys.getsizeof(obj) + sum(
            _deep_bytes(k, seen) + _deep_bytes(v, seen) for k, v in obj.items()
        )
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sys.getsizeof(obj) + sum(_deep_bytes(v, seen) for v in obj)
    if isinstance(obj, type) or callable(obj) and not hasattr(obj, "__dict__"):
        return 0
    state = None
    if hasattr(obj, "__dict__"):
        state = vars(obj)
    elif hasattr(obj, "__getstate__"):  # Cython objects (sklearn's Tree) expose their arrays
        try:
            state = obj.__getstate__()
        except TypeError:
            state = None
    if state is None:
        return sys.getsizeof(obj)
    return sys.getsizeof(obj) + _deep_bytes(state, seen)


def thin_memory(estimator: object, one_row: object) -> ThinMemory:
    """Resident size of a fitted scikit-learn estimator and its working memory per prediction.

    Args:
        estimator: a fitted estimator (or Pipeline) with ``predict``.
        one_row: one sample, shape ``1×features`` (array-like).

    Example:
        >>> import numpy as np
        >>> from sklearn.linear_model import LogisticRegression
        >>> x = np.random.default_rng(0).normal(size=(40, 5)); y = (x[:, 0] > 0).astype(int)
        >>> mem = thin_memory(LogisticRegression().fit(x, y), x[:1])
        >>> mem.resident_bytes >= 5 * 8 + 8  # coef_ and intercept_ at least
        True
    """
    if not hasattr(estimator, "predict"):
        raise TypeError(
            f"estimator must be a fitted scikit-learn estimator with predict(); "
            f"got {type(estimator).__name__}"
        )
    row = np.asarray(one_row)
    if row.ndim != 2 or row.shape[0] != 1:
        raise ValueError(f"one_row must have shape 1×features; got shape {row.shape}")
    resident = _deep_bytes(estimator, {})
    estimator.predict(row)  # warm-up: one-time imports and caches are not working memory
    started = tracemalloc.is_tracing()
    if not started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        estimator.predict(row)
        working = max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        if not started:
            tracemalloc.stop()
    return ThinMemory(resident_bytes=int(resident), working_bytes=int(working))


# --------------------------------------------------------------------------- for evaluate()


def memory_fields(
    runtime_model: nn.Module, example_batch1: torch.Tensor, throughput_batch: int = 256
) -> dict:
    """Proposed Measurement fields: planned and measured peak memory of the executing model.

    Returns ``peak_memory_bytes`` (planned, batch 1), ``peak_activation_bytes`` (its
    activation part), ``peak_arena_bytes`` (the activations an ideal arena planner needs:
    each tensor freed after its last reader, as on a microcontroller), ``peak_memory_bytes_throughput`` (planned at ``throughput_batch``),
    ``peak_memory_measured_bytes`` (measured, batch 1), ``rss_increase_bytes`` (beside the
    measurement), ``peak_memory_op`` and ``memory_method``. A model holding no torch weights
    (it runs elsewhere, e.g. ONNX Runtime) gets ``None`` figures and the reason in
    ``memory_method``.

    Example:
        >>> import torch
        >>> fields = memory_fields(torch.nn.Linear(4, 2), torch.zeros(1, 4), throughput_batch=8)
        >>> fields["peak_memory_bytes"], fields["peak_memory_bytes_throughput"]
        (64, 232)
    """
    if weights_bytes(runtime_model) == 0:  # e.g. lab.export.OnnxRuntimeModel: runs outside torch
        return {
            "peak_memory_bytes": None,
            "peak_activation_bytes": None,
            "peak_arena_bytes": None,
            "peak_memory_bytes_throughput": None,
            "peak_memory_measured_bytes": None,
            "rss_increase_bytes": None,
            "peak_memory_op": None,
            "memory_method": (
                f"unavailable: {type(runtime_model).__name__} holds no torch weights (it runs "
                "outside torch, e.g. ONNX Runtime), so its memory cannot be traced"
            ),
        }
    _check(runtime_model, example_batch1, throughput_batch)
    # one batch-1 inference gives both the plan (tensor lifetimes in execution order) and the
    # measurement (the allocator's real high-water mark); the throughput plan adds batch 2
    one, rss_increase = _traced_with_rss(runtime_model, example_batch1, 1)
    plan = _plan(runtime_model, example_batch1, 1, one=one)
    big = _plan(runtime_model, example_batch1, throughput_batch, one=one)
    measured = _measured(one, rss_increase)
    arena = _plan(runtime_model, example_batch1, 1, "last-use", one=one)
    return {
        "peak_memory_bytes": plan.peak_bytes,
        "peak_activation_bytes": plan.peak_activation_bytes,
        "peak_arena_bytes": arena.peak_activation_bytes,
        "peak_memory_bytes_throughput": big.peak_bytes,
        "peak_memory_measured_bytes": measured.peak_bytes,
        "rss_increase_bytes": measured.rss_increase_bytes,
        "peak_memory_op": plan.peak_op,
        "memory_method": f"planned: {plan.method}; measured: {measured.method}",
    }


def as_dict(result: MemoryPlan | MemoryMeasurement | ThinMemory) -> dict:
    """The result as a plain dict (for JSON)."""
    return asdict(result)
