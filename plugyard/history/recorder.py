"""The recorder: takes finished calls off the call path and writes them in batches.

``submit`` only appends to an in-memory queue (the call's added latency). A background task
writes batches, one transaction each, when a batch fills or ``flush_interval`` passes. When the
database refuses, it retries with backoff; records that cannot wait (the queue is full, or the
host is shutting down and the database is still away) go to an append-only JSON Lines journal,
which is replayed into the database at the next start. Rows are keyed by a unique call id and
inserted with ON CONFLICT DO NOTHING, so a batch written twice never duplicates a row.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pydantic_core
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.core.calls import ToolOutcome
from plugyard.history.journal import STDERR, JournalSink, journal_line, read_journal
from plugyard.history.redact import Redactor
from plugyard.history.writer import BatchWriter

log = logging.getLogger("plugyard.history")

MAX_ERROR_CHARS = 4000
WRITE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError)
"""What a failed write raises."""
SHUTDOWN_ATTEMPTS = 3
REPLAY_REPORT_EVERY = 20_000
"""Records between progress lines while a journal is replayed."""


def outcome_row(outcome: ToolOutcome) -> dict[str, Any]:
    call = outcome.call
    message = outcome.error_message
    return {
        "call_id": call.call_id,
        "user_id": call.user_id,
        "session_id": call.session_id,
        "tool_name": call.tool_name,
        "plugin_name": call.plugin_name,
        "arguments": call.arguments,
        "success": outcome.success,
        "error_type": outcome.error_type,
        "error_message": message[:MAX_ERROR_CHARS] if message else None,
        "execution_time_ms": outcome.duration_ms,
        "result_size": outcome.result_size,
        "satisfaction": None,
        "intent": call.intent,
        "workflow_run_id": call.workflow_run_id,
        "source": call.source,
        "created_at": call.started_at,
    }


class Recorder:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        journal: Path,
        fallback_journal: Path | None = None,
        redact_keys: Iterable[str] = (),
        batch_size: int = 500,
        flush_interval: float = 0.2,
        queue_size: int = 100_000,
        durability: str = "memory",
    ) -> None:
        self.engine = engine
        self.after_batch: Callable[[], Awaitable[None]] | None = None
        """Awaited by the writer after each batch it wrote: the history plugin stores the decision
        evidence of those calls there, one writer at a time beside the recorder's own writes."""
        self.durability = durability
        self._ahead_fd: int | None = None
        self._ahead_path: Path | None = None
        self.journal = journal
        self.fallback_journal = fallback_journal
        self._sink = JournalSink([journal] if fallback_journal is None else [journal, fallback_journal])
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self._redact = Redactor(redact_keys)
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = anyio.Event()
        self._closing = False
        self._stopped = anyio.Event()
        self._running = False
        self._writing = 0
        self._flushing = 0
        self._writer = BatchWriter(engine)
        self.written = 0
        self.journaled = 0
        self.replayed = 0
        self.failures = 0
        self.refused = 0
        self.retrying = False
        """Whether the writer is waiting for the database to come back (a write failed and is retried)."""
        self.writing_since: float | None = None
        """When the batch being written now was started (``time.monotonic()``), None between batches."""

    @property
    def depth(self) -> int:
        """Records accepted and not yet written."""
        return len(self._queue)

    # -- the call path ---------------------------------------------------------------------

    def submit(self, outcome: ToolOutcome) -> None:
        row = outcome_row(outcome)
        if len(self._queue) >= self.queue_size:
            # The database has fallen far behind: keep the record on disk rather than in memory.
            self._append_journal([row])
            return
        self._queue.append(row)
        if self._ahead_fd is not None:
            # durability = "journal": on disk (in the OS's cache) before the call returns, so even
            # kill -9 loses nothing accepted; the file is emptied whenever the queue is written.
            try:
                os.write(self._ahead_fd, journal_line(self._prepare(row)).encode())
            except OSError as exc:
                self._ahead_failed(exc)
        if len(self._queue) >= self.batch_size and not self._wake.is_set():
            self._wake.set()  # once: while the writer works through a backlog, every call would set it again

    # -- the background writer -------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until ``close()`` is called and the queue is empty: a full batch at once, a
        partial one when ``flush_interval`` has passed (or ``flush()``/``close()`` asks)."""
        self._running = True
        try:
            while True:
                if not self._queue and self._closing:
                    break
                if not self._queue or not self._urgent():
                    # Nothing to write, or a partial batch: wait for a full batch, flush()/close(), or the
                    # interval. (An empty queue always waits: flush() is urgent, but with nothing left to
                    # write a loop that does not await would hold the event loop, and flush() with it.)
                    with anyio.move_on_after(self.flush_interval):
                        await self._wake.wait()
                    self._wake = anyio.Event()
                wrote = False
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                    self._writing += 1
                    self.writing_since = time.monotonic()
                    try:
                        await self._write_with_retry(batch)
                        if self.after_batch is not None:
                            await self.after_batch()  # inside the write: flush() waits for it too
                    finally:
                        self._writing -= 1
                        self.writing_since = None
                    wrote = True
                    if self._ahead_fd is None and not self._urgent():
                        # The few calls made during that write wait for the next interval instead of a
                        # transaction of their own each time (measured on PostgreSQL: batches of 3 rows,
                        # the writer busy on the event loop all the time; bench/RESULTS.md, bench_serve).
                        break
                if wrote and self._ahead_fd is not None and not self._queue:
                    try:
                        os.ftruncate(self._ahead_fd, 0)
                    except OSError as exc:
                        self._ahead_failed(exc)
        finally:
            self._running = False
            self._stopped.set()

    def _urgent(self) -> bool:
        """Whether the queue is to be written now rather than after ``flush_interval``."""
        return len(self._queue) >= self.batch_size or self._closing or self._flushing > 0

    async def flush(self) -> None:
        """Wait until every record accepted so far is written (or journaled); the writer keeps running."""
        if not self._running:
            await self._write_queued()
            return
        self._flushing += 1
        try:
            self._wake.set()
            while self._queue or self._writing:  # noqa: ASYNC110 - the writer signals per batch, not per drain
                await anyio.sleep(0.005)
        finally:
            self._flushing -= 1

    async def close(self) -> None:
        """Flush everything accepted so far, then stop. Safe to call when ``run`` never started."""
        self._closing = True
        self._wake.set()
        if self._running:
            await self._stopped.wait()
        else:
            await self._write_queued()
        await self._writer.close()
        self._close_ahead()

    def _prepare(self, row: dict[str, Any]) -> dict[str, Any]:
        args = row["arguments"]
        message = row["error_message"]
        if message:
            # A failure's message may echo a secret argument, or carry a header or URL with one.
            clean = self._redact.message(message, args)
            if clean != message:
                row = dict(row, error_message=clean)
        if args is None:
            return row
        if type(args) is dict and self._redact.plain_and_clean(args):
            return row  # the common case, and it costs a check per argument: flat, JSON-native, no secret key
        # JSON-safe and redacted: what is stored is exactly what the journal would hold.
        return dict(row, arguments=self._redact(pydantic_core.to_jsonable_python(args, fallback=repr)))

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        await self._writer.write(rows)

    async def _write_queued(self) -> None:
        """Write what is queued, with no writer running. Cut off (a caller's time limit), the rows go back on
        the queue: none is dropped, and any already stored is skipped by its call id when written again."""
        rows = list(self._queue)
        self._queue.clear()
        if not rows:
            return
        try:
            await self._write_with_retry(rows)
        except BaseException:
            self._queue.extendleft(reversed(rows))
            raise

    async def _write_with_retry(self, batch: list[dict[str, Any]]) -> None:
        rows = [self._prepare(r) for r in batch]
        delay = 0.05
        attempt = 0
        while True:
            try:
                await self._write(rows)
            except WRITE_ERRORS as exc:
                attempt += 1
                self.failures += 1
                if not _unavailable(exc):
                    # The database is there but refuses these rows: write the others, set the
                    # refused ones aside, and never let one bad row hold up every later batch.
                    await self._write_one_by_one(rows, exc)
                    return
                if (self._closing and attempt >= SHUTDOWN_ATTEMPTS) or len(self._queue) >= self.queue_size:
                    where = self._append_journal(rows)
                    if where != STDERR and where != "nowhere":
                        log.error("history database unavailable (%s); %d record(s) kept in %s", exc, len(rows), where)
                    else:
                        log.error("history database unavailable (%s)", exc)
                    return
                log.warning("history write failed (%s); retrying in %.2f s", exc, delay)
                self.retrying = True
                await anyio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.written += len(rows)
            self.retrying = False
            return

    async def _write_one_by_one(self, rows: list[dict[str, Any]], first: BaseException) -> None:
        refused = []
        for row in rows:
            try:
                await self._write([row])
            except WRITE_ERRORS as exc:
                if _unavailable(exc):
                    self._append_journal([row])  # the database went away meanwhile
                else:
                    refused.append(row)
            else:
                self.written += 1
        if refused:
            # Kept apart from the journal (never replayed: the database would refuse them again).
            sink = JournalSink([p.with_name(p.name + ".refused") for p in self._sink.journals])
            where = sink.append([journal_line(r) for r in refused], "refused record(s)")
            self._sink.on_stderr += sink.on_stderr
            self._sink.lost += sink.lost
            self.refused += len(refused)
            log.error("history database refused %d record(s) (%s); kept in %s", len(refused), first, where)

    # -- the journal -----------------------------------------------------------------------

    @property
    def on_stderr(self) -> int:
        """Records no journal could take, written to stderr (not replayed)."""
        return self._sink.on_stderr

    @property
    def lost(self) -> int:
        """Records nothing could take (not even stderr)."""
        return self._sink.lost

    def _append_journal(self, rows: list[dict[str, Any]]) -> str:
        """Keep ``rows`` in the first place that takes them (``history/journal.py``); returns where.
        Never raises: a recorder that died here would lose the whole queue."""
        where = self._sink.append([journal_line(self._prepare(r)) for r in rows])
        if where not in (STDERR, "nowhere"):
            self.journaled += len(rows)
        return where

    def _ahead_failed(self, exc: OSError) -> None:
        """The write-ahead file cannot be written (a full disk): from now on records wait in memory only,
        as with durability = "memory", and the file stays for the next start to replay what it holds."""
        log.error(
            'history write-ahead file %s failed (%s): durability is "memory" from now on (kill -9 would lose '
            "up to flush_interval worth of calls)",
            self._ahead_path,
            exc,
        )
        if self._ahead_fd is not None:
            os.close(self._ahead_fd)
        self._ahead_fd = self._ahead_path = None

    async def replay_journal(self) -> int:
        """Write records left by earlier runs (the journal, the fallback journal, and the write-ahead
        files of processes that died) into the database; returns how many. Then, with durability =
        "journal", open this process's own write-ahead file. Raises ``OSError`` when the journal's folder
        cannot be written (the plugin refuses to start: it could not keep what the database refuses)."""
        total = await self._replay_from(self.journal)
        fallback = self.fallback_journal
        if fallback is not None and fallback != self.journal and fallback.parent.is_dir():
            try:
                total += await self._replay_from(fallback)
            except OSError as exc:
                log.error("history fallback journal %s cannot be replayed (%s); left for the next start", fallback, exc)
        if self.durability == "journal" and self._ahead_fd is None:
            self._open_ahead()
        return total

    async def _replay_from(self, journal: Path) -> int:
        journal.parent.mkdir(parents=True, exist_ok=True)
        total = 0
        # Replicas sharing a data directory take turns; the one that finds the lock taken leaves
        # the replay to the other.
        lock = os.open(journal.with_name(journal.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("another process is replaying %s; skipped", journal)
            else:
                total = await self._replay_pending(journal)
        finally:
            os.close(lock)
        return total

    async def _replay_pending(self, journal: Path) -> int:
        pending = _pending_files(journal)
        files = [(path, list(read_journal(path))) for path in pending]
        waiting = sum(len(rows) for _path, rows in files)
        if waiting:
            # Replay runs before a server starts serving, and means an earlier run could not write everything:
            # say so (a warning: shown by default), and how far it got.
            log.warning("replaying %d history record(s) left by earlier runs (%d file(s))", waiting, len(files))
        total = 0
        next_report = REPLAY_REPORT_EVERY
        for path, rows in files:
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                try:
                    await self._write(chunk)
                except WRITE_ERRORS as exc:
                    if _unavailable(exc):
                        raise  # the database is away: keep the file for the next start
                    await self._write_one_by_one(chunk, exc)
                if total + start + len(chunk) >= next_report:
                    log.warning("replayed %d of %d history record(s)", total + start + len(chunk), waiting)
                    next_report += REPLAY_REPORT_EVERY
            path.unlink()
            total += len(rows)
        if total:
            log.info("replayed %d history record(s) from %s", total, journal)
        self.replayed += total
        return total

    def _open_ahead(self) -> None:
        path = self.journal.with_name(f"{self.journal.name}.ahead-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._ahead_fd, self._ahead_path = fd, path

    def _close_ahead(self) -> None:
        if self._ahead_fd is None or self._ahead_path is None:
            return
        if self._queue or self._writing:
            return  # still holding records: leave the file for the next start to replay
        os.close(self._ahead_fd)
        self._ahead_path.unlink(missing_ok=True)
        self._ahead_fd = self._ahead_path = None


TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""Connection exception, transaction rollback (serialization, deadlock), insufficient resources, operator
intervention (shutdown, restart), system error: the database's state, not the rows' fault."""


def _unavailable(exc: BaseException) -> bool:
    """Whether the database could not be reached or locked (worth retrying), rather than refusing
    what it was given (integrity, data or programming errors)."""
    if isinstance(exc, OSError | sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sqlite3.OperationalError | sqlite3.InterfaceError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # PostgreSQL says why in its SQLSTATE: a server shutting down or restarting ("terminating connection due to
    # administrator command", 57P01; "the database system is starting up", 57P03) reaches asyncpg's driver as a
    # plain error, not a lost connection, and must be retried, not taken for a refusal of the rows.
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    if isinstance(code, str) and code[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return True
    # A missing table is an operational error on SQLite but a programming error on PostgreSQL:
    # either way the schema is not there yet, which a later attempt (after a migration) may fix.
    return "does not exist" in str(exc) or "no such table" in str(exc)


def _pending_files(journal: Path) -> list[Path]:
    """The files of ``journal`` to replay: left from an interrupted replay, the journal itself, and the
    write-ahead files of processes that are gone (each renamed first, so new records start fresh files)."""
    pending = sorted(journal.parent.glob(journal.name + ".replaying-*"))
    if journal.exists() and journal.stat().st_size > 0:
        # Renamed first, so records journaled while replaying start a fresh file.
        target = journal.with_name(f"{journal.name}.replaying-{time.time_ns()}")
        journal.rename(target)
        pending.append(target)
    for ahead in sorted(journal.parent.glob(journal.name + ".ahead-*")):
        # A live process holds a lock on its own write-ahead file: only orphans are taken.
        fd = os.open(ahead, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)
        target = journal.with_name(f"{journal.name}.replaying-{time.time_ns()}")
        ahead.rename(target)
        pending.append(target)
    return pending
