"""A stdio upstream's pipes, read and written on the event loop: the transport its SDK ``Client`` runs on.

The SDK's ``stdio_client`` bridges the server's pipes to the session through two tasks and two
memory-object streams: each request passes a task switch on its way out, each answer three on its way
in (pipe -> reader task -> the dispatcher's loop -> the caller), with text decoding in between. Here the
read and write streams the SDK's dispatcher drives are the pipes themselves (asyncio's pipe transports,
uvloop's under ``plugyard serve``): a request is serialized and written in the task that sends it, and
the dispatcher's read loop parses the next line straight from what the pipe delivered. Everything else
of the SDK's client (notifications, progress, sampling, elicitation, cancellation, timeouts) is its own,
unchanged: this is only what ``Client(transport)`` reads and writes.

As in the SDK: the server starts in its own session (process group), its stderr goes to ``errlog``,
never into the protocol; a line that is not JSON-RPC reaches the session as an exception (and a log
line); the end of its stdout ends the session (a message cut short by the server's exit is dropped,
never parsed half); shutdown closes its stdin, waits, then SIGTERM and SIGKILL to its process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TextIO, cast

import anyio
import mcp_types
from mcp import StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.shared.message import SessionMessage

log = logging.getLogger("plugyard.upstream")

READ_AHEAD = 1 << 20
"""Bytes of whole lines read ahead of the session before the pipe is paused (a server cannot flood memory)."""
EXIT_GRACE = 2.0
"""Seconds a server has to exit once its stdin closed, then again after SIGTERM (the SDK's figures)."""
POLL = 0.01


class _Stdout(asyncio.Protocol):
    """The server's stdout as bytes and whole lines; one reader (the dispatcher's loop) waits on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._scanned = 0
        """Bytes of ``_buffer`` known to hold no newline (a long line is searched once, not per chunk)."""
        self._transport: asyncio.ReadTransport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._discarding = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's pipes are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self._buffer += data
        if self._waiter is not None and b"\n" in data:
            self._wake()
        # Paused only with a whole line to hand on (one longer than READ_AHEAD is read to its end).
        if len(self._buffer) > READ_AHEAD and self._transport is not None and b"\n" in data:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        _settle(waiter)

    def line(self) -> bytes | None:
        """The next whole line (without its newline), or None when none has arrived yet."""
        newline = self._buffer.find(b"\n", self._scanned)
        if newline < 0:
            self._scanned = len(self._buffer)
            return None
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        self._scanned = 0
        if self._paused and len(self._buffer) <= READ_AHEAD and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return line

    def cut_short(self) -> int:
        """Bytes of a last line the server never finished (dropped at the end of its output)."""
        left = len(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        return left

    async def readable(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def discard(self) -> None:
        """From now on, whatever the server writes is read and dropped (it must not block on a full pipe)."""
        self._buffer.clear()
        self._discarding = True
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


class _Stdin(asyncio.Protocol):
    """Flow control of the server's stdin: a sender waits while the pipe's buffer is above its high mark."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._drained: asyncio.Future[None] | None = None
        self.lost = False

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        self._release()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._release()

    def _release(self) -> None:
        drained, self._drained = self._drained, None
        _settle(drained)

    async def drain(self) -> None:
        if self._drained is not None:
            await asyncio.shield(self._drained)


class _End:
    """What both streams share: ``async with`` closes them; a closed one refuses to be used."""

    _closed = False

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Incoming(_End):
    """The session's read stream (``ReadStream[SessionMessage | Exception]``): the server's stdout lines."""

    def __init__(self, stdout: _Stdout, name: str, raw: RawRequests) -> None:
        self._stdout = stdout
        self._name = name
        self.raw = raw

    async def receive(self) -> SessionMessage | Exception:
        stdout = self._stdout
        raw = self.raw
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            line = stdout.line()
            if line is not None:
                if raw.waiting and RAW_PREFIX_BYTES in line and raw.take(line):
                    continue
                if line.strip():
                    return _parse(line, self._name)
                continue
            if stdout.eof:
                raw.close("its output ended")
                left = stdout.cut_short()
                if left:
                    log.warning("upstream %r: its output ended inside a message (%d bytes dropped)", self._name, left)
                raise anyio.EndOfStream
            await stdout.readable()

    def __aiter__(self) -> Incoming:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class Outgoing(_End):
    """The session's write stream (``WriteStream[SessionMessage]``): a line to the server's stdin, written
    by the task that sends it. The pipe transport keeps lines whole and in order; a sender waits only
    while the server is not reading (its stdin's buffer above the high mark)."""

    def __init__(self, stdin: asyncio.WriteTransport, flow: _Stdin) -> None:
        self._stdin = stdin
        self._flow = flow

    async def send(self, item: SessionMessage) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._flow.lost or self._stdin.is_closing():
            raise anyio.BrokenResourceError
        data = item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        self._stdin.write(data)
        await self._flow.drain()
        if self._flow.lost:
            raise anyio.BrokenResourceError


RAW_PREFIX = "plugyard-raw:"
"""The ids of raw requests (and their progress tokens): strings, where the SDK's session numbers its own."""
RAW_PREFIX_BYTES = b'"' + RAW_PREFIX.encode()


class RawError(Exception):
    """The server answered a raw request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class RawClosed(Exception):
    """The server's output ended (it exited or closed it) before it answered a raw request."""


ProgressCallback = Callable[[float, float | None, str | None], Awaitable[None]]


class RawRequests:
    """Requests written as JSON and answered as JSON, beside the SDK session on the same pipes.

    A relayed ``tools/call`` needs nothing of the SDK client's models: the answer goes back to plugyard's
    client as the server wrote it. So it is written here (one ``json.dumps``) and its answer taken off the
    read stream before the SDK parses it (``Incoming.receive``: a string id with ``RAW_PREFIX``, which the
    SDK's integer ids never are). Progress notifications for its token go to the caller's callback;
    cancelling the waiting task tells the server (``notifications/cancelled``); the end of the server's
    output fails every request still waiting. Requests the server sends meanwhile (sampling, elicitation,
    roots) and its other notifications stay the SDK session's.
    """

    def __init__(self, stdin: asyncio.WriteTransport, flow: _Stdin, loop: asyncio.AbstractEventLoop) -> None:
        self._stdin = stdin
        self._flow = flow
        self._loop = loop
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._progress: dict[str, ProgressCallback] = {}
        self._reports: set[asyncio.Task[None]] = set()
        self._closed: str | None = None
        self.waiting = 0
        """Raw requests without their answer (the read stream looks for answers only while some wait)."""
        self.answered = 0
        """Answers taken off the read stream, since the connection opened."""

    async def request(
        self, method: str, params: dict[str, Any], *, progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Send one request; its ``result`` object. Raises ``RawError`` for an error answer, ``RawClosed``."""
        if self._closed is not None or self._flow.lost or self._stdin.is_closing():
            raise RawClosed(self._closed or "its input is closed")
        request_id = f"{RAW_PREFIX}{next(self._ids)}"
        if progress is not None:
            params = {**params, "_meta": {**params.get("_meta", {}), "progressToken": request_id}}
            self._progress[request_id] = progress
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._pending[request_id] = future
        self.waiting += 1
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            self._stdin.write(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
            await self._flow.drain()
            return await future
        except asyncio.CancelledError:
            if request_id in self._pending:
                self._cancel(request_id)
            raise
        finally:
            if self._pending.pop(request_id, None) is not None:
                self.waiting -= 1
            self._progress.pop(request_id, None)

    def _cancel(self, request_id: str) -> None:
        if self._closed is not None or self._stdin.is_closing():
            return
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "the call was cancelled"},
        }
        self._stdin.write(json.dumps(note, separators=(",", ":")).encode() + b"\n")

    def take(self, line: bytes) -> bool:
        """Whether ``line`` is the answer to a raw request, or progress for one (then it is consumed)."""
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return False
        if not isinstance(message, dict):
            return False
        request_id = message.get("id")
        if "method" not in message:
            future = self._pending.get(request_id) if isinstance(request_id, str) else None
            if future is None:
                return False
            self.answered += 1
            if not future.done():
                error = message.get("error")
                if isinstance(error, dict):
                    future.set_exception(
                        RawError(int(error.get("code", 0)), str(error.get("message", "")), error.get("data"))
                    )
                else:
                    result = message.get("result")
                    future.set_result(result if isinstance(result, dict) else {})
            return True
        if message.get("method") == "notifications/progress" and request_id is None:
            params = message.get("params")
            if not isinstance(params, dict):
                return False
            token = params.get("progressToken")
            callback = self._progress.get(token) if isinstance(token, str) else None
            if callback is None:
                return False
            task = self._loop.create_task(_report(callback, params))
            self._reports.add(task)  # held until it ran (the loop keeps only weak references)
            task.add_done_callback(self._reports.discard)
            return True
        return False

    def close(self, why: str) -> None:
        """The server's output ended: every request still waiting fails (``RawClosed``)."""
        if self._closed is None:
            self._closed = why
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RawClosed(why))


async def _report(callback: ProgressCallback, params: dict[str, Any]) -> None:
    try:
        total = params.get("total")
        await callback(
            float(params.get("progress", 0)), float(total) if total is not None else None, params.get("message")
        )
    except Exception:
        log.debug("progress of a relayed call could not be passed on", exc_info=True)


def _parse(line: bytes, name: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        log.warning("upstream %r: a line of its output is not JSON-RPC: %s", name, str(exc).splitlines()[0])
        return exc


class _Process(asyncio.SubprocessProtocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stdout = _Stdout(loop)
        self.stdin = _Stdin(loop)
        self.exited = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.stdout.data_received(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self.stdout.connection_lost(exc)
        elif fd == 0:
            self.stdin.connection_lost(exc)

    def pause_writing(self) -> None:
        self.stdin.pause_writing()

    def resume_writing(self) -> None:
        self.stdin.resume_writing()

    def process_exited(self) -> None:
        self.exited.set()


@contextlib.asynccontextmanager
async def stdio_pipes(
    server: StdioServerParameters, errlog: TextIO, name: str
) -> AsyncIterator[tuple[Incoming, Outgoing]]:
    """Start ``server`` and yield the session's (read, write) streams over its stdout and stdin."""
    loop = asyncio.get_running_loop()
    with anyio.CancelScope(shield=True):  # a cancellation mid-spawn must not leave a server running unowned
        transport, process = await loop.subprocess_exec(
            lambda: _Process(loop),
            server.command,
            *server.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            env=get_default_environment() | (server.env or {}),
            cwd=server.cwd,
            start_new_session=True,
        )
    try:
        stdin = transport.get_pipe_transport(0)
        stdout = transport.get_pipe_transport(1)
        assert stdin is not None and stdout is not None, "the server is started with both pipes"
        process.stdout.connection_made(stdout)
        raw = RawRequests(cast(asyncio.WriteTransport, stdin), process.stdin, loop)
        try:
            yield Incoming(process.stdout, name, raw), Outgoing(cast(asyncio.WriteTransport, stdin), process.stdin)
        finally:
            raw.close("the connection was closed")
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(transport, process)


async def _stop(transport: asyncio.SubprocessTransport, process: _Process) -> None:
    """Close its stdin, give it ``EXIT_GRACE`` to exit, then SIGTERM its process group, then SIGKILL."""
    process.stdout.discard()
    stdin = transport.get_pipe_transport(0)
    if stdin is not None:
        stdin.close()
    with anyio.move_on_after(EXIT_GRACE):
        await process.exited.wait()
    pid = transport.get_pid()
    if not process.exited.is_set():
        _signal_group(pid, signal.SIGTERM)
        with anyio.move_on_after(EXIT_GRACE):
            await process.exited.wait()
    if _group_alive(pid):  # the server's own children (npx -> node) live in its group
        _signal_group(pid, signal.SIGTERM)
        with anyio.move_on_after(EXIT_GRACE):
            while _group_alive(pid):  # noqa: ASYNC110 - nothing signals that a process group is gone
                await anyio.sleep(POLL)
        _signal_group(pid, signal.SIGKILL)
    transport.close()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def supported() -> bool:
    """Pipes on the event loop need a POSIX loop (Windows' proactor cannot wait on them this way)."""
    return sys.platform != "win32"
