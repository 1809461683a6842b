"""Abandoning long work: a :class:`threading.Event` checked between steps.

Every measuring step (an accuracy-pass batch, a timed run, an artifact write) calls
:func:`check` first; setting the event from another thread makes the work raise
:class:`Cancelled` at its next step, and nothing half-measured is stored.
"""

from __future__ import annotations

import threading

__all__ = ["Cancelled", "check"]


class Cancelled(Exception):
    """The work was abandoned because its ``cancel`` event was set; nothing was stored."""


def check(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set (``is_set()`` costs ~50 ns)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("evaluation cancelled")
