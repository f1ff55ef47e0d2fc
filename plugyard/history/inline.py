"""SQLite writes with plain ``sqlite3``, on the event loop unless the database is busy.

Measured (bench/bench_pipeline.py, bench/profile_pipeline.py ``ablate``): through aiosqlite, a
batch's Python work (SQLAlchemy's parameter handling, the rollups) ran in a worker thread that
fought the event loop for the GIL. The Python half of ``rollups.write_calls`` therefore runs on the
loop against ``DeferredConnection``, which only collects the statements. Running those statements in
a worker thread still cost the calls being served more than running them on the loop: the thread
takes the GIL back after every statement and waits up to the interpreter's switch interval each
time, and, in-process (client, server and writer in one process), its wait was the calls' wait. So:

- the statements run on the loop thread, on a connection that never waits for a lock
  (``busy_timeout=0``) and never checkpoints (``wal_autocheckpoint=0``): the recorder hands them over
  in chunks (``CHUNK_ROWS``), so no call waits more than a few milliseconds behind one;
- when another connection holds the write lock, the chunk goes to a worker thread instead, on a
  second connection that waits for the lock as every plugyard connection does (``busy_timeout``);
- every ``CHECKPOINT_ROWS`` rows, a passive WAL checkpoint runs in the worker thread, so the disk
  writes and syncs of checkpointing never run on the loop.

When a call id of the batch turns out to be stored already (a journal replayed, a retry after a
lost commit), the batch goes the ordinary async way instead, which checks every id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from plugyard.history.db import sqlite_pragmas

Statement = tuple[str, Any]
_DIALECT = sqlite.dialect()


class NotDeferrable(Exception):
    """The write needs answers from the database before it can go on."""


class _NothingStored:
    def scalars(self) -> list[Any]:
        return []


class DeferredConnection:
    """Collects what ``write_calls`` would execute, assuming no call id of the batch is stored yet."""

    dialect = _DIALECT

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> None:
        self.statements.append((statement, parameters))

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if isinstance(statement, sa.Select):
            return _NothingStored()  # checked for real in the worker thread, under the write lock
        raise NotDeferrable(type(statement).__name__)


_INSERT_CALLS = "INSERT INTO tool_call "
CHUNK_ROWS = 100
"""Rows per transaction on the loop thread: about 1.5 ms of SQLite work on a 2-core machine, its Python half
(``write_calls`` against ``DeferredConnection``) about 0.7 ms more, the loop free between the two."""
CHECKPOINT_ROWS = 5_000
"""Rows between passive WAL checkpoints (SQLite's own default is every 1,000 pages, a few thousand rows)."""


def _locked(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "locked" in str(exc)
    )


class SQLiteWriter:
    """A loop-thread connection that never waits, and a worker-thread one for when it would."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._loop_connection: sqlite3.Connection | None = None
        self._thread_connection: sqlite3.Connection | None = None
        self._since_checkpoint = 0
        self.handed_to_thread = 0
        """Chunks the loop found locked and the worker thread wrote (for tests and diagnostics)."""

    def _connect(self, *, on_loop: bool) -> sqlite3.Connection:
        connection = self._loop_connection if on_loop else self._thread_connection
        if connection is None:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            sqlite_pragmas(connection, None)
            if on_loop:
                connection.execute("PRAGMA busy_timeout=0")
                connection.execute("PRAGMA wal_autocheckpoint=0")
                self._loop_connection = connection
            else:
                self._thread_connection = connection
        return connection

    @staticmethod
    def _run(connection: sqlite3.Connection, call_ids: Sequence[str], statements: Sequence[Statement]) -> bool:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for sql, parameters in statements:
                if isinstance(parameters, list):
                    cursor = connection.executemany(sql, parameters)
                else:
                    cursor = connection.execute(sql, parameters or ())
                if sql.startswith(_INSERT_CALLS) and cursor.rowcount != len(call_ids):
                    # ON CONFLICT DO NOTHING skipped a call id that is stored already: the rollups
                    # collected for this batch would count it twice. Undo; the caller checks every id.
                    connection.execute("ROLLBACK")
                    return False
            connection.execute("COMMIT")
            return True
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    async def run(self, call_ids: Sequence[str], statements: Sequence[Statement]) -> bool:
        """Execute ``statements`` in one transaction unless a call id is stored already (then False)."""
        try:
            done = self._run(self._connect(on_loop=True), call_ids, statements)
        except sqlite3.OperationalError as exc:
            if not _locked(exc):
                raise
            self.handed_to_thread += 1
            done = await anyio.to_thread.run_sync(self._run, self._connect(on_loop=False), call_ids, statements)
        if done:
            self._since_checkpoint += len(call_ids)
            if self._since_checkpoint >= CHECKPOINT_ROWS:
                self._since_checkpoint = 0
                await anyio.to_thread.run_sync(self._checkpoint)
        return done

    def _checkpoint(self) -> None:
        self._connect(on_loop=False).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        for connection in (self._loop_connection, self._thread_connection):
            if connection is not None:
                connection.close()
        self._loop_connection = self._thread_connection = None
