"""Self-checking workshop exercises: every answer is checked by *measuring* it.

Each :class:`Exercise` has an id, a task, a measurable goal, a check and two or three graded
hints. :func:`check` measures the answer with the lab itself (``lab.evaluate``, the
sensitivity scan, timed runs) and returns a :class:`Result`: ``✓ done`` with the measured
figures, or ``not yet`` with a hint — the closer the answer, the more specific the hint. The
solution is never printed, and nothing is compared with a stored answer: the reference (the
smallest file, the most sensitive layer, …) is measured at check time, on this machine.

An unanswered exercise (``None`` or ``...``) gets the first hint; an answer of the wrong
kind gets a message saying what was expected. Neither raises.

Example:
    >>> from lab import exercises
    >>> exercises.check("smallest-file", None).done
    False
    >>> exercises.show("smallest-file")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import torch

from lab.datasets import as_data
from lab.decide.learning import learning_curve
from lab.decide.pareto import pareto_front
from lab.evaluation.measure import evaluate, fingerprint
from lab.meters import energy
from lab.models import families, thin, zoo
from lab.runtimes.deployment import RUNTIMES, compare_runtimes, interleaved_ms
from lab.techniques.apply import apply
from lab.techniques.configs import QuantConfig, Recipe, ResolutionConfig
from lab.techniques.pruning import prunable_layers, sensitivity_scan

__all__ = [
    "EXERCISES",
    "Exercise",
    "Result",
    "check",
    "for_notebook",
    "get",
    "notebooks",
    "show",
]

ACCURACY_SPLIT = "live"  # every accuracy here is on the 2,000-image live split
LEAST_COMPUTE_ACCURACY = 0.90
CLEAN_GRID_REFERENCE = "USA"
CLEAN_GRID_FACTOR = 0.1
SENSITIVITY_SPARSITY = 0.9
FEWEST_BITS_LOSS = 0.01  # within 1 point of fp32
LOWEST_RESOLUTION_ACCURACY = 0.75
RESOLUTION_BYTES_SIZE = 14
INT8_SLOWER_MARGIN = 1.05  # "slower" means by more than timing noise


class _BadAnswer(Exception):
    """The answer has the wrong kind or an impossible value; the message says what is expected."""


@dataclass(frozen=True)
class Verdict:
    """What a check measured: ``done``, how close (``level`` indexes the hints), and why."""

    done: bool
    detail: str
    level: int = 0
    measured: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Exercise:
    """One exercise: what to do, the measurable goal, the form of the answer, graded hints."""

    id: str
    notebook: str  # the notebook it belongs to, e.g. "01_pruning"
    title: str
    task: str
    goal: str
    answer_form: str  # what ``answer`` should be, e.g. 'a zoo model name such as "cnn"'
    hints: tuple[str, ...]  # general → specific; a closer answer gets a later one
    measure: Callable[[object], Verdict] = field(repr=False, compare=False)
    take_home: bool = False  # needs minutes of fine-tuning: not run in the workshop

    def check(self, answer: object) -> Result:
        """Measure ``answer`` against the goal (see :func:`check`)."""
        return check(self.id, answer)

    def _repr_html_(self) -> str:
        rows = [
            f"<b>Exercise <code>{html.escape(self.id)}</code>: {html.escape(self.title)}</b>",
            html.escape(self.task),
            f"<b>Goal</b> (checked by measuring): {html.escape(self.goal)}",
            f"<b>Answer</b>: {html.escape(self.answer_form)} — then run "
            f"<code>exercises.check({self.id!r}, answer)</code>",
        ]
        return (
            '<div style="border-left:4px solid #4a7bd0;padding:4px 10px;margin:4px 0">'
            + "<br>".join(rows)
            + "</div>"
        )

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return (
            f"Exercise {self.id}: {self.title}\n{self.task}\n"
            f"Goal (checked by measuring): {self.goal}\n"
            f"Answer: {self.answer_form} — then run exercises.check({self.id!r}, answer)"
        )


@dataclass(frozen=True)
class Result:
    """The outcome of :func:`check`: ``done``, the message, the hint level, what was measured."""

    exercise: str
    done: bool
    message: str
    hint_level: int | None = None  # index of the hint given; None when done
    measured: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.done

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"[{self.exercise}] {self.message}"

    def _repr_html_(self) -> str:
        colour = "#2e8b57" if self.done else "#d08a1e"
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
            f"<code>{html.escape(self.exercise)}</code>: "
            f"{html.escape(self.message).replace(chr(10), '<br>')}</div>"
        )


# ----------------------------------------------------------------------------- helpers


def _kind(value: object) -> str:
    return type(value).__name__


def _zoo_name(answer: object) -> str:

    names = zoo.names()
    if not isinstance(answer, str):
        raise _BadAnswer(
            f"this exercise wants a zoo model's name (one of {', '.join(names)}); "
            f"you gave a {_kind(answer)}."
        )
    name = answer.strip().lower()
    if name not in names:
        raise _BadAnswer(f"{answer!r} is not a zoo model; choose one of {', '.join(names)}.")
    return name


def _integer(answer: object, what: str, low: int, high: int) -> int:
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)):
        if isinstance(answer, (float, np.floating)) and float(answer).is_integer():
            answer = int(answer)
        else:
            raise _BadAnswer(f"this exercise wants {what}: a whole number; you gave {answer!r}.")
    value = int(answer)
    if not low <= value <= high:
        raise _BadAnswer(f"{what} must be between {low} and {high}; you gave {value}.")
    return value


def _recipe(answer: object):

    try:
        return Recipe.of(answer)
    except (TypeError, ValueError) as exc:
        raise _BadAnswer(
            "this exercise wants a recipe: a Recipe(...) or one technique config such as "
            f"PruneConfig(...); you gave a {_kind(answer)} ({exc})."
        ) from None


def _measure(model, recipe=None, name: str = "cnn"):
    """One quick evaluation on the live split (served from the store when already measured)."""

    return evaluate(model, recipe, split=ACCURACY_SPLIT, name=name, effort="quick")


def _zoo_measurements() -> dict:

    return {name: _measure(zoo.load(name), name=name) for name in zoo.names()}


def _cnn():

    return zoo.load("cnn")


def _kb(n_bytes: float) -> str:
    return f"{n_bytes / 1000:,.1f} KB"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"


def _rank_level(rank: int) -> int:
    """0-based rank of the answer (0 = right) → hint level: second best gets the last hint."""
    return {1: 2, 2: 1}.get(rank, 0)


def _distance_level(distance: float, near: float, far: float) -> int:
    return 2 if distance <= near else 1 if distance <= far else 0


# ------------------------------------------------------------------------ 00 start here


def _smallest_file(answer: object) -> Verdict:
    name = _zoo_name(answer)
    found = _zoo_measurements()
    order = sorted(found, key=lambda n: found[n].artifact_bytes)
    mine = found[name].artifact_bytes
    smallest = found[order[0]].artifact_bytes
    measured = {n: found[n].artifact_bytes for n in order}
    if name == order[0]:
        return Verdict(
            True,
            f"{name}'s file is {_kb(mine)}, the smallest of the zoo "
            f"(next: {order[1]}, {_kb(found[order[1]].artifact_bytes)}).",
            measured=measured,
        )
    return Verdict(
        False,
        f"{name}'s file is {_kb(mine)}; another zoo model's is {mine / smallest:.1f}× smaller",
        _rank_level(order.index(name)),
        measured,
    )


def _least_compute(answer: object) -> Verdict:
    name = _zoo_name(answer)
    found = _zoo_measurements()
    good = sorted(
        (n for n in found if found[n].accuracy >= LEAST_COMPUTE_ACCURACY),
        key=lambda n: found[n].macs,
    )
    mine = found[name]
    measured = {n: {"macs": found[n].macs, "accuracy": found[n].accuracy} for n in found}
    if not good:
        raise _BadAnswer(
            f"no zoo model reaches {_pct(LEAST_COMPUTE_ACCURACY)} live accuracy on this "
            "installation; check `python -m lab zoo`."
        )
    if name == good[0]:
        return Verdict(
            True,
            f"{name} needs {mine.macs / 1e6:.2f} M MACs per image at {_pct(mine.accuracy)} "
            "live accuracy: the least compute above the bar.",
            measured=measured,
        )
    if mine.accuracy < LEAST_COMPUTE_ACCURACY:
        return Verdict(
            False,
            f"{name} needs {mine.macs / 1e6:.2f} M MACs but keeps only {_pct(mine.accuracy)} "
            f"live accuracy, under the {_pct(LEAST_COMPUTE_ACCURACY)} bar",
            1,
            measured,
        )
    return Verdict(
        False,
        f"{name} clears the bar ({_pct(mine.accuracy)}) with {mine.macs / 1e6:.2f} M MACs; "
        f"one that also clears it needs {mine.macs / found[good[0]].macs:.1f}× fewer",
        _rank_level(good.index(name)),
        measured,
    )


def _clean_grid(answer: object) -> Verdict:

    if not isinstance(answer, str):
        raise _BadAnswer(
            f'this exercise wants an ISO 3166 alpha-3 country code such as "FRA"; '
            f"you gave a {_kind(answer)}."
        )
    try:
        code = energy.validate_country(answer.strip())
    except ValueError as exc:
        raise _BadAnswer(str(exc)) from None
    reference = energy.carbon_intensity(CLEAN_GRID_REFERENCE)
    mine = energy.carbon_intensity(code)
    if math.isnan(reference) or math.isnan(mine):
        raise _BadAnswer(
            "codecarbon's carbon intensities are unavailable here (LAB_NO_ENERGY set or "
            "codecarbon failing), so CO2 cannot be priced; try on another machine."
        )
    ratio = mine / reference
    # the energy per inference is the same everywhere: the CO2 ratio is the grids' ratio
    cnn = _measure(_cnn())
    per_1k = ""
    if cnn.energy_kwh_per_1k is not None:
        grams = cnn.energy_kwh_per_1k * 1e3  # mg per 1,000 inferences per (g/kWh)
        per_1k = (
            f" ({grams * mine:.4f} mg against {grams * reference:.4f} mg CO2 per 1,000 cnn "
            "inferences)"
        )
    measured = {"g_per_kwh": mine, "reference_g_per_kwh": reference, "ratio": ratio}
    if ratio <= CLEAN_GRID_FACTOR:
        return Verdict(
            True,
            f"{code}'s grid emits {mine:.0f} g/kWh, {ratio:.0%} of the "
            f"{CLEAN_GRID_REFERENCE}'s {reference:.0f} g/kWh{per_1k}.",
            measured=measured,
        )
    return Verdict(
        False,
        f"{code}'s grid emits {mine:.0f} g/kWh, {ratio:.0%} of the {CLEAN_GRID_REFERENCE}'s "
        f"{reference:.0f} g/kWh (goal: at most {CLEAN_GRID_FACTOR:.0%}){per_1k}",
        _distance_level(ratio, 0.25, 0.5),
        measured,
    )


# -------------------------------------------------------------------------- 01 pruning

_SCANS: dict[tuple, dict[str, float]] = {}  # (model fingerprint, sparsity, split) → accuracy


def _most_sensitive_layer(answer: object) -> Verdict:

    model = _cnn()
    layers = list(prunable_layers(model))
    if not isinstance(answer, str):
        raise _BadAnswer(
            f"this exercise wants a layer name (one of {', '.join(layers)}); "
            f"you gave a {_kind(answer)}."
        )
    if answer not in layers:
        raise _BadAnswer(
            f"{answer!r} is not a prunable layer of the cnn; choose one of {', '.join(layers)}."
        )
    key = (fingerprint(model), SENSITIVITY_SPARSITY, ACCURACY_SPLIT)
    if key not in _SCANS:  # deterministic: one scan per model and process
        scan = sensitivity_scan(
            model, sparsities=(SENSITIVITY_SPARSITY,), split=ACCURACY_SPLIT, progress=False
        )
        _SCANS[key] = dict(zip(scan["layer"], scan["accuracy"], strict=True))
    accuracy = _SCANS[key]
    order = sorted(accuracy, key=accuracy.get)
    dense = _measure(model).accuracy
    measured = {"dense": dense, **accuracy}
    mine = accuracy[answer]
    if answer == order[0]:
        return Verdict(
            True,
            f"{answer} — pruned alone to {SENSITIVITY_SPARSITY:.0%}, live accuracy falls from "
            f"{_pct(dense)} to {_pct(mine)} (next most sensitive: {order[1]}, "
            f"{_pct(accuracy[order[1]])}).",
            measured=measured,
        )
    return Verdict(
        False,
        f"pruned alone to {SENSITIVITY_SPARSITY:.0%}, {answer} still keeps {_pct(mine)} "
        f"(dense: {_pct(dense)}); another layer falls to {_pct(accuracy[order[0]])}",
        _rank_level(order.index(answer)),
        measured,
    )


def _small_file(
    limit_bytes: int, min_accuracy: float, finetune: bool = True
) -> Callable[[object], Verdict]:
    """A check: the cnn with the answer's recipe under ``limit_bytes`` at ``min_accuracy``;
    ``finetune=False`` enforces an exercise's "without fine-tuning" (nothing is measured)."""

    def measure(answer: object) -> Verdict:
        recipe = _recipe(answer)
        if not finetune and recipe.finetune is not None:
            raise _BadAnswer(
                "this exercise is without fine-tuning: remove finetune=FinetuneConfig(...) "
                "from your recipe (pruning and quantization only)."
            )
        try:
            m = _measure(_cnn(), recipe)
        except (TypeError, ValueError, KeyError) as exc:
            raise _BadAnswer(f"the lab could not apply your recipe: {exc}") from None
        measured = {"artifact_bytes": m.artifact_bytes, "accuracy": m.accuracy}
        got = f"{_kb(m.artifact_bytes)} at {_pct(m.accuracy)} live accuracy"
        if m.artifact_bytes < limit_bytes and m.accuracy >= min_accuracy:
            return Verdict(True, f"{got} ({recipe.describe()}).", measured=measured)
        excess = max(0.0, m.artifact_bytes / limit_bytes - 1)
        short = max(0.0, min_accuracy - m.accuracy)
        level = (
            2 if excess <= 0.15 and short <= 0.01 else 1 if excess <= 0.6 and short <= 0.05 else 0
        )
        return Verdict(
            False,
            f"{got} (goal: under {_kb(limit_bytes)}, at least {_pct(min_accuracy)})",
            level,
            measured,
        )

    return measure


