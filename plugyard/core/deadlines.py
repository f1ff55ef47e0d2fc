"""Per-call timeouts and call ids at a fraction of the standard library's per-call cost.

Measured on the no-op call path (bench/profile_pipeline.py): ``asyncio.timeout`` schedules and
cancels a timer for every call (about 4.5 us, more than the rest of the pipeline's own work), and
``uuid.uuid4`` reads ``os.urandom`` for every call (about 2.5 us). Here:

- ``Watchdog`` keeps one timer per event loop for all the calls running on it. A call registers its
  deadline; the timer is armed for the earliest one and, when it fires, cancels the calls that are
  overdue and re-arms for the next. Calls of one tool share a timeout, so a later call's deadline is
  later and registering it touches no timer. An overdue call sees ``TimeoutError``, exactly as
  inside ``asyncio.timeout``; a cancellation from elsewhere passes through untouched.
- ``new_call_id`` returns UUID-shaped ids: 74 random bits chosen once per process (again after a
  fork), then a counter in the last 48 bits. Ids stay unique across processes and replicas, which
  is what the history's ``ON CONFLICT (call_id)`` relies on.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MASK48 = (1 << 48) - 1
_prefix = ""
_next: Callable[[], int] = itertools.count().__next__


def _reseed() -> None:
    global _prefix, _next
    digits = uuid.uuid4().hex
    _prefix = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-"
    _next = itertools.count(int(digits[20:], 16)).__next__


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_call_id() -> str:
    """A new call id, unique across processes (a version-4 UUID's text form)."""
    return f"{_prefix}{_next() & _MASK48:012x}"


class _Entry:
    __slots__ = ("deadline", "expired", "task")

    def __init__(self, deadline: float, task: asyncio.Task[Any]) -> None:
        self.deadline = deadline
        self.task = task
        self.expired = False


class Watchdog:
    """Timeouts for the calls running on one event loop, with one timer between them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._running: dict[_Entry, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0

    async def run(self, seconds: float, work: Awaitable[T]) -> T:
        """Await ``work``; raise ``TimeoutError`` if it is still running after ``seconds``."""
        task = asyncio.current_task()
        if task is None:  # not inside a task (cannot happen under asyncio.run): no cheap way to cancel
            async with asyncio.timeout(seconds):
                return await work
        entry = _Entry(self.loop.time() + seconds, task)
        cancelling = task.cancelling()
        self._running[entry] = None
        if self._timer is None or entry.deadline < self._armed_for:
            self._arm(entry.deadline)
        try:
            result = await work
        except asyncio.CancelledError:
            if entry.expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            del self._running[entry]
        if entry.expired:
            # The work caught its cancellation and finished anyway: it still ran past its deadline.
            task.uncancel()
            raise TimeoutError
        if self.loop.time() > entry.deadline:
            raise TimeoutError  # it held the event loop past its deadline, so the timer could not fire
        return result

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_for = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.loop.time()
        earliest: float | None = None
        for entry in self._running:
            if entry.expired:
                continue
            if entry.deadline <= now:
                entry.expired = True
                entry.task.cancel()
            elif earliest is None or entry.deadline < earliest:
                earliest = entry.deadline
        if earliest is not None:
            self._arm(earliest)
