"""stdout written on the event loop.

The SDK writes each protocol line through ``anyio.wrap_file``: a worker thread per line, two thread
switches on every answer (measured over stdio: about a fifth of a no-op call's time, bench/RESULTS.md).
Here the private copy of fd 1 is non-blocking and written directly; when the pipe is full (the client
is not reading), the writer waits on the event loop for it to drain, never blocking other tasks. As
in the SDK, fd 1 points at stderr while serving, so a plugin's (or its child's) stray output misses
the wire.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator

import anyio


class LoopStdout:
    """The ``write``/``flush`` the SDK's stdio writer uses, on a non-blocking descriptor."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write(self, text: str) -> int:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
                continue
            data = data[written:]
        return len(text)

    async def flush(self) -> None:
        """Nothing is buffered: every ``write`` is on the wire when it returns."""


@contextlib.contextmanager
def claimed_stdout() -> Iterator[int]:
    """A private, non-blocking copy of fd 1 for the protocol; fd 1 itself goes to stderr meanwhile.
    Both are restored on exit (blocking mode included: a terminal shares the descriptor)."""
    sys.stdout.flush()
    private = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(2, 1)
    was_blocking = os.get_blocking(private)
    os.set_blocking(private, False)
    try:
        yield private
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        with contextlib.suppress(OSError):
            os.set_blocking(private, was_blocking)
            os.dup2(private, 1)
        with contextlib.suppress(OSError):
            os.close(private)