# --------------------------------------------------------------------- 02 quantization


def _fewest_bits(answer: object) -> Verdict:

    bits = _integer(answer, "a weight bit-width", 1, 8)
    model = _cnn()
    dense = _measure(model).accuracy
    accuracy: dict[int, float] = {}
    best = None
    for b in range(1, 9):  # upwards: the first bit-width within 1 pt is the fewest
        accuracy[b] = _measure(model, Recipe(quant=QuantConfig(bits=b))).accuracy
        if accuracy[b] >= dense - FEWEST_BITS_LOSS:
            best = b
            break
    if best is None:
        raise _BadAnswer("even 8-bit weights lose more than 1 pt on this installation.")
    if bits not in accuracy:
        accuracy[bits] = _measure(model, Recipe(quant=QuantConfig(bits=bits))).accuracy
    within = [b for b in accuracy if accuracy[b] >= dense - FEWEST_BITS_LOSS]
    measured = {"fp32": dense, **{f"{b}-bit": a for b, a in accuracy.items()}}

    def against_fp32(b: int) -> str:
        delta = f"{(accuracy[b] - dense) * 100:+.1f}".replace("-", "−")
        return f"{_pct(accuracy[b])}, {delta} pt against fp32's {_pct(dense)}"

    if bits == best:
        below = "" if bits == 1 else f"; {bits - 1} bits: {against_fp32(bits - 1)}"
        return Verdict(
            True,
            f"{bits}-bit per-channel weights keep {against_fp32(bits)}{below}.",
            measured=measured,
        )
    if bits in within:
        detail = f"{bits} bits keep {against_fp32(bits)}, but fewer bits also stay within 1 pt"
    else:
        detail = f"{bits} bits keep only {against_fp32(bits)}"
    return Verdict(False, detail, {1: 2, 2: 1}.get(abs(bits - best), 0), measured)


