"""Where the recorder's batches are written: in this process, or in a writer process of its own.

``BatchWriter`` writes a batch (rows and their rollups, one transaction per chunk) in this process:
on SQLite with plain ``sqlite3`` on the event loop (see ``inline.py``), on PostgreSQL through the
async engine.

``ProcessWriter`` hands each batch to a child process (``python -m plugyard.core.history.writer``)
that runs a ``BatchWriter`` and answers when the batch is committed. The serving process then
spends on a batch only the time to pickle it: the SQL, the rollups and the garbage they make run
on another core, never holding this process's GIL. Measured on the in-memory transport, where
client, server and writer otherwise share one interpreter (bench/bench_pipeline.py), that is the
difference between about 0.7-0.8x and 0.9x of a bare MCP server. ``plugyard serve`` uses it by
default (``[history] writer = "auto"``); a library host keeps the in-process writer, which needs no
second interpreter to start (about 0.7 s of imports).

The recorder above either writer is unchanged: it batches, retries with backoff, journals what
cannot wait, and counts a batch written only once the writer says it is committed. A batch the
child reports unwritable comes back as ``RemoteWriteError``, which the recorder treats exactly as
the database's own error (retry when the database is away, set rows aside when refused). If the
child dies, the batch is retried on a new child; after ``MAX_RESPAWNS`` deaths in a row, or when no
child can be started at all, this process writes for itself. The child ignores SIGINT and SIGTERM
(a terminal's Ctrl-C reaches the whole process group) and leaves when its input closes, after the
batch in hand: the parent's shutdown flushes through it, and a parent killed outright still gets
its last handed-over batch committed.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.buffered import BufferedByteReceiveStream
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.core.history.inline import CHUNK_ROWS, DeferredConnection, NotDeferrable, SQLiteWriter
from plugyard.core.history.rollups import write_calls

log = logging.getLogger("plugyard.history")

Row = dict[str, Any]
MAX_RESPAWNS = 3
_HEADER = struct.Struct("!I")
_READY = b"ready"


class BatchWriter:
    """Writes batches in this process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.sqlite = SQLiteWriter(database) if database and database != ":memory:" else None

    async def write(self, rows: list[Row]) -> None:
        if self.sqlite is None:
            await self._write_async(rows)
            return
        # SQLite: plain sqlite3 in short transactions on the loop, letting the calls run in between
        # (see core/history/inline.py).
        for start in range(0, len(rows), CHUNK_ROWS):
            if start:
                await anyio.lowlevel.checkpoint()
            chunk = rows[start : start + CHUNK_ROWS]
            deferred = DeferredConnection()
            try:
                await write_calls(deferred, chunk)
            except NotDeferrable:
                await self._write_async(chunk)
                continue
            if deferred.statements and not await self.sqlite.run([r["call_id"] for r in chunk], deferred.statements):
                await self._write_async(chunk)

    async def _write_async(self, rows: list[Row]) -> None:
        async with self.engine.begin() as connection:
            # The rollups change in the same transaction, by the rows actually inserted only.
            await write_calls(connection, rows)

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()


