"""ToolHistoryService: the questions asked of the history, answered fast at millions of rows.

The study assistant's seven methods keep their names. Windows are whole UTC days: ``days=30`` means
today and the 29 days before it. Everyone's figures come from the rollups (``tool_daily``,
``tool_error_daily``, ``user_tool_stats``); one user's figures come from raw rows through indexes that
cover them (a user's rows in a window are few). Percentiles are exact from raw rows and estimated from
the latency histogram of the rollup otherwise (``ToolStatistics.percentiles`` says which).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from plugyard.core.config import Config
from plugyard.history import migrate
from plugyard.history.archive import dump_line, load_line, rows_with_feedback
from plugyard.history.db import create_engine, is_sqlite
from plugyard.history.errors import SchemaBehind, UnknownCall
from plugyard.history.models import tool_call_table
from plugyard.history.results import (
    CleanupResult,
    DailyToolFigures,
    FailedCall,
    Feedback,
    PreferredTool,
    ToolStatistics,
)
from plugyard.history.rollup_models import (
    BUCKET_COLUMNS,
    NO_INTENT,
    call_feedback_table,
    tool_daily_table,
    tool_error_daily_table,
    user_tool_stats_table,
)
from plugyard.history.rollups import percentile, remove_calls, utc, write_calls
from plugyard.learning.router import HALF_LIFE_DAYS, StoredCounts, decay_weight

DEFAULT_RETENTION_DAYS = 90
TOP_ERRORS = 3
_NOT_SUCCESS = sa.text("NOT success")  # exactly the partial index's predicate, so SQLite uses it


def _now() -> datetime:
    return datetime.now(UTC)


def _rate(successes: int, calls: int) -> float:
    return successes / calls if calls else 0.0


def _exact_percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms) - 1e-9) - 1)]


class ToolHistoryService:
    """Async queries and maintenance over the history database (``engine``, already at head)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock

    def window_start(self, days: int) -> datetime:
        """Midnight UTC that opens a window of ``days`` whole days ending today."""
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        today = self.clock().astimezone(UTC).date()
        start = today - timedelta(days=days - 1)
        return datetime(start.year, start.month, start.day, tzinfo=UTC)

    # -- writing -------------------------------------------------------------------------------

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

    # -- the four read methods -----------------------------------------------------------------

    async def get_tool_success_rate(self, tool_name: str, days: int = 30, user_id: str | None = None) -> float | None:
        """Share of successful calls of ``tool_name`` in the window (None without calls)."""
        since = self.window_start(days)
        if user_id is None:
            d = tool_daily_table
            statement = sa.select(sa.func.sum(d.c.calls), sa.func.sum(d.c.successes)).where(
                d.c.tool_name == tool_name, d.c.day >= since.date()
            )
        else:
            t = tool_call_table
            statement = sa.select(sa.func.count(), sa.func.sum(sa.case((t.c.success, 1), else_=0))).where(
                t.c.user_id == user_id, t.c.tool_name == tool_name, t.c.created_at >= since
            )
        async with self.engine.connect() as connection:
            calls, successes = (await connection.execute(statement)).one()
        if not calls:
            return None
        return int(successes or 0) / int(calls)

    async def get_user_preferred_tools(
        self, user_id: str, limit: int = 10, intent: str | None = None
    ) -> list[PreferredTool]:
        """The user's tools, best first by their time-discounted success estimate."""
        u = user_tool_stats_table
        scale = sa.bindparam("scale", 1.0 / decay_weight(self.clock()), type_=sa.Float)
        ws, wf = sa.func.sum(u.c.w_success), sa.func.sum(u.c.w_failure)
        calls = sa.func.sum(u.c.calls)
        # Ranked and cut in SQL: a user may have called hundreds of tools under several intents.
        statement = (
            sa.select(
                u.c.tool_name,
                calls,
                sa.func.sum(u.c.successes),
                sa.func.sum(u.c.total_ms),
                ws,
                wf,
                sa.func.sum(u.c.satisfaction_sum),
                sa.func.sum(u.c.satisfaction_count),
                sa.func.max(u.c.last_called_at),
            )
            .where(u.c.user_id == user_id)
            .group_by(u.c.tool_name)
            .order_by(((1.0 + ws * scale) / (2.0 + (ws + wf) * scale)).desc(), calls.desc(), u.c.tool_name)
            .limit(limit)
        )
        if intent is not None:
            statement = statement.where(u.c.intent == (intent or NO_INTENT))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        factor = 1.0 / decay_weight(self.clock())
        tools: dict[str, dict[str, Any]] = {}
        for tool, n, ok, total_ms, w_ok, w_bad, sat, rated, last in rows:
            tools[tool] = {
                "calls": int(n),
                "successes": int(ok),
                "total_ms": float(total_ms),
                "ws": float(w_ok),
                "wf": float(w_bad),
                "sat": int(sat),
                "rated": int(rated),
                "last": _as_utc(last),
            }
        scale_ = factor
        ranked: list[PreferredTool] = []
        for tool, acc in tools.items():
            ds, df = acc["ws"] * scale_, acc["wf"] * scale_
            score = (1.0 + ds) / (2.0 + ds + df)
            satisfaction = acc["sat"] / acc["rated"] if acc["rated"] else None
            reason = (
                f"{acc['successes']} of {acc['calls']} calls succeeded; recent calls weigh more "
                f"(half-life {HALF_LIFE_DAYS:g} days): success estimate {score:.0%}"
                + (f"; rated {satisfaction:.1f}/5" if satisfaction is not None else "")
            )
            ranked.append(
                PreferredTool(
                    tool_name=tool,
                    calls=acc["calls"],
                    successes=acc["successes"],
                    success_rate=_rate(acc["successes"], acc["calls"]),
                    score=score,
                    avg_ms=acc["total_ms"] / acc["calls"] if acc["calls"] else 0.0,
                    satisfaction=satisfaction,
                    last_called_at=acc["last"],
                    reason=reason,
                )
            )
        ranked.sort(key=lambda p: (-p.score, -p.calls, p.tool_name))
        return ranked[:limit]

    async def get_tool_statistics(
        self, tool_name: str | None = None, days: int = 30, user_id: str | None = None
    ) -> list[ToolStatistics]:
        """Calls, success rate, average/p50/p95/max latency and top errors per tool in the window,
        most-called first: everyone's (from the rollups) or one user's (from their rows)."""
        since = self.window_start(days)
        async with self.engine.connect() as connection:
            if user_id is None:
                return await self._statistics_from_rollups(connection, tool_name, days, since)
            return await self._statistics_of_user(connection, tool_name, days, since, user_id)

    async def _statistics_from_rollups(
        self, connection: AsyncConnection, tool_name: str | None, days: int, since: datetime
    ) -> list[ToolStatistics]:
        d = tool_daily_table
        columns = [
            d.c.tool_name,
            sa.func.sum(d.c.calls),
            sa.func.sum(d.c.successes),
            sa.func.sum(d.c.total_ms),
            sa.func.max(d.c.max_ms),
            *[sa.func.sum(d.c[name]) for name in BUCKET_COLUMNS],
        ]
        statement = sa.select(*columns).where(d.c.day >= since.date()).group_by(d.c.tool_name)
        e = tool_error_daily_table
        errors_q = (
            sa.select(e.c.tool_name, e.c.error_type, sa.func.sum(e.c.count))
            .where(e.c.day >= since.date())
            .group_by(e.c.tool_name, e.c.error_type)
        )
        if tool_name is not None:
            statement = statement.where(d.c.tool_name == tool_name)
            errors_q = errors_q.where(e.c.tool_name == tool_name)
        errors: dict[str, list[tuple[str, int]]] = {}
        for tool, error_type, count in await connection.execute(errors_q):
            errors.setdefault(tool, []).append((error_type, int(count)))
        result = []
        for row in await connection.execute(statement):
            tool, calls, successes, total_ms, max_ms = row[0], int(row[1]), int(row[2]), float(row[3]), float(row[4])
            buckets = [int(v) for v in row[5:]]
            result.append(
                ToolStatistics(
                    tool_name=tool,
                    days=days,
                    calls=calls,
                    successes=successes,
                    failures=calls - successes,
                    success_rate=_rate(successes, calls),
                    avg_ms=total_ms / calls if calls else 0.0,
                    p50_ms=percentile(buckets, 0.50, max_ms),
                    p95_ms=percentile(buckets, 0.95, max_ms),
                    max_ms=max_ms,
                    top_errors=_top(errors.get(tool, [])),
                    percentiles="histogram",
                )
            )
        result.sort(key=lambda s: (-s.calls, s.tool_name))
        return result

    async def _statistics_of_user(
        self, connection: AsyncConnection, tool_name: str | None, days: int, since: datetime, user_id: str
    ) -> list[ToolStatistics]:
        t = tool_call_table
        where = [t.c.user_id == user_id, t.c.created_at >= since]
        if tool_name is not None:
            where.append(t.c.tool_name == tool_name)
        per_tool: dict[str, list[tuple[bool, float]]] = {}
        counted: dict[str, dict[str, int]] = {}
        # One range scan of the covering index (user, time, tool, success, ms, error type): no table reads.
        statement = sa.select(t.c.tool_name, t.c.success, t.c.execution_time_ms, t.c.error_type).where(*where)
        for tool, success, ms, error_type in await connection.execute(statement):
            per_tool.setdefault(tool, []).append((bool(success), float(ms)))
            if not success:
                by_type = counted.setdefault(tool, {})
                by_type[error_type or "unknown"] = by_type.get(error_type or "unknown", 0) + 1
        errors = {tool: list(by_type.items()) for tool, by_type in counted.items()}
        result = []
        for tool, calls in per_tool.items():
            ms = sorted(m for _, m in calls)
            successes = sum(1 for ok, _ in calls if ok)
            result.append(
                ToolStatistics(
                    tool_name=tool,
                    days=days,
                    calls=len(calls),
                    successes=successes,
                    failures=len(calls) - successes,
                    success_rate=_rate(successes, len(calls)),
                    avg_ms=sum(ms) / len(ms),
                    p50_ms=_exact_percentile(ms, 0.50),
                    p95_ms=_exact_percentile(ms, 0.95),
                    max_ms=ms[-1],
                    top_errors=_top(errors.get(tool, [])),
                    percentiles="exact",
                )
            )
        result.sort(key=lambda s: (-s.calls, s.tool_name))
        return result

    async def get_recent_failed_tools(
        self, user_id: str | None = None, limit: int = 10, days: int | None = None
    ) -> list[FailedCall]:
        """The most recent failed calls, newest first: one user's, or everyone's."""
        t = tool_call_table
        statement = (
            sa.select(
                t.c.call_id,
                t.c.user_id,
                t.c.tool_name,
                t.c.error_type,
                t.c.error_message,
                t.c.intent,
                t.c.execution_time_ms,
                t.c.created_at,
            )
            .where(_NOT_SUCCESS)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        if user_id is not None:
            statement = statement.where(t.c.user_id == user_id)
        if days is not None:
            statement = statement.where(t.c.created_at >= self.window_start(days))
        async with self.engine.connect() as connection:
            rows = [r._mapping for r in await connection.execute(statement)]
        return [FailedCall(**{**r, "created_at": utc(r["created_at"])}) for r in rows]

    # -- for reports ---------------------------------------------------------------------------

    async def get_daily_tool_figures(self, days: int = 30) -> list[DailyToolFigures]:
        """Every tool's figures per UTC day in the window (days without calls are absent), by day then tool."""
        d = tool_daily_table
        statement = (
            sa.select(
                d.c.tool_name,
                d.c.day,
                d.c.calls,
                d.c.successes,
                d.c.total_ms,
                d.c.max_ms,
                *[d.c[name] for name in BUCKET_COLUMNS],
            )
            .where(d.c.day >= self.window_start(days).date())
            .order_by(d.c.day, d.c.tool_name)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            DailyToolFigures(
                tool_name=r[0],
                day=r[1],
                calls=int(r[2]),
                successes=int(r[3]),
                total_ms=float(r[4]),
                max_ms=float(r[5]),
                latency_buckets=[int(v) for v in r[6:]],
            )
            for r in rows
        ]

    async def get_most_active_users(self, limit: int = 10) -> list[tuple[str, int]]:
        """(user id, calls) of the users with the most calls, most first (from ``user_tool_stats``)."""
        u = user_tool_stats_table
        calls = sa.func.sum(u.c.calls)
        statement = sa.select(u.c.user_id, calls).group_by(u.c.user_id).order_by(calls.desc(), u.c.user_id).limit(limit)
        async with self.engine.connect() as connection:
            return [(user, int(n)) for user, n in await connection.execute(statement)]

    # -- feedback ------------------------------------------------------------------------------

    async def update_user_satisfaction(
        self, call_id: str, score: int, *, user_id: str | None = None, comment: str | None = None
    ) -> Feedback:
        """Rate a call 1-5 (again: the new rating replaces the old). With ``user_id``, only that
        user's calls can be rated; anyone else's is reported as unknown."""
        if not 1 <= score <= 5:
            raise ValueError(f"a satisfaction score is 1 to 5, got {score}")
        t, fb, u = tool_call_table, call_feedback_table, user_tool_stats_table
        now = self.clock()
        async with self.engine.begin() as connection:
            # FOR UPDATE (PostgreSQL) serialises two ratings of one call; SQLite has one writer anyway.
            call = (
                await connection.execute(
                    sa.select(t.c.user_id, t.c.tool_name, t.c.intent).where(t.c.call_id == call_id).with_for_update()
                )
            ).one_or_none()
            if call is None or (user_id is not None and call.user_id != user_id):
                raise UnknownCall(
                    f"no recorded call {call_id!r}"
                    + (f" of user {user_id!r}" if user_id is not None else "")
                    + "; the call id is in each result's _meta (calls are written within a second)"
                )
            intent = call.intent or NO_INTENT
            previous = (await connection.execute(sa.select(fb.c.score).where(fb.c.call_id == call_id))).scalar()
            if previous is None:
                await connection.execute(
                    sa.insert(fb).values(
                        call_id=call_id,
                        user_id=call.user_id,
                        tool_name=call.tool_name,
                        intent=intent,
                        score=score,
                        comment=comment,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                await connection.execute(
                    sa.update(fb).where(fb.c.call_id == call_id).values(score=score, comment=comment, updated_at=now)
                )
            await connection.execute(
                sa.update(u)
                .where(u.c.user_id == call.user_id, u.c.intent == intent, u.c.tool_name == call.tool_name)
                .values(
                    satisfaction_sum=u.c.satisfaction_sum + (score - (previous or 0)),
                    satisfaction_count=u.c.satisfaction_count + (0 if previous is not None else 1),
                )
            )
        return Feedback(call_id, call.user_id, call.tool_name, call.intent, score, previous, comment)

    # -- retention, export and import ----------------------------------------------------------

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
                        lines = [dump_line(r) for r in await rows_with_feedback(connection, t.c.id.in_(ids))]
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
                rows = await rows_with_feedback(connection, sa.and_(*where), limit=chunk_size)
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

    # -- the learner's view --------------------------------------------------------------------

    async def stored_counts(self) -> list[StoredCounts]:
        """Every (user, intent, tool) rollup row, for warming the preference router."""
        u = user_tool_stats_table
        statement = sa.select(
            u.c.user_id,
            u.c.intent,
            u.c.tool_name,
            u.c.w_success,
            u.c.w_failure,
            u.c.w_ms,
            u.c.satisfaction_sum,
            u.c.satisfaction_count,
        )
        async with self.engine.connect() as connection:
            result = await connection.stream(statement)
            return [StoredCounts(r[0], r[1] or None, *r[2:]) async for r in result]


def parse_days(text: str) -> int:
    """``90d``, ``12w`` or ``90`` as a number of days (what ``history cleanup --older-than`` takes)."""
    value = text.strip().lower()
    factor = {"d": 1, "w": 7}.get(value[-1:], 0)
    number = value[:-1] if factor else value
    if not number.isdigit() or int(number) < 1:
        raise ValueError(f"{text!r} is not a number of days such as 90d, 12w or 90")
    return int(number) * (factor or 1)


def _as_utc(value: Any) -> datetime | None:
    """max() of a timestamp comes back as text on SQLite (no column type to convert it by)."""
    if value is None:
        return None
    if isinstance(value, str):
        return utc(datetime.fromisoformat(value))
    return utc(value)


def _top(errors: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(errors, key=lambda e: (-e[1], e[0]))[:TOP_ERRORS]


async def open_engine(config: Config) -> AsyncEngine:
    """An engine on the configured history database at head: SQLite is migrated (dev mode),
    PostgreSQL must have been upgraded by `plugyard db upgrade`."""
    url = config.database_url
    engine = create_engine(url)
    try:
        if is_sqlite(url):
            await migrate.upgrade(engine)
        else:
            at, head = await migrate.current(engine), migrate.head()
            if at != head:
                raise SchemaBehind(
                    f"the history database is at revision {at or 'none'}, this plugyard needs {head}; "
                    "run `plugyard db upgrade` first"
                )
    except BaseException:
        await engine.dispose()
        raise
    return engine


@asynccontextmanager
async def open_service(config: Config) -> AsyncIterator[ToolHistoryService]:
    """A service on the configured database, for the CLI and scripts."""
    engine = await open_engine(config)
    try:
        yield ToolHistoryService(engine)
    finally:
        await engine.dispose()