def _interleaved_ms(
    first: torch.nn.Module, second: torch.nn.Module, batch: int, rounds: int = 7
) -> tuple[float, float]:
    """Milliseconds per call of two models on the same batch: the fastest round's median of
    each, timed in alternating rounds after a warm-up, on one thread (on a shared machine other
    jobs only ever add time, and a second OpenMP thread waiting for a descheduled one adds a
    lot). The caller's thread count is restored."""
    inputs = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    rounds_ms: tuple[list[float], list[float]] = ([], [])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            costs = []
            for model in (first, second):
                model(inputs)
                start = time.perf_counter()
                model(inputs)
                costs.append(time.perf_counter() - start)
            calls = max(1, min(200, int(0.03 / max(max(costs), 1e-6))))  # ~30 ms a round
            for _ in range(rounds):
                for model, sink in zip((first, second), rounds_ms, strict=True):
                    times = []
                    for _ in range(calls):
                        start = time.perf_counter()
                        model(inputs)
                        times.append(time.perf_counter() - start)
                    sink.append(float(np.median(times)) * 1e3)
    finally:
        torch.set_num_threads(threads)
    return min(rounds_ms[0]), min(rounds_ms[1])


_INT8_FORM = 'a dict like {"model": "cnn", "batch": 64, "why": "one sentence"}'


def _int8_slower(answer: object) -> Verdict:

    if not isinstance(answer, dict):
        raise _BadAnswer(f"this exercise wants {_INT8_FORM}; you gave a {_kind(answer)}.")
    unknown = set(answer) - {"model", "batch", "why"}
    if unknown or "model" not in answer or "batch" not in answer:
        raise _BadAnswer(
            f"this exercise wants {_INT8_FORM}"
            + (
                f"; unknown keys: {', '.join(map(repr, sorted(unknown, key=str)))}"
                if unknown
                else ""
            )
            + "."
        )
    name = _zoo_name(answer["model"])
    batch = _integer(answer["batch"], "the batch size", 1, 1024)
    why = answer.get("why")
    if why is not None and not isinstance(why, str):
        raise _BadAnswer(f'"why" should be a sentence (a str); you gave a {_kind(why)}.')
    model = zoo.load(name)
    fp32 = apply(model, progress=False).runtime
    int8 = apply(model, Recipe(quant=QuantConfig(bits=8, activations=True)), progress=False).runtime
    fp32_ms, int8_ms = _interleaved_ms(fp32, int8, batch)
    ratio = int8_ms / fp32_ms
    measured = {"fp32_ms": fp32_ms, "int8_ms": int8_ms, "ratio": ratio, "threads": 1}
    timing = (
        f"{name} at batch {batch}: int8 {int8_ms:.3f} ms, fp32 {fp32_ms:.3f} ms per call "
        "(1 thread, fastest of 7 interleaved rounds)"
    )
    if ratio <= 1:
        return Verdict(
            False,
            f"{timing} — int8 is {1 / ratio:.2f}× faster",
            _distance_level(1 - ratio, 0.2, 0.6),
            measured,
        )
    if ratio < INT8_SLOWER_MARGIN:
        return Verdict(
            False,
            f"{timing} — int8 is only {ratio:.2f}× slower: within timing noise, not clearly slower",
            2,
            measured,
        )
    if not why or len(why.split()) < 3:
        return Verdict(
            False,
            f"{timing} — int8 is {ratio:.1f}× slower, measured ✓; now explain why in answer['why']",
            0,
            measured,
        )
    return Verdict(
        True,
        f"{timing}: int8 is {ratio:.1f}× slower. Compare with your explanation: int8 adds fixed "
        "work to every call (quantizing the input, requantizing between layers, dequantizing "
        "the output, less tuned kernels for small shapes) that only pays off when a call has "
        "enough arithmetic to save.",
        measured=measured,
    )


