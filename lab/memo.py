"""Results remembered in-process: :class:`Memo`, a thread-safe least-recently-used table.

What the lab measures again and again during a dashboard's moves — a file's bytes, the
FLOPs of one structure, whether a rewrite of one structure computes the same function — is
computed once per key and served from here afterwards. The key must name everything the
value depends on; computing happens outside the lock (two threads may compute the same
key once each; both get a correct value).

Example:
    >>> squares = Memo(entries=2)
    >>> squares.get(3, lambda: 9), 3 in squares
    (9, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["Memo"]

V = TypeVar("V")


class Memo(Generic[V]):
    """At most ``entries`` values by key; the least recently used goes first."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value remembered for ``key``, else ``compute()``'s (then remembered)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.entries:
                self._values.popitem(last=False)
        return value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