class RemoteWriteError(Exception):
    """The writer process could not write a batch; ``unavailable`` as ``recorder._unavailable`` decides."""

    def __init__(self, message: str, *, unavailable: bool) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class ProcessWriter:
    """Writes batches in a child process; falls back to a ``BatchWriter`` here when it cannot."""

    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self.engine = engine
        self._url = url
        self._process: anyio.abc.Process | None = None
        self._replies: BufferedByteReceiveStream | None = None
        self._lock = anyio.Lock()
        self._deaths = 0
        self._local: BatchWriter | None = None
        self.batches_in_child = 0

    @property
    def sqlite(self) -> SQLiteWriter | None:
        return self._local.sqlite if self._local is not None else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def write(self, rows: list[Row]) -> None:
        async with self._lock:
            if self._local is not None:
                await self._local.write(rows)
                return
            try:
                payload = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                # Only what the recorder prepared (JSON-safe) is sent; anything else was a bug upstream.
                payload = pickle.dumps(_plain(rows), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                process, replies = await self._child()
                await process.stdin.send(_HEADER.pack(len(payload)) + payload)  # type: ignore[union-attr]
                size = _HEADER.unpack(await replies.receive_exactly(_HEADER.size))[0]
                reply = pickle.loads(await replies.receive_exactly(size))
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream) as exc:
                await self._lost(exc)
                if self._local is not None:
                    await self._local.write(rows)
                    return
                raise RemoteWriteError(f"the history writer process stopped ({exc!r})", unavailable=True) from None
            self._deaths = 0
            if reply is not None:
                message, unavailable = reply
                raise RemoteWriteError(message, unavailable=unavailable)
            self.batches_in_child += 1

    async def _child(self) -> tuple[anyio.abc.Process, BufferedByteReceiveStream]:
        if self._process is not None and self._replies is not None:
            return self._process, self._replies
        process = await anyio.open_process(
            [sys.executable, "-m", "plugyard.core.history.writer", self._url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the child's log lines go where this process's go
        )
        assert process.stdout is not None
        replies = BufferedByteReceiveStream(process.stdout)
        self._process, self._replies = process, replies
        if await replies.receive_exactly(len(_READY)) != _READY:
            raise OSError("the history writer process did not start")
        log.debug("history writer process %d started", process.pid)
        return process, replies

    async def _lost(self, exc: BaseException) -> None:
        self._deaths += 1
        process, self._process, self._replies = self._process, None, None
        if process is not None:
            with anyio.CancelScope(shield=True):
                await _stop(process)
        if self._deaths >= MAX_RESPAWNS:
            log.error(
                "the history writer process failed %d times in a row (%r); writing history in this process from now on",
                self._deaths,
                exc,
            )
            self._local = BatchWriter(self.engine)
        else:
            log.warning("the history writer process stopped (%r); the batch goes to a new one", exc)

    async def close(self) -> None:
        async with self._lock:
            process, self._process, self._replies = self._process, None, None
            if process is not None:
                with anyio.CancelScope(shield=True):
                    await _stop(process)
            if self._local is not None:
                await self._local.close()


async def _stop(process: anyio.abc.Process) -> None:
    """Close the child's input (it leaves after the batch in hand) and wait; kill it if it lingers."""
    try:
        if process.stdin is not None:
            await process.stdin.aclose()
    except (OSError, anyio.BrokenResourceError):
        pass
    with anyio.move_on_after(10):
        await process.wait()
        return
    process.kill()
    await process.wait()


def _plain(rows: Iterable[Row]) -> list[Row]:
    import pydantic_core

    return [pydantic_core.to_jsonable_python(row, fallback=repr) for row in rows]


# -- the child ------------------------------------------------------------------------------------


async def _serve(url: str) -> None:
    from plugyard.core.history.db import create_engine

    engine = create_engine(url)
    writer = BatchWriter(engine)
    stdin = anyio.wrap_file(os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False))
    stdout = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)

    def send(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[stdout.write(view) or 0 :]

    async def read_exactly(n: int) -> bytes | None:
        parts = []
        while n:
            part = await stdin.read(n)
            if not part:
                return None
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    send(_READY)
    try:
        while True:
            header = await read_exactly(_HEADER.size)
            if header is None:
                break
            payload = await read_exactly(_HEADER.unpack(header)[0])
            if payload is None:
                break
            rows = pickle.loads(payload)
            reply: tuple[str, bool] | None = None
            try:
                await writer.write(rows)
            except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
                from plugyard.core.history.recorder import _unavailable

                reply = (f"{type(exc).__name__}: {exc}", _unavailable(exc))
            answer = pickle.dumps(reply)
            send(_HEADER.pack(len(answer)) + answer)
    finally:
        await writer.close()
        await engine.dispose()


def main(argv: list[str]) -> None:
    # The parent decides when to stop: it closes our input once its last batch is answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="plugyard history writer: %(levelname)s %(message)s")
    anyio.run(_serve, argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