# ---------------------------------------------------------------------- 03 resolution


def _lowest_resolution(answer: object) -> Verdict:

    size = _integer(answer, "an input size in pixels", 4, 28)
    model = _cnn()

    def accuracy(s: int) -> float:
        return _measure(model, Recipe(resolution=ResolutionConfig(s))).accuracy

    goal = LOWEST_RESOLUTION_ACCURACY
    mine = accuracy(size)
    below = accuracy(size - 1) if size > 4 else None
    measured = {size: mine} | ({size - 1: below} if below is not None else {})
    if mine >= goal and (below is None or below < goal):
        tail = "" if below is None else f"; at {size - 1} px it falls to {_pct(below)}"
        return Verdict(True, f"at {size} px the cnn keeps {_pct(mine)}{tail}.", measured=measured)
    if mine < goal:
        return Verdict(
            False,
            f"at {size} px the cnn keeps only {_pct(mine)} (goal: {_pct(goal)})",
            _distance_level(goal - mine, 0.03, 0.10),
            measured,
        )
    return Verdict(
        False,
        f"at {size} px the cnn keeps {_pct(mine)}, but {size - 1} px still keeps {_pct(below)}",
        _distance_level(below - goal, 0.03, 0.10),
        measured,
    )


def _resolution_bytes(answer: object) -> Verdict:

    guess = _integer(answer, "a number of bytes", -(10**9), 10**9)
    model = _cnn()
    native = _measure(model).artifact_bytes
    small = _measure(
        model, Recipe(resolution=ResolutionConfig(RESOLUTION_BYTES_SIZE))
    ).artifact_bytes
    saved = native - small
    measured = {"bytes_28px": native, f"bytes_{RESOLUTION_BYTES_SIZE}px": small, "saved": saved}
    if guess == saved:
        return Verdict(
            True,
            f"the file is {native:,} B at 28 px and {small:,} B at {RESOLUTION_BYTES_SIZE} px: "
            f"{saved:,} B saved. Resolution is a compute knob, not a storage knob.",
            measured=measured,
        )
    off = abs(guess - saved) / native
    return Verdict(
        False,
        f"you said {guess:,} B; the measured files differ by another amount",
        _distance_level(off, 0.05, 0.5),
        measured,
    )


# ------------------------------------------------- 05–10: the practice, automation, carbon,
# learning techniques, efficient architectures, deployment (absolute imports: new code)

THIN_ON_PAR_TOLERANCE = 0.01  # "on par": at most 1 pt below the MLP
LABELS_GOAL = 0.80  # live accuracy the fewest labels must reach (08)
LABELS_MAX = 20_000
BREAK_EVEN_FACTOR = 1.5  # energy is measured: within ×1.5 of the lab's own figure
SAME_SPEED = 1.05  # two timings within 5 % are "the same" (interleaved, one thread)
FASTEST_MARGIN = 1.10  # a runtime within 10 % of the fastest counts as fastest


def _cancer():
    from sklearn.datasets import load_breast_cancer

    return as_data(load_breast_cancer(), name="breast cancer")


def _thin_name(answer: object) -> str:

    names = thin.thin_names()
    if not isinstance(answer, str) or answer not in names:
        raise _BadAnswer(
            f"this exercise wants a thin model's name (one of {', '.join(names)}); "
            f"you gave {answer!r}."
        )
    return answer


def _thin_on_par(answer: object) -> Verdict:

    name = _thin_name(answer)
    cancer = _cancer()
    epochs = 60 if thin.quick_mode() else None  # as notebook 05 trains it
    mlp, _ = families.train("mlp-s", cancer, epochs=epochs, progress=False)
    deep = evaluate(mlp, data=cancer, name="mlp-s", split="live", effort="quick")
    model = thin.fit_thin(name, data=cancer, progress=False)
    mine = evaluate(model, data=cancer, name=name, split="live", effort="quick")
    measured = {
        "mlp-s": {"accuracy": deep.accuracy, "artifact_bytes": deep.artifact_bytes},
        name: {"accuracy": mine.accuracy, "artifact_bytes": mine.artifact_bytes},
    }
    got = (
        f"{name}: {_pct(mine.accuracy)}, {mine.artifact_bytes:,} B; mlp-s: "
        f"{_pct(deep.accuracy)}, {deep.artifact_bytes:,} B"
    )
    on_par = mine.accuracy >= deep.accuracy - THIN_ON_PAR_TOLERANCE
    smaller = mine.artifact_bytes < deep.artifact_bytes
    if on_par and smaller:
        return Verdict(True, f"{got}: on par, and a smaller file.", measured=measured)
    if on_par:
        return Verdict(False, f"{got} — on par, but its file is larger", 2, measured)
    return Verdict(False, f"{got} — more than 1 pt below the MLP", 1 if smaller else 0, measured)


def _frontier_members(answer: object) -> Verdict:

    if isinstance(answer, str) or not isinstance(answer, (list, tuple, set, frozenset)):
        raise _BadAnswer(
            f'this exercise wants a list of zoo model names, e.g. ["cnn", "mlp"]; you gave '
            f"{answer!r}."
        )
    names = {_zoo_name(item) for item in answer}
    found = _zoo_measurements()
    order = zoo.names()
    front = {
        order[i]
        for i in pareto_front([(found[n].artifact_bytes, found[n].accuracy) for n in order])
    }
    measured = {n: {"bytes": found[n].artifact_bytes, "accuracy": found[n].accuracy} for n in order}
    if names == front:
        listed = ", ".join(sorted(front, key=lambda n: found[n].artifact_bytes))
        return Verdict(True, f"the frontier, smallest file first: {listed}.", measured=measured)
    missing, extra = len(front - names), len(names - front)
    detail = f"{extra} of your models {'is' if extra == 1 else 'are'} dominated" if extra else ""
    if missing:
        detail += ("; " if detail else "") + f"{missing} frontier model(s) missing"
    return Verdict(False, detail, 2 if missing + extra == 1 else 1 if not extra else 0, measured)


