"""Writing calls made elsewhere, retention (cleanup with an archive), export and import."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from plugyard.history.archive import dump_line, exported_rows, load_line
from plugyard.history.models import tool_call_table
from plugyard.history.results import CleanupResult
from plugyard.history.rollups import remove_calls, utc, write_calls
from plugyard.history.service.base import ServiceBase

DEFAULT_RETENTION_DAYS = 90


class Retention(ServiceBase):
    """Calls in and out of the history: one recorded by hand, cleanup, export, import."""

    async def record_tool_execution(
        self,
        user_id: str,
        tool_name: str,
        success: bool,
        execution_time_ms: float,
        *,
        plugin_name: str = "",
        error_type: str | None = None,
        error_message: str | None = None,
        arguments: dict[str, Any] | None = None,
        intent: str | None = None,
        session_id: str | None = None,
        workflow_run_id: str | None = None,
        result_size: int | None = None,
        call_id: str | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Store one call (and its rollups) now; returns its call id. The pipeline's calls go through
        the recorder's batches instead; this is for calls made elsewhere, and for imports and tests."""
        row = {
            "call_id": call_id or str(uuid.uuid4()),
            "user_id": user_id,
            "session_id": session_id,
            "tool_name": tool_name,
            "plugin_name": plugin_name,
            "arguments": arguments,
            "success": success,
            "error_type": error_type,
            "error_message": error_message,
            "execution_time_ms": float(execution_time_ms),
            "result_size": result_size,
            "satisfaction": None,
            "intent": intent,
            "workflow_run_id": workflow_run_id,
            "created_at": utc(created_at) if created_at else self.clock(),
        }
        async with self.engine.begin() as connection:
            await write_calls(connection, [row])
        return str(row["call_id"])

    async def cleanup_old_records(
        self,
        days: int = DEFAULT_RETENTION_DAYS,
        *,
        archive: Path | None = None,
        chunk_size: int = 5000,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> CleanupResult:
        """Delete calls from before the last ``days`` whole days (the window ``days`` would show), their
        feedback and their share of the
        rollups), ``chunk_size`` rows per transaction; with ``archive``, append them to that JSON Lines
        file first (fsynced before each chunk's delete commits; `history import` reads it back)."""
        cutoff = self.window_start(days)
        t = tool_call_table
        started = time.perf_counter()
        deleted = archived = 0
        if dry_run:
            async with self.engine.connect() as connection:
                count = (
                    await connection.execute(sa.select(sa.func.count()).where(t.c.created_at < cutoff))
                ).scalar_one()
            return CleanupResult(cutoff, int(count), 0, time.perf_counter() - started, None)
        handle: IO[str] | None = None
        if archive is not None:
            archive.parent.mkdir(parents=True, exist_ok=True)
            handle = archive.open("a", encoding="utf-8")
        try:
            while True:
                async with self.engine.begin() as connection:
                    ids = list(
                        (
                            await connection.execute(sa.select(t.c.id).where(t.c.created_at < cutoff).limit(chunk_size))
                        ).scalars()
                    )
                    if not ids:
                        break
                    if handle is not None:
                        lines = [dump_line(r) for r in await exported_rows(connection, t.c.id.in_(ids))]
                        handle.writelines(lines)
                        handle.flush()
                        os.fsync(handle.fileno())
                        archived += len(lines)
                    deleted += await remove_calls(connection, ids)
                if progress is not None:
                    progress(len(ids))
                if len(ids) < chunk_size:
                    break
        finally:
            if handle is not None:
                handle.close()
        return CleanupResult(cutoff, deleted, archived, time.perf_counter() - started, archive)

    async def count_calls(self, *, user_id: str | None = None, days: int | None = None) -> int:
        """How many calls ``export`` with the same arguments writes (for a progress bar)."""
        t = tool_call_table
        statement = sa.select(sa.func.count()).select_from(t)
        if user_id is not None:
            statement = statement.where(t.c.user_id == user_id)
        if days is not None:
            statement = statement.where(t.c.created_at >= self.window_start(days))
        async with self.engine.connect() as connection:
            return int((await connection.execute(statement)).scalar_one())

    async def export(
        self,
        out: IO[str],
        *,
        user_id: str | None = None,
        days: int | None = None,
        chunk_size: int = 5000,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Write calls (oldest first, each with its feedback) as JSON Lines; returns how many.
        ``progress(n)`` is called after each chunk of ``n`` calls."""
        t = tool_call_table
        last_id = 0
        written = 0
        while True:
            where = [t.c.id > last_id]
            if user_id is not None:
                where.append(t.c.user_id == user_id)
            if days is not None:
                where.append(t.c.created_at >= self.window_start(days))
            async with self.engine.connect() as connection:
                rows = await exported_rows(connection, sa.and_(*where), limit=chunk_size)
            if not rows:
                return written
            out.writelines(dump_line(r) for r in rows)
            written += len(rows)
            if progress is not None:
                progress(len(rows))
            last_id = rows[-1]["id"]

    async def import_records(
        self, path: Path, *, batch_size: int = 1000, progress: Callable[[int], None] | None = None
    ) -> tuple[int, int]:
        """Read an archive or export back; calls already stored are skipped. Returns (read, inserted)."""
        read = inserted = 0
        batch: list[dict[str, Any]] = []
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    batch.append(load_line(line))
                except ValueError as exc:
                    raise ValueError(
                        f"{path}, line {number}: not a plugyard call record: {exc} "
                        "(fix it and import again: calls already stored are skipped)"
                    ) from None
                if len(batch) >= batch_size:
                    read, inserted = read + len(batch), inserted + await self._import(batch)
                    if progress is not None:
                        progress(len(batch))
                    batch = []
        if batch:
            read, inserted = read + len(batch), inserted + await self._import(batch)
            if progress is not None:
                progress(len(batch))
        return read, inserted

    async def _import(self, rows: list[dict[str, Any]]) -> int:
        async with self.engine.begin() as connection:
            return len(await write_calls(connection, rows))


def parse_days(text: str) -> int:
    """``90d``, ``12w`` or ``90`` as a number of days (what ``history cleanup --older-than`` takes)."""
    value = text.strip().lower()
    factor = {"d": 1, "w": 7}.get(value[-1:], 0)
    number = value[:-1] if factor else value
    if not number.isdigit() or int(number) < 1:
        raise ValueError(f"{text!r} is not a number of days such as 90d, 12w or 90")
    return int(number) * (factor or 1)
