"""plugyard's own stdio transport: cancellable input, answers to what cannot be parsed.

The SDK reads stdin in a worker thread, and a thread blocked in ``read()`` cannot be cancelled: a
SIGTERM would wait for the client's next message before the history flush could run. Here stdin is
read without blocking, on the event loop, so stopping is immediate. Each line is parsed with the SDK's
own JSON-RPC model; a line it refuses is answered with a JSON-RPC error (``wire_errors.py``) where the
SDK would drop it and leave its client waiting. As in the SDK, fd 0 points at the null device and fd 1
at stderr while serving, so a plugin (or its child process) can neither steal protocol messages nor
write into them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import selectors
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.to_thread
import mcp_types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage

from plugyard.mcp_server._sdk import lowlevel_server
from plugyard.mcp_server.lane import StdioLane
from plugyard.mcp_server.server import PlugyardServer
from plugyard.mcp_server.stdout import LoopStdout, claimed_stdout
from plugyard.mcp_server.wire_errors import answers_for, odd_id_answer

CHUNK = 1 << 16

log = logging.getLogger("plugyard.mcp_server")


class Lines:
    """Lines (bytes) of a file descriptor. A pollable one is read without blocking on the event loop;
    another (a regular file, ``/dev/null``: epoll refuses them) in a worker thread."""

    def __init__(self, fd: int, *, pollable: bool = True) -> None:
        self._fd = fd
        self._pollable = pollable
        self._buffer = bytearray()
        self._eof = False

    def __aiter__(self) -> Lines:
        return self

    async def __anext__(self) -> bytes:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[: newline + 1])
                del self._buffer[: newline + 1]
                return line
            if self._eof:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line
                raise StopAsyncIteration
            chunk = await self._read()
            if chunk is None:
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    async def _read(self) -> bytes | None:
        if not self._pollable:
            data: bytes = await anyio.to_thread.run_sync(os.read, self._fd, CHUNK, abandon_on_cancel=True)
            return data
        await anyio.wait_readable(self._fd)
        try:
            return os.read(self._fd, CHUNK)
        except BlockingIOError:
            return None


class LineWriter:
    """Whole lines to stdout, one at a time: the server's messages and the transport's own errors share it
    (``LoopStdout`` may wait for a full pipe mid-line)."""

    def __init__(self, stdout: LoopStdout) -> None:
        self._stdout = stdout
        self._lock = anyio.Lock()

    async def write_line(self, text: str) -> None:
        async with self._lock:
            await self._stdout.write(text + "\n")


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

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


@contextlib.contextmanager
def _claimed_stdin(*, nonblocking: bool = True) -> Iterator[int]:
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    was_blocking = os.get_blocking(private)
    if nonblocking:
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
    serving, the transport does the same."""
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


@contextlib.contextmanager
def _input() -> Iterator[Any]:
    if sys.stdin is None or sys.stdout is None:
        # Started with fd 0 closed (`<&-`): Python gives no sys.stdin, and whatever file the
        # process opened since may now hold fd 0, so it is never read as input. With fd 1 closed
        # (`>&-`) no answer can reach a client: the same, like a client that closed its pipes.
        # (`plugyard serve` holds the null device on closed standard descriptors.)
        yield _NoInput()
        return
    pollable = _pollable(0)
    with _claimed_stdin(nonblocking=pollable) as fd:
        yield Lines(fd, pollable=pollable)


async def _read(
    lines: AsyncIterator[bytes],
    to_server: MemoryObjectSendStream[SessionMessage | Exception],
    out: LineWriter,
    lane: StdioLane | None = None,
) -> None:
    async with to_server:
        async for line in lines:
            if lane is not None and lane.take(line):
                continue
            try:
                message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except Exception as exc:  # noqa: BLE001 - whatever the parser refuses is answered, never a crash
                answers = answers_for(line, exc)
                if not answers:
                    log.warning("stdio: ignored a message that is not valid JSON-RPC: %s", str(exc).splitlines()[0])
                for answer in answers:
                    await out.write_line(json.dumps(answer, separators=(",", ":")))
                continue
            if isinstance(message, mcp_types.JSONRPCNotification) and b'"id"' in line:
                # The parser takes a request whose id is no string or integer (1.5, true, [1]) for a
                # notification: its sender waits for an answer that would never come.
                odd = odd_id_answer(line)
                if odd is not None:
                    await out.write_line(json.dumps(odd, separators=(",", ":")))
                    continue
            await to_server.send(SessionMessage(message))


async def _write(from_server: MemoryObjectReceiveStream[SessionMessage], out: LineWriter) -> None:
    async with from_server:
        async for session_message in from_server:
            await out.write_line(session_message.message.model_dump_json(by_alias=True, exclude_unset=True))


@contextlib.contextmanager
def _output() -> Iterator[LoopStdout]:
    if sys.stdout is None:
        yield LoopStdout(1)  # the null device (see _input)
        return
    with claimed_stdout() as fd:
        yield LoopStdout(fd)


@contextlib.asynccontextmanager
async def _streams(server: MCPServer[Any] | None = None) -> AsyncIterator[tuple[Any, Any]]:
    with _input() as lines, _output() as stdout:
        out = LineWriter(stdout)
        to_server, server_reads = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        server_writes, from_server = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as tg:
            lane = StdioLane(server, out.write_line, tg) if isinstance(server, PlugyardServer) else None
            tg.start_soon(_read, lines, to_server, out, lane)
            writer_done = anyio.Event()

            async def write() -> None:
                try:
                    await _write(from_server, out)
                finally:
                    writer_done.set()

            tg.start_soon(write)
            try:
                yield server_reads, server_writes
            finally:
                # The server closed its side: every answer it sent is written before the input stops.
                await server_writes.aclose()
                with anyio.move_on_after(5):
                    await writer_done.wait()
                tg.cancel_scope.cancel()


async def run_stdio(server: MCPServer[Any]) -> None:
    """Serve ``server`` on stdin/stdout until end of input or cancellation."""
    lowlevel = lowlevel_server(server)
    async with _streams(server) as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