def _break_even_mlp(answer: object) -> Verdict:

    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise _BadAnswer(f"this exercise wants a number of inferences; you gave {answer!r}.")
    guess = float(answer)
    if not math.isfinite(guess) or guess <= 0:
        raise _BadAnswer(f"a number of inferences is positive and finite; you gave {answer!r}.")
    train_kwh = zoo.card("mlp").get("train_energy_kwh")
    m = _measure(zoo.load("mlp"), name="mlp")
    n = energy.break_even_inferences(train_kwh, m.energy_kwh_per_1k)
    if n is None:
        raise _BadAnswer(
            "this installation has no energy figure to compare (codecarbon unavailable or the "
            f"card has no training energy): {m.energy_source}."
        )
    ratio = guess / n
    measured = {"train_kwh": train_kwh, "kwh_per_1k": m.energy_kwh_per_1k, "break_even": n}
    got = (
        f"training the mlp took {train_kwh:.3g} kWh; serving 1,000 costs {m.energy_kwh_per_1k:.3g}"
    )
    if 1 / BREAK_EVEN_FACTOR <= ratio <= BREAK_EVEN_FACTOR:
        return Verdict(True, f"{got}: break-even after ≈ {n:,.0f} inferences.", measured=measured)
    way = "too many" if ratio > 1 else "too few"
    return Verdict(
        False,
        f"{got} — {guess:,.0f} is {max(ratio, 1 / ratio):.1f}× {way}",
        _distance_level(abs(math.log10(ratio)), 0.5, 1.5),
        measured,
    )


