"""Writing calls together with their rollups, in the caller's transaction.

``write_calls`` inserts raw rows with ``ON CONFLICT (call_id) DO NOTHING ... RETURNING call_id`` and
adds to the rollups only what was actually inserted, so a batch written twice (a retry after a lost
commit acknowledgement, a journal replayed twice, an archive imported twice) never counts twice.
``remove_calls`` subtracts rows before they are deleted (cleanup). Rollup updates are additive
upserts (``col = col + excluded.col``), so concurrent writers (several replicas on PostgreSQL) commute.
Everything is SQLAlchemy Core that SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from plugyard.core.history.models import tool_call_table
from plugyard.core.history.rollup_models import (
    BUCKET_COLUMNS,
    BUCKETS,
    LATENCY_BOUNDS_MS,
    NO_INTENT,
    call_feedback_table,
    tool_daily_table,
    tool_error_daily_table,
    user_tool_stats_table,
)
from plugyard.core.preference import decay_weight

Row = Mapping[str, Any]


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything plugyard stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bucket_of(ms: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def day_of(value: datetime) -> date:
    return utc(value).date()


@dataclasses.dataclass(slots=True)
class Deltas:
    """What a set of rows adds to (sign +1) or takes from (sign -1) each rollup."""

    daily: dict[tuple[str, date], dict[str, Any]] = dataclasses.field(default_factory=dict)
    errors: dict[tuple[str, date, str], int] = dataclasses.field(default_factory=dict)
    users: dict[tuple[str, str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.daily or self.users)


def aggregate(rows: Iterable[Row], *, sign: int = 1, scores: Mapping[str, int] | None = None) -> Deltas:
    """The rollup deltas of ``rows`` (tool_call rows as dicts); ``scores`` maps call ids to their
    satisfaction feedback, counted into ``user_tool_stats``."""
    deltas = Deltas()
    scores = scores or {}
    for row in rows:
        tool = row["tool_name"]
        created = utc(row["created_at"])
        day = created.date()
        ms = float(row["execution_time_ms"])
        ok = bool(row["success"])
        daily = deltas.daily.get((tool, day))
        if daily is None:
            daily = deltas.daily[(tool, day)] = {
                "tool_name": tool,
                "day": day,
                "calls": 0,
                "successes": 0,
                "total_ms": 0.0,
                "max_ms": 0.0,
                **dict.fromkeys(BUCKET_COLUMNS, 0),
            }
        daily["calls"] += sign
        daily["successes"] += sign * ok
        daily["total_ms"] += sign * ms
        if sign > 0 and ms > daily["max_ms"]:
            daily["max_ms"] = ms
        daily[BUCKET_COLUMNS[bucket_of(ms)]] += sign
        if not ok:
            key = (tool, day, row.get("error_type") or "unknown")
            deltas.errors[key] = deltas.errors.get(key, 0) + sign
        intent = row.get("intent") or NO_INTENT
        user_key = (row["user_id"], intent, tool)
        stats = deltas.users.get(user_key)
        if stats is None:
            stats = deltas.users[user_key] = {
                "user_id": row["user_id"],
                "intent": intent,
                "tool_name": tool,
                "calls": 0,
                "successes": 0,
                "total_ms": 0.0,
                "w_success": 0.0,
                "w_failure": 0.0,
                "w_ms": 0.0,
                "satisfaction_sum": 0,
                "satisfaction_count": 0,
                "last_called_at": None,
            }
        w = decay_weight(created)
        stats["calls"] += sign
        stats["successes"] += sign * ok
        stats["total_ms"] += sign * ms
        stats["w_success" if ok else "w_failure"] += sign * w
        stats["w_ms"] += sign * w * ms
        score = scores.get(row["call_id"])
        if score is not None:
            stats["satisfaction_sum"] += sign * score
            stats["satisfaction_count"] += sign
        if sign > 0 and (stats["last_called_at"] is None or created > stats["last_called_at"]):
            stats["last_called_at"] = created
    return deltas


def _insert_for(connection: AsyncConnection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _greater(new: Any, old: Any) -> Any:
    """``max(old, new)`` that both backends accept (SQLite's max() is GREATEST on PostgreSQL)."""
    return sa.case((sa.and_(new.is_not(None), sa.or_(old.is_(None), new > old)), new), else_=old)


def _upsert(connection: AsyncConnection, table: sa.Table, keys: Sequence[str], extra: Mapping[str, Any]) -> Any:
    insert = _insert_for(connection)(table)
    summed = {c.name: c + insert.excluded[c.name] for c in table.columns if c.name not in keys and c.name not in extra}
    return insert.on_conflict_do_update(index_elements=list(keys), set_={**summed, **extra})


async def apply(connection: AsyncConnection, deltas: Deltas) -> None:
    """Add ``deltas`` to the rollups (negative deltas subtract; rows left with no calls go)."""
    if deltas.daily:
        ex = _insert_for(connection)(tool_daily_table).excluded
        statement = _upsert(
            connection,
            tool_daily_table,
            ("tool_name", "day"),
            {"max_ms": _greater(ex.max_ms, tool_daily_table.c.max_ms)},
        )
        await connection.execute(statement, list(deltas.daily.values()))
    if deltas.errors:
        values = [{"tool_name": t, "day": d, "error_type": e, "count": n} for (t, d, e), n in deltas.errors.items()]
        await connection.execute(
            _upsert(connection, tool_error_daily_table, ("tool_name", "day", "error_type"), {}), values
        )
    if deltas.users:
        ex = _insert_for(connection)(user_tool_stats_table).excluded
        statement = _upsert(
            connection,
            user_tool_stats_table,
            ("user_id", "intent", "tool_name"),
            {"last_called_at": _greater(ex.last_called_at, user_tool_stats_table.c.last_called_at)},
        )
        await connection.execute(statement, list(deltas.users.values()))
    if any(v["calls"] < 0 for v in deltas.daily.values()):
        await connection.execute(sa.delete(tool_daily_table).where(tool_daily_table.c.calls <= 0))
        await connection.execute(sa.delete(tool_error_daily_table).where(tool_error_daily_table.c.count <= 0))
    if any(v["calls"] < 0 for v in deltas.users.values()):
        await connection.execute(sa.delete(user_tool_stats_table).where(user_tool_stats_table.c.calls <= 0))


async def write_calls(connection: AsyncConnection, rows: Sequence[Row]) -> list[Row]:
    """Insert ``rows`` (skipping call ids already stored) and their rollups; returns the rows inserted.

    A row may carry ``"feedback": {"score": .., "comment": .., "created_at": .., "updated_at": ..}``
    (an archive or export being imported): it is stored too and counted in the rollups.
    """
    if not rows:
        return []
    columns = {c.name for c in tool_call_table.columns} - {"id"}
    values = [{k: v for k, v in r.items() if k in columns} for r in rows]
    statement = (
        _insert_for(connection)(tool_call_table)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(tool_call_table.c.call_id)
    )
    result = await connection.execute(statement, values)
    inserted_ids = set(result.scalars().all())
    if not inserted_ids:
        return []
    inserted = [r for r in rows if r["call_id"] in inserted_ids]
    scores: dict[str, int] = {}
    feedback = []
    for r in inserted:
        given = r.get("feedback")
        if given:
            scores[r["call_id"]] = int(given["score"])
            feedback.append(
                {
                    "call_id": r["call_id"],
                    "user_id": r["user_id"],
                    "tool_name": r["tool_name"],
                    "intent": r.get("intent") or NO_INTENT,
                    "score": int(given["score"]),
                    "comment": given.get("comment"),
                    "created_at": _when(given.get("created_at")),
                    "updated_at": _when(given.get("updated_at") or given.get("created_at")),
                }
            )
    if feedback:
        await connection.execute(sa.insert(call_feedback_table), feedback)
    await apply(connection, aggregate(inserted, scores=scores))
    return inserted


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        return utc(datetime.fromisoformat(value))
    return datetime.now(UTC)


async def remove_calls(connection: AsyncConnection, ids: Sequence[int]) -> int:
    """Delete the tool_call rows with these ids, their feedback, and their share of the rollups."""
    if not ids:
        return 0
    t = tool_call_table
    result = await connection.execute(
        sa.select(
            t.c.call_id,
            t.c.user_id,
            t.c.tool_name,
            t.c.intent,
            t.c.success,
            t.c.error_type,
            t.c.execution_time_ms,
            t.c.created_at,
        ).where(t.c.id.in_(ids))
    )
    doomed = [dict(r._mapping) for r in result]
    call_ids = [r["call_id"] for r in doomed]
    fb = call_feedback_table
    scores = {
        row.call_id: row.score
        for row in await connection.execute(sa.select(fb.c.call_id, fb.c.score).where(fb.c.call_id.in_(call_ids)))
    }
    await apply(connection, aggregate(doomed, sign=-1, scores=scores))
    if scores:
        await connection.execute(sa.delete(fb).where(fb.c.call_id.in_(list(scores))))
    await connection.execute(sa.delete(t).where(t.c.id.in_(ids)))
    return len(doomed)


def percentile(buckets: Sequence[int], q: float, max_ms: float) -> float | None:
    """The q-quantile estimated from a latency histogram: the nearest-rank bucket, linear inside it,
    never above the largest latency seen."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = max(1, -(-int(q * total * 1_000_000) // 1_000_000))  # ceil without float noise
    seen = 0
    for i in range(BUCKETS):
        count = buckets[i]
        if count and seen + count >= rank:
            lo = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            hi = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else max_ms
            hi = min(hi, max_ms)
            lo = min(lo, hi)
            return float(lo + (hi - lo) * (rank - seen) / count)
        seen += count
    return float(max_ms)
