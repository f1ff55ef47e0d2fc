"""stdio whose input can be cancelled.

The SDK reads stdin in a worker thread, and a thread blocked in ``read()`` cannot be
cancelled: a SIGTERM would wait for the client's next message before the history flush could
run. Here stdin is read without blocking, so stopping is immediate. As in the SDK, fd 0 points
at the null device while serving, so a plugin (or its child process) reading stdin cannot
steal protocol messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from plugyard.mcp_server._sdk import lowlevel_server, stdio_streams
from plugyard.mcp_server.stdout import LoopStdout, claimed_stdout

CHUNK = 1 << 16


class CancellableLines:
    """Lines of a non-blocking file descriptor, read on the event loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False

    def __aiter__(self) -> CancellableLines:
        return self

    async def __anext__(self) -> str:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return line.decode("utf-8", errors="replace")
            if self._eof:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line.decode("utf-8", errors="replace")
                raise StopAsyncIteration
            await anyio.wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, CHUNK)
            except BlockingIOError:
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


def _pollable(fd: int) -> bool:
    """Whether the event loop can wait on ``fd``. epoll refuses regular files (stdin redirected
    from a file) and some devices (``/dev/null``); reading those never blocks anyway."""
    with selectors.DefaultSelector() as selector:
        try:
            selector.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            return False
    return True


class _NoInput:
    """The input of a process started with stdin closed: it ends at once, like a closed pipe."""

    def __aiter__(self) -> _NoInput:
        return self

    async def __anext__(self) -> str:
        raise StopAsyncIteration


@contextlib.contextmanager
def _claimed_stdin() -> Iterator[int]:
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    was_blocking = os.get_blocking(private)
    os.set_blocking(private, False)
    try:
        yield private
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(private, was_blocking)
            os.dup2(private, 0)
        with contextlib.suppress(OSError):
            os.close(private)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While plugins load for stdio serving, fd 1 (and so ``print``, logging to stdout and child
    processes) goes to stderr: stdout is the protocol's and a stray line breaks the client. While
    serving, the SDK's stdio transport does the same."""
    if sys.stdout is not None:
        sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        if sys.stdout is not None:
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.asynccontextmanager
async def _streams() -> AsyncIterator[tuple[Any, Any]]:
    if sys.stdin is None or sys.stdout is None:
        # Started with fd 0 closed (`<&-`): Python gives no sys.stdin, and whatever file the
        # process opened since may now hold fd 0, so it is never read as input. With fd 1 closed
        # (`>&-`) no answer can reach a client: the same, like a client that closed its pipes.
        # (`plugyard serve` holds the null device on closed standard descriptors.)
        quiet = LoopStdout(1) if sys.stdout is None else None
        async with stdio_server(stdin=_NoInput(), stdout=quiet) as streams:  # type: ignore[arg-type]
            yield streams
        return
    if not _pollable(0):
        async with stdio_server() as streams:
            yield streams
        return
    if not _pollable(1):
        # stdout redirected to a file: writes never block, the SDK's writer is as good.
        with _claimed_stdin() as fd:
            async with stdio_streams(CancellableLines(fd)) as streams:
                yield streams
        return
    with _claimed_stdin() as fd, claimed_stdout() as out:
        async with stdio_streams(CancellableLines(fd), LoopStdout(out)) as streams:  # type: ignore[arg-type]
            yield streams


async def run_stdio(server: MCPServer[Any]) -> None:
    """Serve ``server`` on stdin/stdout until end of input or cancellation."""
    lowlevel = lowlevel_server(server)
    async with _streams() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
