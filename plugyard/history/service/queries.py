"""The questions asked of the history, answered fast at millions of rows.

The study assistant's read methods keep their names. Windows are whole UTC days: ``days=30`` means
today and the 29 days before it. Everyone's figures come from the rollups (``tool_daily``,
``tool_error_daily``, ``user_tool_stats``); one user's figures come from raw rows through indexes that
cover them (a user's rows in a window are few). Percentiles are exact from raw rows and estimated from
the latency histogram of the rollup otherwise (``ToolStatistics.percentiles`` says which), unless the window holds
at most ``EXACT_UP_TO`` calls: then everyone's percentiles are read from the raw rows too (the histogram's first
bucket is a whole millisecond wide, where most in-process tools answer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from plugyard.history.models import tool_call_table
from plugyard.history.results import DailyToolFigures, FailedCall, PreferredTool, ToolStatistics
from plugyard.history.rollup_models import (
    BUCKET_COLUMNS,
    NO_INTENT,
    tool_daily_table,
    tool_error_daily_table,
    user_tool_stats_table,
)
from plugyard.history.rollups import an_outcome, is_round, percentile, utc
from plugyard.history.service.base import ServiceBase, as_utc
from plugyard.learning.counts import HALF_LIFE_DAYS, decay_weight

TOP_ERRORS = 3
EXACT_UP_TO = 10_000
"""Calls in a window up to which everyone's percentiles are read from the raw rows (tens of milliseconds)."""
_NOT_SUCCESS = sa.text("NOT success")  # exactly the partial index's predicate, so SQLite uses it


def _rate(successes: int, calls: int) -> float:
    return successes / calls if calls else 0.0


def _exact_statistics(
    tool: str, days: int, successes: int, ms: list[float], errors: list[tuple[str, int]]
) -> ToolStatistics:
    """A tool's figures from its calls' latencies (sorted), every percentile exact."""
    return ToolStatistics(
        tool_name=tool,
        days=days,
        calls=len(ms),
        successes=successes,
        failures=len(ms) - successes,
        success_rate=_rate(successes, len(ms)),
        avg_ms=sum(ms) / len(ms),
        p50_ms=_exact_percentile(ms, 0.50),
        p95_ms=_exact_percentile(ms, 0.95),
        max_ms=ms[-1],
        top_errors=_top(errors),
        percentiles="exact",
    )


def _exact_percentile(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms) - 1e-9) - 1)]


class Queries(ServiceBase):
    """Success rates, preferred tools, statistics, failures and the reports' figures."""

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
                t.c.user_id == user_id, t.c.tool_name == tool_name, t.c.created_at >= since, an_outcome(t)
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
                "last": as_utc(last),
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
        rows = list(await connection.execute(statement))
        exact = await self._exact_latencies(connection, tool_name, since, sum(int(row[1]) for row in rows))
        result = []
        for row in rows:
            tool, calls, successes, total_ms, max_ms = row[0], int(row[1]), int(row[2]), float(row[3]), float(row[4])
            ms = exact.get(tool)
            if ms is not None and len(ms) == calls:  # every call still has its row (none archived or cleaned up)
                result.append(_exact_statistics(tool, days, successes, ms, errors.get(tool, [])))
                continue
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

    async def _exact_latencies(
        self, connection: AsyncConnection, tool_name: str | None, since: datetime, calls: int
    ) -> dict[str, list[float]]:
        """Each tool's latencies in the window from the raw rows, sorted, if the window holds at most
        ``EXACT_UP_TO`` calls (the rollups say how many); else nothing (the histogram answers)."""
        if not 0 < calls <= EXACT_UP_TO:
            return {}
        t = tool_call_table
        statement = sa.select(t.c.tool_name, t.c.execution_time_ms, t.c.error_type).where(t.c.created_at >= since)
        if tool_name is not None:
            statement = statement.where(t.c.tool_name == tool_name)
        latencies: dict[str, list[float]] = {}
        for tool, ms, error_type in await connection.execute(statement):
            if not is_round(error_type):  # an input-required round: the call's final round counts
                latencies.setdefault(tool, []).append(float(ms))
        return {tool: sorted(ms) for tool, ms in latencies.items()}

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
            if is_round(error_type):
                continue  # an input-required round: the call's final round counts
            per_tool.setdefault(tool, []).append((bool(success), float(ms)))
            if not success:
                by_type = counted.setdefault(tool, {})
                by_type[error_type or "unknown"] = by_type.get(error_type or "unknown", 0) + 1
        errors = {tool: list(by_type.items()) for tool, by_type in counted.items()}
        result = []
        for tool, calls in per_tool.items():
            ms = sorted(m for _, m in calls)
            successes = sum(1 for ok, _ in calls if ok)
            result.append(_exact_statistics(tool, days, successes, ms, errors.get(tool, [])))
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
            .where(_NOT_SUCCESS, an_outcome(t))
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        if user_id is not None:
            statement = statement.where(t.c.user_id == user_id)
        if days is not None:
            statement = statement.where(t.c.created_at >= self.window_start(days))
        async with self.engine.connect() as connection:
            rows = list((await connection.execute(statement)).mappings())
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


def _top(errors: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(errors, key=lambda e: (-e[1], e[0]))[:TOP_ERRORS]
