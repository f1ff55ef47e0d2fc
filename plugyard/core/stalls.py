"""A watch on the event loop, from a thread: a tool that blocks the loop (``time.sleep`` in an async tool,
a CPU-bound loop) holds every other call, and no timeout can fire until it lets go.

Every ``interval`` the thread asks the loop for a heartbeat (``call_soon_threadsafe``). When none comes for
``threshold`` seconds, it reads the loop thread's stack, finds the innermost frame that is a registered tool's
function, and logs an error naming the tool and its plugin, where it is blocked, and what to do instead
(a sync tool runs in a worker thread; async code calls ``anyio.to_thread.run_sync``). When the loop answers
again, it logs how long the stall lasted. The call itself, once past its timeout, is recorded as
``ToolTimeout`` by the pipeline (``core/deadlines.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import CodeType, FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugyard.core.tools import Tool

log = logging.getLogger("plugyard.stalls")

THRESHOLD = 1.0
"""Seconds without a heartbeat before the loop counts as blocked."""
INTERVAL = 0.25


def _codes(tools: Iterable[Tool]) -> dict[CodeType, Tool]:
    codes: dict[CodeType, Tool] = {}
    for tool in tools:
        for fn in (tool.fn, inspect.unwrap(tool.fn)):
            code = getattr(getattr(fn, "__func__", fn), "__code__", None)
            if isinstance(code, CodeType):
                codes[code] = tool
    return codes


def blocking_tool(frame: FrameType | None, tools: Iterable[Tool]) -> tuple[Tool | None, str]:
    """The tool whose code is on the stack (innermost first), and where the stack is now."""
    where = f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}" if frame else "unknown"
    codes = _codes(tools)
    while frame is not None:
        tool = codes.get(frame.f_code)
        if tool is not None:
            return tool, where
        frame = frame.f_back
    return None, where


class StallWatch:
    """Watches one event loop from a daemon thread (``start`` on the loop's thread, ``stop`` anywhere)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        tools: Callable[[], Iterable[Tool]],
        *,
        threshold: float = THRESHOLD,
        interval: float = INTERVAL,
    ) -> None:
        self._loop = loop
        self._tools = tools
        self.threshold = threshold
        self.interval = interval
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._asked: float | None = None
        self._reported: str | None = None
        self.stalls: list[str] = []
        """What each stall was blamed on (for tests and tooling)."""
        self._thread = threading.Thread(target=self._watch, name="plugyard stall watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(self.interval):
            now = time.monotonic()
            if self._asked is None:
                self._asked = now
                try:
                    self._loop.call_soon_threadsafe(self._beat)
                except RuntimeError:  # the loop is closed
                    return
            elif now - self._asked >= self.threshold and self._reported is None:
                self._report(now - self._asked)

    def _beat(self) -> None:
        if self._reported is not None and self._asked is not None:
            log.error("the event loop answered again after %.1f s (%s)", time.monotonic() - self._asked, self._reported)
        self._asked = None
        self._reported = None

    def _report(self, seconds: float) -> None:
        frame = sys._current_frames().get(self._loop_thread)  # noqa: SLF001 - the documented way to read another thread's stack
        tool, where = blocking_tool(frame, self._tools())
        if tool is None:
            blamed = f"no tool's code on the stack; blocked at {where}"
        else:
            blamed = f"tool {tool.name!r} of plugin {tool.plugin!r}"
        self._reported = blamed
        self.stalls.append(blamed)
        log.error(
            "the event loop has been blocked for %.1f s by %s (at %s): every other call waits. Blocking code "
            "belongs in a sync tool (run in a worker thread) or in `await anyio.to_thread.run_sync(...)`",
            seconds,
            blamed,
            where,
        )
