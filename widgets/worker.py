"""One background thread that runs only the newest request: debounced, stale results dropped.

A slider drag fires a change per pixel; evaluating each one would queue seconds of
stale work. :class:`LatestWorker` keeps a single pending slot instead:

* a request arriving after a quiet period starts at once (no debounce delay for a click);
* requests arriving in a burst replace each other; the survivor runs once the burst has
  been quiet for ``debounce`` seconds;
* a result whose request has been superseded meanwhile is dropped, never delivered;
* a job submitted with a ``cancel`` event gets it set as soon as a newer request arrives
  (or :meth:`LatestWorker.invalidate` is called), so cooperative work such as
  ``lab.measure.evaluate(..., cancel=event)`` stops early and the newest request starts
  without waiting for stale work to finish.

Example:
    >>> worker = LatestWorker(debounce=0.01)
    >>> seen = []
    >>> for i in range(10):
    ...     _ = worker.submit(lambda i=i: i * i, seen.append)
    >>> worker.wait_idle(5)
    True
    >>> seen[-1], worker.runs < 10
    (81, True)
    >>> worker.close()
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LatestWorker"]

_OPEN: weakref.WeakSet[LatestWorker] = weakref.WeakSet()
EXIT_WAIT_S = 5.0  # at interpreter exit, how long a running job gets to notice its cancel


@atexit.register
def _close_open_workers() -> None:
    """Cancel and join every open worker before the interpreter finalizes.

    A daemon thread still inside torch's C++ code when Python finalizes is torn down
    mid-call ("terminate called without an active exception", then SIGABRT): a Voilà
    kernel shut down during a move would crash instead of exiting.
    """
    for worker in list(_OPEN):
        worker.close(timeout=EXIT_WAIT_S)


@dataclass
class _Job:
    generation: int
    fn: Callable[[], Any]
    on_result: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None
    ready_at: float
    cancel: threading.Event | None = None


class LatestWorker:
    """Runs submitted callables on one daemon thread, newest-only, with a trailing debounce.

    ``on_result``/``on_error`` are called on the worker thread, inside :meth:`deliver_lock`
    and only while the job is still the newest one (so a caller can atomically compare
    and display).
    """

    def __init__(self, debounce: float = 0.05, name: str = "lab-live-worker") -> None:
        self.debounce = debounce
        self.runs = 0  # jobs executed
        self.dropped = 0  # results discarded because a newer request came in
        self.cancelled = 0  # running jobs told to stop (their cancel event set) by a newer request
        self.deliver_lock = threading.RLock()
        self._cond = threading.Condition()
        self._pending: _Job | None = None
        self._active: _Job | None = None  # the job running now
        self._generation = 0
        self._last_submit = float("-inf")
        self._running = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        _OPEN.add(self)

    @property
    def busy(self) -> bool:
        """True while a job waits or runs."""
        with self._cond:
            return self._running or self._pending is not None

    @property
    def generation(self) -> int:
        """Number of the newest request (submitted or invalidated)."""
        with self._cond:
            return self._generation

    def submit(
        self,
        fn: Callable[[], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> int:
        """Queue ``fn`` as the newest request, replacing any pending one; returns its generation.

        ``cancel`` (optional) is set once this request is superseded while it runs (``fn``
        is expected to check it and give up); the worker never interrupts ``fn`` itself.
        """
        now = time.monotonic()
        with self._cond:
            if self._closed:
                raise RuntimeError("this worker has been closed")
            self._generation += 1
            quiet = not self._running and now - self._last_submit >= self.debounce
            ready_at = now if quiet else now + self.debounce
            if self._pending is not None:
                self.dropped += 1
                self._cancel(self._pending)
            self._cancel(self._active)
            self._pending = _Job(self._generation, fn, on_result, on_error, ready_at, cancel)
            self._last_submit = now
            self._cond.notify_all()
            return self._generation

    def invalidate(self) -> None:
        """Forget the pending request and drop the running one's result (something newer was shown)."""
        with self._cond:
            self._generation += 1
            self._cancel(self._pending)
            self._cancel(self._active)
            self._pending = None
            self._cond.notify_all()

    def _cancel(self, job: _Job | None) -> None:
        """Set ``job``'s cancel event (caller holds ``_cond``)."""
        if job is not None and job.cancel is not None and not job.cancel.is_set():
            job.cancel.set()
            if job is self._active:
                self.cancelled += 1

    def is_current(self, generation: int) -> bool:
        with self._cond:
            return generation == self._generation

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._running or self._pending is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float = 10.0) -> None:
        """Drop pending work and stop the thread, waiting up to ``timeout`` s for a running job."""
        with self._cond:
            self._closed = True
            self._cancel(self._pending)
            self._cancel(self._active)
            self._pending = None
            self._cond.notify_all()
        _OPEN.discard(self)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _next_job(self) -> _Job | None:
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._pending is None:
                    self._cond.wait()
                    continue
                delay = self._pending.ready_at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                job, self._pending, self._running = self._pending, None, True
                self._active = job
                return job

    def _loop(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                try:
                    outcome, failed = job.fn(), False
                except Exception as exc:  # reported through on_error, never raised on the thread
                    outcome, failed = exc, True
                self.runs += 1
                with self.deliver_lock:
                    if not self.is_current(job.generation):
                        self.dropped += 1
                    else:
                        self._deliver(job, outcome, failed)
            finally:
                with self._cond:
                    self._running, self._active = False, None
                    self._cond.notify_all()

    @staticmethod
    def _deliver(job: _Job, outcome: Any, failed: bool) -> None:
        try:
            if failed:
                if job.on_error is not None:
                    job.on_error(outcome)
            else:
                job.on_result(outcome)
        except Exception as exc:  # a failing callback must not kill the worker
            if job.on_error is not None and not failed:
                try:
                    job.on_error(exc)
                except Exception:
                    pass
