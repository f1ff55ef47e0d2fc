"""SQLite writes split between the event loop and a worker thread.

Measured (bench/bench_pipeline.py, bench/profile_pipeline.py): through aiosqlite, a batch's
Python work (SQLAlchemy's parameter handling, the rollups) runs in a worker thread that fights
the event loop for the GIL, and the calls being served pay for it; run wholly on the loop, the
commit's disk writes block the calls instead. So the Python half of ``rollups.write_calls``
runs on the loop against ``DeferredConnection``, which only collects the statements, and the
statements then run in a worker thread on a plain ``sqlite3`` connection, where SQLite releases
the GIL while it works. When a call id of the batch turns out to be stored already (a journal
replayed, a retry after a lost commit), the batch goes the ordinary async way instead, which
checks every id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from plugyard.core.history.db import sqlite_pragmas

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


class SQLiteWriter:
    """One ``sqlite3`` connection, used by one worker thread at a time."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            sqlite_pragmas(connection, None)
            self._connection = connection
        return self._connection

    def _run(self, call_ids: Sequence[str], statements: Sequence[Statement]) -> bool:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, len(call_ids), 500):
                chunk = call_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found = connection.execute(f"SELECT 1 FROM tool_call WHERE call_id IN ({marks}) LIMIT 1", chunk)
                if found.fetchone() is not None:
                    connection.execute("ROLLBACK")
                    return False
            for sql, parameters in statements:
                if isinstance(parameters, list):
                    connection.executemany(sql, parameters)
                else:
                    connection.execute(sql, parameters or ())
            connection.execute("COMMIT")
            return True
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    async def run(self, call_ids: Sequence[str], statements: Sequence[Statement]) -> bool:
        """Execute ``statements`` in one transaction unless a call id is stored already (then False)."""
        return await anyio.to_thread.run_sync(self._run, call_ids, statements)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
