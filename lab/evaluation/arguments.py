"""The arguments of :class:`lab.evaluation.measure.Evaluation` (and :func:`lab.evaluate`)
that are not the model, the recipe or the data, checked before any work: each wrong one is
an error naming it and what is allowed (:mod:`lab.meters.checks`), never an AttributeError
halfway through a measurement, and never a string such as ``"no"`` read as true."""

from __future__ import annotations

from collections.abc import MutableMapping

from lab.cancellation import check_event
from lab.meters import checks

__all__ = ["check_arguments"]


def check_arguments(
    *,
    name: object,
    store: object,
    use_cache: object,
    timings: object,
    runtime: object,
    cancel: object = None,
) -> None:
    """A ValueError or TypeError naming the first argument that cannot be used."""
    from lab.io.store import ResultStore
    from lab.techniques.apply import RUNTIMES

    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None; got {name!r} ({type(name).__name__})")
    if store is not None and not isinstance(store, ResultStore):
        raise TypeError(
            "store must be a lab.store.ResultStore (e.g. ResultStore('results.sqlite')) or None "
            f"for the default; got {store!r} ({type(store).__name__})"
        )
    checks.flag("use_cache", use_cache, TypeError)
    if timings is not None and not isinstance(timings, MutableMapping):
        raise TypeError(
            f"timings must be a dict to receive each phase's seconds, or None; got "
            f"{type(timings).__name__}"
        )
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        raise ValueError(
            f"runtime must be one of {', '.join(map(repr, RUNTIMES))}; got {runtime!r}"
        )
    check_event(cancel)
