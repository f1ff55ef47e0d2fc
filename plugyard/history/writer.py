"""Who writes the recorder's batches: ``BatchWriter``, in this process.

On SQLite with plain ``sqlite3`` on the event loop, in transactions of ``CHUNK_ROWS`` rows with the loop free
between them (see ``inline.py``); on PostgreSQL through the async engine, in transactions of ``CHUNK_ROWS`` too.

Measured and dropped (bench/RESULTS.md): handing the batches to a writer process of the server's own
(pickled over a pipe, acknowledged once committed) and to a worker thread running one GIL-free statement
per chunk. On this 2-core machine both made the in-memory benchmark slower and far noisier than writing on
the loop (0.5-0.76x against 0.77-0.81x of the bare server): the other core is not free, and the scheduler
puts the woken writer beside the busy event loop.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history.inline import CHUNK_ROWS, DeferredConnection, NotDeferrable, SQLiteWriter
from plugyard.history.rollups import write_calls

log = logging.getLogger("plugyard.history")

Row = dict[str, Any]


class BatchWriter:
    """Writes batches in this process."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self.sqlite = SQLiteWriter(database) if database and database != ":memory:" else None

    async def write(self, rows: list[Row]) -> None:
        if self.sqlite is None:
            # PostgreSQL: the statements' Python half (the rollups, the arrays asyncpg encodes) runs on the
            # loop between its awaits; in transactions of CHUNK_ROWS rows each stretch stays short. A batch
            # retried after a failure skips the chunks stored already (ON CONFLICT DO NOTHING).
            for start in range(0, len(rows), CHUNK_ROWS):
                await self._write_async(rows[start : start + CHUNK_ROWS])
            return
        # SQLite: plain sqlite3 in short transactions on the loop, letting the calls run in between
        # (see history/inline.py).
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
            if not deferred.statements:
                continue
            await anyio.lowlevel.checkpoint()  # the chunk's Python half and its SQLite half, each a short stretch
            if not await self.sqlite.run([r["call_id"] for r in chunk], deferred.statements):
                await self._write_async(chunk)

    async def _write_async(self, rows: list[Row]) -> None:
        async with self.engine.begin() as connection:
            # The rollups change in the same transaction, by the rows actually inserted only.
            await write_calls(connection, rows)

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