def _labels_for_80(answer: object) -> Verdict:

    n = _integer(answer, "a number of labelled examples", 20, LABELS_MAX)
    curve = learning_curve(
        "LogisticRegression", None, sizes=[n // 2, n], repeats=1, split="live"
    ).set_index("n_train")["accuracy"]
    half, full = float(curve[n // 2]), float(curve[n])
    measured = {n // 2: half, n: full}
    got = f"{n:,} examples: {_pct(full)}; {n // 2:,}: {_pct(half)}"
    if full >= LABELS_GOAL > half:
        return Verdict(True, f"{got} — the goal is crossed between the two.", measured=measured)
    if full < LABELS_GOAL:
        return Verdict(False, f"{got} — not yet {_pct(LABELS_GOAL)}", 1, measured)
    return Verdict(False, f"{got} — half as many already reach {_pct(LABELS_GOAL)}", 2, measured)


def _fp32_runtime(name: str):

    return apply(zoo.load(name), progress=False).runtime


def _faster_at_batch_1(answer: object) -> Verdict:

    name = _zoo_name(answer)
    if name not in ("cnn", "mobile"):
        raise _BadAnswer(f'this exercise compares "cnn" and "mobile"; you gave {answer!r}.')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = interleaved_ms(
            {n: _fp32_runtime(n) for n in ("cnn", "mobile")}, torch.zeros(1, 1, 28, 28), rounds=7
        )
    finally:
        torch.set_num_threads(threads)
    ms = {n: min(t) for n, t in times.items()}
    other = "mobile" if name == "cnn" else "cnn"
    measured = {f"{n}_ms": v for n, v in ms.items()}
    got = f"batch 1, one thread: cnn {ms['cnn']:.3f} ms, mobile {ms['mobile']:.3f} ms"
    if ms[name] * SAME_SPEED <= ms[other]:
        return Verdict(True, f"{got}: {name} is faster here.", measured=measured)
    if max(ms.values()) <= min(ms.values()) * SAME_SPEED:
        return Verdict(True, f"{got}: the same within 5 % on this CPU.", measured=measured)
    return Verdict(False, f"{got} — {other} is {ms[name] / ms[other]:.2f}× faster", 1, measured)


def _fastest_runtime(answer: object) -> Verdict:

    if answer not in RUNTIMES:
        raise _BadAnswer(f"this exercise wants one of {', '.join(RUNTIMES)}; you gave {answer!r}.")
    table = compare_runtimes(zoo.load("cnn"), batches=(1,), threads=(1,), rounds=5)
    ms = dict(zip(table["runtime"], table["ms_per_call"], strict=True))
    fastest = min(ms, key=ms.get)
    got = ", ".join(f"{n} {v:.3f} ms" for n, v in sorted(ms.items(), key=lambda kv: kv[1]))
    measured = {f"{n}_ms": v for n, v in ms.items()}
    if ms[answer] <= ms[fastest] * FASTEST_MARGIN:
        return Verdict(True, f"cnn at batch 1, one thread: {got}.", measured=measured)
    return Verdict(
        False,
        f"{answer} takes {ms[answer] / ms[fastest]:.2f}× the fastest's time",
        _distance_level(ms[answer] / ms[fastest] - 1, 0.3, 1.0),
        measured,
    )


# --------------------------------------------------------------------------- registry

# ----------------------------------------------------------------- 11: your task, your metric

BALANCED_TOLERANCE = 0.005  # a fraction: half a point either way
# section 3 of notebook 11 without Ridge: judged by MAE and by RMSE they give two answers
ON_PAR_REGRESSORS = (
    "KNeighborsRegressor",
    "RandomForestRegressor",
    "HistGradientBoostingRegressor",
    "MLPRegressor",
)


def _imbalanced():
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=1000, weights=[0.95, 0.05], random_state=0)
    return as_data((x, y), name="imbalanced 95/5")  # notebook 11's set


def _diabetes():
    from sklearn.datasets import load_diabetes

    return as_data(load_diabetes(), task="regression", name="diabetes")


def _measure_thin(name: str, dataset):
    model = thin.fit_thin(name, data=dataset, progress=False)
    return evaluate(model, data=dataset, name=name, split="test", effort="quick")


def _dummy_balanced(answer: object) -> Verdict:
    from lab.evaluation import quality

    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        raise _BadAnswer(f"this exercise wants a fraction from 0 to 1; you gave {answer!r}.")
    guess = float(answer)
    if not math.isfinite(guess) or not 0 <= guess <= 1:
        percent = " (a percentage? write 0.5 for 50 %)" if 1 < guess <= 100 else ""
        raise _BadAnswer(
            f"a balanced accuracy is a fraction from 0 to 1{percent}; you gave {answer!r}."
        )
    measured = _measure_thin("DummyClassifier", _imbalanced())
    balanced = quality.estimate_of(measured, "balanced_accuracy").value
    figures = {"accuracy": measured.accuracy, "balanced_accuracy": balanced}
    got = f"DummyClassifier: {_pct(measured.accuracy)} accuracy, {balanced:.3f} balanced accuracy"
    if abs(guess - balanced) <= BALANCED_TOLERANCE:
        return Verdict(
            True,
            f"{got} — what a model must beat significantly to be recommended.",
            measured=figures,
        )
    if abs(guess - measured.accuracy) <= 0.01:
        return Verdict(False, f"{guess:.3f} is its accuracy, not its balanced accuracy", 1, figures)
    return Verdict(
        False,
        f"{guess:.3f} is {abs(guess - balanced):.2f} away",
        2 if abs(guess - balanced) < 0.1 else 0,
        figures,
    )


def _cheapest_on_rmse(answer: object) -> Verdict:
    from lab.decide.recommend import recommend

    allowed = (*ON_PAR_REGRESSORS, "DummyRegressor")
    if not isinstance(answer, str) or answer not in allowed:
        raise _BadAnswer(
            f"this exercise wants one of {', '.join(ON_PAR_REGRESSORS)}; you gave {answer!r}."
        )
    if answer == "DummyRegressor":
        return Verdict(False, "the trivial baseline is never recommended: it is the bar", 0)
    diabetes = _diabetes()
    rows = [_measure_thin(name, diabetes) for name in (*ON_PAR_REGRESSORS, "DummyRegressor")]
    found = recommend(rows, metric="rmse", objective="bytes")
    chosen = found.chosen["name"] if found.chosen else None
    on_par = {row["name"] for row in found.on_par}
    measured = {
        m.name: {"artifact_bytes": m.artifact_bytes, "rmse": v.value}
        for m in rows
        if (v := _rmse(m)) is not None
    }
    got = ", ".join(
        f"{n}: RMSE {f['rmse']:.1f}, {f['artifact_bytes']:,} B" for n, f in measured.items()
    )
    if answer == chosen:
        return Verdict(True, f"{got} — {chosen} is the smallest on par by RMSE.", measured=measured)
    if answer in on_par:
        return Verdict(False, f"{got} — {answer} is on par, but not the smallest file", 2, measured)
    by_mae = recommend(rows, metric="mae", objective="bytes").chosen
    if by_mae is not None and by_mae["name"] == answer:
        return Verdict(
            False,
            f"{got} — {answer} is the choice by MAE; by RMSE (large errors weigh more) it is "
            "significantly worse than the best",
            1,
            measured,
        )
    return Verdict(False, f"{got} — {answer} is significantly worse than the best", 1, measured)


def _rmse(measurement):
    from lab.evaluation import quality

    return quality.estimate_of(measurement, "rmse", interval=False)


_ALL = [
    Exercise(
        id="smallest-file",
        notebook="00_start_here",
        title="The smallest file",
        task="Which model of the zoo has the smallest file on disk (the lab's compact artifact)?",
        goal="the zoo model whose measured artifact file has the fewest bytes",
        answer_form='a zoo model name, e.g. "cnn"',
        hints=(
            "Fewer parameters usually mean fewer bytes: compare the `parameters` and "
            "`artifact_bytes` columns of the table above.",
            "Depthwise-separable convolutions need far fewer weights than ordinary ones.",
            "Close: the two smallest files differ by about a quarter; look at the bytes, "
            "not the accuracy.",
        ),
        measure=_smallest_file,
    ),
    Exercise(
        id="least-compute",
        notebook="00_start_here",
        title="Least compute above the bar",
        task=(
            "Which zoo model needs the fewest multiply-accumulates (MACs) per image while keeping "
            f"at least {_pct(LEAST_COMPUTE_ACCURACY)} live accuracy?"
        ),
        goal=f"fewest MACs among the zoo models with ≥ {_pct(LEAST_COMPUTE_ACCURACY)} live accuracy",
        answer_form='a zoo model name, e.g. "cnn"',
        hints=(
            "Two columns matter: `accuracy` first (a filter), then `macs` (the smallest wins).",
            "The model with the very fewest MACs may miss the accuracy bar — check it before "
            "choosing it.",
            "Close: among the models above the bar, compare MACs, not parameters (a small "
            "convolution reused at every pixel costs many MACs).",
        ),
        measure=_least_compute,
    ),
    Exercise(
        id="clean-grid",
        notebook="00_start_here",
        title="A clean grid",
        task=(
            "The same model, the same energy: find a country where 1,000 cnn inferences emit at "
            f"most {CLEAN_GRID_FACTOR:.0%} of the CO2 they emit in the {CLEAN_GRID_REFERENCE}."
        ),
        goal=(
            f"grid carbon intensity ≤ {CLEAN_GRID_FACTOR:.0%} of {CLEAN_GRID_REFERENCE}'s "
            "(codecarbon's data)"
        ),
        answer_form='an ISO 3166 alpha-3 country code, e.g. "DEU"',
        hints=(
            "CO2 = energy × the grid's carbon intensity; `energy.carbon_intensity(code)` gives "
            "the g/kWh of a country.",
            "Grids run on hydro and nuclear power are the cleanest; coal-heavy ones the dirtiest.",
            "Close: look further north, or in the Alps, where rivers and reservoirs make most "
            "of the electricity.",
        ),
        measure=_clean_grid,
    ),
    Exercise(
        id="most-sensitive-layer",
        notebook="01_pruning",
        title="The most sensitive layer",
        task=(
            "Which layer of the cnn loses the most live accuracy when it alone is pruned to "
            f"{SENSITIVITY_SPARSITY:.0%} sparsity?"
        ),
        goal=(
            "the layer with the lowest live accuracy in the lab's own sensitivity scan at "
            f"{SENSITIVITY_SPARSITY:.0%}, computed when you check"
        ),
        answer_form='a layer name, e.g. "features.2.0"',
        hints=(
            "The sensitivity plot above prunes one layer at a time: follow each curve to 90 %.",
            "A layer with few weights has no spare ones: count the weights of each layer "
            "(`p.numel()` for `model.named_parameters()`).",
            "Close: compare the two layers with the fewest weights at 90 % only.",
        ),
        measure=_most_sensitive_layer,
    ),
    Exercise(
        id="pruning-32kb",
        notebook="01_pruning",
        title="A small file that still works",
        task=(
            "Find a recipe for the cnn whose file is under 32 KB and that keeps at least "
            "90.5 % live accuracy — without fine-tuning."
        ),
        goal="artifact under 32,000 bytes and ≥ 90.5 % live accuracy",
        answer_form="a Recipe(prune=PruneConfig(...), quant=QuantConfig(...))",
        hints=(
            "Pruning alone still stores 32-bit values for every surviving weight: combine it "
            "with quantization, Recipe(prune=PruneConfig(...), quant=QuantConfig(bits=...)).",
            "Fix the bits first (4-bit per-channel costs little accuracy), then raise the "
            "sparsity step by step and watch where the live accuracy crosses the goal.",
            "Close: move the sparsity in steps of 0.05; giving the tiny first convolution 8 bits "
            "(QuantConfig(per_layer={...: 8})) costs almost no bytes.",
        ),
        measure=_small_file(32_000, 0.905, finetune=False),
    ),
    Exercise(
        id="pruning-20kb",
        notebook="01_pruning",
        title="Take-home: under 20 KB at 91 %",
        task=(
            "Find a recipe for the cnn whose file is under 20 KB and that keeps at least 91 % "
            "live accuracy. Fine-tuning is needed: allow minutes, not seconds."
        ),
        goal="artifact under 20,000 bytes and ≥ 91 % live accuracy",
        answer_form="a Recipe(prune=..., quant=..., finetune=FinetuneConfig(...))",
        hints=(
            "No recipe without fine-tuning gets there: add finetune=FinetuneConfig(epochs=..., "
            "max_seconds=...) so the surviving weights compensate.",
            "High sparsity and 4-bit weights, then give fine-tuning a minute or more per stage.",
            "Close: more fine-tuning time, or a little less sparsity; a teacher "
            "(FinetuneConfig(teacher=...)) is worth a try.",
        ),
        measure=_small_file(20_000, 0.91),
        take_home=True,
    ),
    Exercise(
        id="fewest-bits",
        notebook="02_quantization",
        title="How few bits?",
        task=(
            "What is the fewest weight bits (uniform, per-channel, no fine-tuning) that keeps "
            "the cnn within 1 point of its fp32 live accuracy?"
        ),
        goal="the smallest bit-width whose measured live accuracy is within 1 pt of fp32",
        answer_form="a whole number of bits, 1–8",
        hints=(
            "Read the per-channel rows of the sweep above: accuracy against bits.",
            "Within 1 pt means accuracy ≥ fp32 − 0.01; the fewest bits that still qualify.",
            "Close: you are one bit away.",
        ),
        measure=_fewest_bits,
    ),
    Exercise(
        id="int8-slower",
        notebook="02_quantization",
        title="Make int8 slower than fp32",
        task=(
            "int8 was faster above. Find a zoo model and a batch size at which the lab's real "
            "int8 path (QuantConfig(bits=8, activations=True)) is slower than fp32, and explain "
            "why in one sentence."
        ),
        goal=(
            "int8's measured time per call at least 5 % above fp32's (interleaved timing), "
            "plus an explanation"
        ),
        answer_form='a dict {"model": "<zoo name>", "batch": <images per call>, "why": "<sentence>"}',
        hints=(
            "int8 saves arithmetic, but every call also pays fixed costs. What happens when a "
            "call has very little arithmetic?",
            "Shrink the work per call: fewer images per call, or a model with less arithmetic "
            "per image.",
            "Close: go to the extreme — the smallest batch there is, and the zoo model with "
            "the fewest MACs.",
        ),
        measure=_int8_slower,
    ),
    Exercise(
        id="lowest-resolution",
        notebook="03_resolution",
        title="How few pixels?",
        task=(
            "What is the lowest input resolution at which the cnn, as trained (no adaptation), "
            f"keeps at least {_pct(LOWEST_RESOLUTION_ACCURACY)} live accuracy?"
        ),
        goal=(
            f"live accuracy ≥ {_pct(LOWEST_RESOLUTION_ACCURACY)} at your size and below it "
            "one pixel smaller"
        ),
        answer_form="a whole number of pixels per side, 4–28",
        hints=(
            "The table above went in big steps (28, 21, 14, …): measure the sizes in between "
            "with Recipe(resolution=ResolutionConfig(size)).",
            "Walk down one pixel at a time from the last size that was above the goal.",
            "Close: you are within a few pixels — check your size and the one just below it.",
        ),
        measure=_lowest_resolution,
    ),
    Exercise(
        id="resolution-bytes",
        notebook="03_resolution",
        title="What does resolution save on disk?",
        task=(
            f"How many bytes smaller is the cnn's file when it runs at {RESOLUTION_BYTES_SIZE} px "
            "instead of 28 px?"
        ),
        goal=(
            f"the measured difference of the artifact files at 28 and {RESOLUTION_BYTES_SIZE} px, "
            "to the byte"
        ),
        answer_form="a whole number of bytes",
        hints=(
            "Measure it: evaluate the cnn at both sizes and subtract their `artifact_bytes`.",
            "What does the resolution change — the input the network sees, or the weights it "
            "stores?",
            "Close: look at the size column for every resolution you measured.",
        ),
        measure=_resolution_bytes,
    ),
    Exercise(
        id="thin-on-par",
        notebook="05_most_efficient_model",
        title="A thin model on par",
        task=(
            "On the breast-cancer data, find a thin (scikit-learn) model that is on par with the "
            "small MLP (mlp-s) — at most 1 pt below it on the test rows — and has a smaller file."
        ),
        goal="thin accuracy ≥ mlp-s's − 1 pt and fewer bytes on disk, both measured",
        answer_form='a thin model\'s name, e.g. "RandomForestClassifier"',
        hints=(
            "Look at the tabular chart and table of section 3: accuracy and artifact_bytes.",
            "A forest stores every tree's nodes; a linear model stores one weight per feature.",
            "Close: on par already — now pick the one with fewer parameters to store.",
        ),
        measure=_thin_on_par,
    ),
    Exercise(
        id="frontier-members",
        notebook="06_automation",
        title="Which models would a search keep?",
        task=(
            "A search keeps the Pareto frontier. Which zoo models are on the frontier of live "
            "accuracy against bytes on disk (no other zoo model both smaller and more accurate)?"
        ),
        goal="exactly the zoo models lab.pareto puts on the frontier, measured at check time",
        answer_form='a list of zoo model names, e.g. ["cnn", "mlp"]',
        hints=(
            "Measure the zoo (evaluate(zoo.load(name))) and sort it by artifact_bytes.",
            "Walk from the smallest file up: keep a model only if it is more accurate than "
            "every smaller one.",
            "Close: one model is in or out wrongly — check it against every smaller file.",
        ),
        measure=_frontier_members,
    ),
    Exercise(
        id="break-even-mlp",
        notebook="07_carbon",
        title="When does serving cost more than training?",
        task=(
            "After how many inferences has serving the zoo's mlp used as much energy as its "
            "training did (the model card's figure)?"
        ),
        goal=f"within ×{BREAK_EVEN_FACTOR} of the lab's own break-even figure, measured now",
        answer_form="a number of inferences",
        hints=(
            "Two figures: zoo.cards() has the training kWh; evaluate() measures kWh per 1,000 "
            "inferences.",
            "Divide the training energy by the energy of one inference (per 1,000 ÷ 1,000).",
            "Close: check the factor of 1,000 — the measured figure is per 1,000 inferences.",
        ),
        measure=_break_even_mlp,
    ),
    Exercise(
        id="labels-for-80",
        notebook="08_learning_techniques",
        title="How many labels?",
        task=(
            "How many labelled Fashion-MNIST examples does LogisticRegression need to reach "
            f"{_pct(LABELS_GOAL)} live accuracy? Answer n such that n examples reach it and "
            "n/2 do not (the lab's seed-0 draw)."
        ),
        goal=f"learning_curve at n ≥ {_pct(LABELS_GOAL)} and at n // 2 below it",
        answer_form=f"a whole number of examples, 20–{LABELS_MAX:,}",
        hints=(
            "Run learning_curve('LogisticRegression', sizes=[...], repeats=1, split='live') "
            "over sizes that double.",
            "Too few: double it. Half already reaches the goal: halve it.",
            "Close: n // 2 already clears the goal — try a smaller n.",
        ),
        measure=_labels_for_80,
    ),
    Exercise(
        id="faster-at-batch-1",
        notebook="09_efficient_architectures",
        title="Fewer MACs, faster?",
        task=(
            "The zoo's mobile needs fewer MACs per image than the cnn. Which of the two is faster "
            "at batch 1 on this CPU (fp32, one thread)?"
        ),
        goal=f"the faster one by interleaved timing (within {SAME_SPEED - 1:.0%}: either)",
        answer_form='"cnn" or "mobile"',
        hints=(
            "Measure, do not count: latency_ms_p50 from evaluate(), or the timing table above.",
            "Depthwise convolutions do little arithmetic per byte they read: they rarely run "
            "at the speed their MACs suggest.",
        ),
        measure=_faster_at_batch_1,
    ),
    Exercise(
        id="fastest-runtime",
        notebook="10_deployment",
        title="The fastest runtime here",
        task=(
            "Which runtime serves the zoo's cnn fastest at batch 1 on one thread of this CPU: "
            "torch fp32, torch int8, onnxruntime fp32 or onnxruntime int8?"
        ),
        goal=f"within {FASTEST_MARGIN - 1:.0%} of the fastest, timed interleaved at check time",
        answer_form='one of "torch fp32", "torch int8", "onnxruntime fp32", "onnxruntime int8"',
        hints=(
            "Time them: compare_runtimes(cnn, batches=(1,), threads=(1,)).",
            "At batch 1 the fixed cost of each call matters more than the arithmetic.",
            "Close: within a factor of two — re-read the batch-1 rows.",
        ),
        measure=_fastest_runtime,
    ),
    Exercise(
        id="dummy-balanced",
        notebook="11_your_task",
        title="The majority guess, judged fairly",
        task=(
            "On the imbalanced set of section 1 (make_classification(n_samples=1000, "
            "weights=[0.95, 0.05], random_state=0)), DummyClassifier is about 95 % accurate on "
            "the test split without ever finding a rare item. What is its balanced accuracy there?"
        ),
        goal=f"within {BALANCED_TOLERANCE} of DummyClassifier's balanced accuracy, measured now",
        answer_form="a fraction from 0 to 1, e.g. 0.95",
        hints=(
            "Balanced accuracy is the mean of the per-class recalls: the share of each class's "
            "items found, averaged over the classes.",
            "The majority guess finds every item of one class and none of the other.",
            "Close: with two classes, average a recall of 1 and a recall of 0.",
        ),
        measure=_dummy_balanced,
    ),
    Exercise(
        id="cheapest-on-rmse",
        notebook="11_your_task",
        title="The smallest file on par, judged by RMSE",
        task=(
            "On load_diabetes (task='regression'), judged by RMSE on the test split instead of "
            f"MAE: which of {', '.join(ON_PAR_REGRESSORS)} is the smallest file among the "
            "models not significantly worse than the best (with DummyRegressor as the bar)? "
            "Judged by MAE the answer is another model."
        ),
        goal="the model lab.recommend(rows, metric='rmse') chooses, measured at check time",
        answer_form='a regressor\'s name, e.g. "MLPRegressor"',
        hints=(
            "Measure the four and DummyRegressor as section 3 does; recommend(rows, "
            "metric='rmse') judges by RMSE (lower is better, in the target's units).",
            "On par means not significantly worse than the best by the paired test on the same "
            "items — read rec.tests.",
            "Close: your model is on par — now compare the files' bytes.",
        ),
        measure=_cheapest_on_rmse,
    ),
]

EXERCISES: dict[str, Exercise] = {exercise.id: exercise for exercise in _ALL}


def get(exercise_id: str) -> Exercise:
    """The exercise with this id (a ValueError lists the ids when there is none)."""
    try:
        return EXERCISES[exercise_id]
    except (KeyError, TypeError):
        raise ValueError(
            f"no exercise {exercise_id!r}; choose one of {', '.join(EXERCISES)}"
        ) from None


def show(exercise_id: str) -> Exercise:
    """The exercise, for display: its task, goal and the form of the answer."""
    return get(exercise_id)


def notebooks() -> list[str]:
    """The notebooks that have exercises, in order (e.g. ``"01_pruning"``)."""
    return list(dict.fromkeys(exercise.notebook for exercise in _ALL))


def for_notebook(notebook: str | os.PathLike) -> list[Exercise]:
    """The exercises of one notebook (``"01_pruning"``, ``"01_pruning.ipynb"`` or its path),
    in order; a ValueError listing the notebooks with exercises for any other name."""
    if not isinstance(notebook, (str, os.PathLike)):
        raise ValueError(
            f"notebook must be a notebook's name, e.g. {notebooks()[0]!r}; got "
            f"{notebook!r} ({type(notebook).__name__})"
        )
    stem = PurePath(os.fspath(notebook)).name.removesuffix(".ipynb")
    found = [exercise for exercise in _ALL if exercise.notebook == stem]
    if not found:
        raise ValueError(
            f"no exercises for notebook {stem!r}; notebooks with exercises: "
            f"{', '.join(notebooks())}"
        )
    return found


def _not_yet(exercise: Exercise, level: int, detail: str = "") -> str:
    hint = exercise.hints[min(max(level, 0), len(exercise.hints) - 1)]
    detail = detail.strip().rstrip(".")
    return f"not yet — {detail}.\nhint: {hint}" if detail else f"not yet — hint: {hint}"


def check(exercise_id: str, answer: object) -> Result:
    """Measure ``answer`` against the exercise's goal and say ``✓ done`` or ``not yet`` + a hint.

    Args:
        exercise_id: the exercise's id (see :data:`EXERCISES`).
        answer: your answer; ``None`` or ``...`` means not answered yet.

    Returns:
        A :class:`Result` (true when done) that displays itself in Jupyter. Wrong kinds of
        answer (a list where a name is wanted, an invalid recipe) give a message, not an error.
    """
    exercise = get(exercise_id)
    started = time.perf_counter()
    if answer is None or answer is Ellipsis:
        return Result(exercise.id, False, _not_yet(exercise, 0), hint_level=0)
    try:
        verdict = exercise.measure(answer)
    except _BadAnswer as bad:
        return Result(
            exercise.id,
            False,
            _not_yet(exercise, 0, str(bad)),
            hint_level=0,
            seconds=time.perf_counter() - started,
        )
    seconds = time.perf_counter() - started
    if verdict.done:
        return Result(
            exercise.id, True, f"✓ done: {verdict.detail}", None, verdict.measured, seconds
        )
    level = min(max(verdict.level, 0), len(exercise.hints) - 1)
    return Result(
        exercise.id,
        False,
        _not_yet(exercise, level, verdict.detail),
        level,
        verdict.measured,
        seconds,
    )
