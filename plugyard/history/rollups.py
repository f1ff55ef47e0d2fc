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
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from plugyard.history.models import tool_call_table
from plugyard.history.rollup_models import (
    BUCKET_COLUMNS,
    BUCKETS,
    LATENCY_BOUNDS_MS,
    NO_INTENT,
    call_feedback_table,
    tool_daily_table,
    tool_error_daily_table,
    user_tool_stats_table,
)
from plugyard.learning.counts import decay_weight

Row = Mapping[str, Any]

INPUT_REQUIRED = "InputRequired"
"""``error_type`` of a round that stopped to ask the client (see docs/architecture.md, "Input required").
Such a row is kept (the audit trail), but it is not an outcome: the rollups, statistics, failures and
the router count only the round that ends the call, so a tool that asks once is one call, not a failure."""


def is_round(error_type: str | None) -> bool:
    """Whether a row with this ``error_type`` is an input-required round rather than an outcome."""
    return error_type == INPUT_REQUIRED


def an_outcome(table: sa.Table) -> Any:
    """The SQL predicate keeping the rows that are outcomes (not input-required rounds)."""
    return sa.or_(table.c.error_type.is_(None), table.c.error_type != INPUT_REQUIRED)


class Connection(Protocol):
    """What writing calls needs of a connection: an ``AsyncConnection``, or the recorder's
    ``inline.DeferredConnection``, which collects the SQL for a worker thread."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Any: ...


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
        if row.get("error_type") == INPUT_REQUIRED:
            continue  # a round, not an outcome: the round that ends the call counts
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


def _insert_for(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _greater(new: Any, old: Any) -> Any:
    """``max(old, new)`` that both backends accept (SQLite's max() is GREATEST on PostgreSQL)."""
    return sa.case((sa.and_(new.is_not(None), sa.or_(old.is_(None), new > old)), new), else_=old)


_compiled: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}


def _sqlite_param(value: Any) -> Any:
    # The storage format SQLAlchemy's SQLite types use, so values compare with what it wrote elsewhere.
    if isinstance(value, datetime):
        return _sqlite_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


async def _upsert(
    connection: Connection,
    table: sa.Table,
    keys: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    greatest: str | None = None,
) -> None:
    """Add ``rows`` to ``table`` (``col = col + excluded.col``; ``greatest`` keeps the larger value).

    Compiled once per dialect and sent as plain tuples: SQLAlchemy's per-row parameter handling
    was the larger part of the cost of a batch's rollups."""
    dialect = connection.dialect
    cached = _compiled.get((dialect.name, table.name))
    if cached is None:
        insert = _insert_for(connection)(table).values({c.name: sa.bindparam(c.name) for c in table.columns})
        ex = insert.excluded
        set_: dict[str, Any] = {c.name: c + ex[c.name] for c in table.columns if c.name not in keys}
        if greatest is not None:
            set_[greatest] = _greater(ex[greatest], table.c[greatest])
        compiled = insert.on_conflict_do_update(index_elements=list(keys), set_=set_).compile(dialect=dialect)
        order = compiled.positiontup
        assert order is not None, "a positional paramstyle is expected (qmark, numeric_dollar)"
        cached = _compiled[(dialect.name, table.name)] = (compiled.string, tuple(order))
    sql, order = cached
    convert = _sqlite_param if dialect.name == "sqlite" else None
    if convert is not None:
        params = [tuple(convert(row[name]) for name in order) for row in rows]
    else:
        params = [tuple(row[name] for name in order) for row in rows]
    await connection.exec_driver_sql(sql, params)


def _json_text(value: Any) -> str:
    # What SQLAlchemy's JSON type stores, at a quarter of json.dumps's cost (compact, UTF-8; same JSON).
    return pydantic_core.to_json(value).decode()


def _sqlite_timestamp(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime format (naive UTC, always the microseconds), at a third of strftime's cost.
    return utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


async def _insert_sqlite(connection: Connection, rows: Sequence[Row]) -> None:
    """Raw rows as plain tuples, in the exact forms SQLAlchemy's types store (JSON text, 1/0, timestamps)."""
    cached = _compiled.get(("sqlite", "tool_call"))
    if cached is None:
        names = [c.name for c in tool_call_table.columns if c.name != "id"]
        insert = sqlite.insert(tool_call_table).values({n: sa.bindparam(n) for n in names})
        compiled = insert.on_conflict_do_nothing(index_elements=["call_id"]).compile(dialect=connection.dialect)
        assert compiled.positiontup is not None
        cached = _compiled[("sqlite", "tool_call")] = (compiled.string, tuple(compiled.positiontup))
    sql, order = cached
    # Only these columns need converting; the rest go to sqlite3 as they are (this runs per row
    # on the recorder's path, so it stays a plain loop over precomputed positions).
    arguments = order.index("arguments")
    success = order.index("success")
    created = order.index("created_at")
    pick = operator.itemgetter(*order)
    dumps = _json_text
    params = []
    for row in rows:
        try:
            values: list[Any] = list(pick(row))
        except KeyError:  # an imported row may leave out nullable columns
            values = [row.get(name) for name in order]
        values[arguments] = dumps(values[arguments])
        values[success] = int(values[success])
        values[created] = _sqlite_timestamp(values[created])
        params.append(tuple(values))
    await connection.exec_driver_sql(sql, params)


def _postgresql_insert() -> tuple[str, tuple[str, ...]]:
    """One statement for a whole batch: each column sent as one array and unnested server side,
    ``ON CONFLICT (call_id) DO NOTHING RETURNING call_id``."""
    cached = _compiled.get(("postgresql", "tool_call"))
    if cached is None:
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        columns = [c for c in tool_call_table.columns if c.name != "id"]
        names = tuple(c.name for c in columns)
        arrays = ", ".join(
            f"${i}::{'TEXT' if isinstance(c.type, sa.JSON) else c.type.compile(dialect=dialect)}[]"
            for i, c in enumerate(columns, 1)
        )
        picked = ", ".join(f"u.{c.name}::JSON" if isinstance(c.type, sa.JSON) else f"u.{c.name}" for c in columns)
        sql = (
            f"INSERT INTO {tool_call_table.name} ({', '.join(names)}) SELECT {picked}"
            f" FROM unnest({arrays}) AS u({', '.join(names)})"
            " ON CONFLICT (call_id) DO NOTHING RETURNING call_id"
        )
        cached = _compiled[("postgresql", "tool_call")] = (sql, names)
    return cached


async def _insert_postgresql(connection: Connection, rows: Sequence[Row]) -> set[str]:
    """Insert ``rows``, skipping call ids stored already; the ids inserted.

    Measured (bench/RESULTS.md, bench_serve's tail notes): SQLAlchemy's executemany of a batch as
    dicts spent most of a PostgreSQL batch's time in Python on the event loop, per row and column;
    arrays of plain values cost asyncpg's encoder a fraction of that."""
    sql, names = _postgresql_insert()
    columns: list[list[Any]] = [[row.get(name) for row in rows] for name in names]
    for name, values in zip(names, columns, strict=True):
        if name == "arguments":
            values[:] = [_json_text(v) for v in values]
        elif name == "success":
            values[:] = [bool(v) for v in values]
    result = await connection.exec_driver_sql(sql, tuple(columns))
    return set(result.scalars().all())


async def apply(connection: Connection, deltas: Deltas) -> None:
    """Add ``deltas`` to the rollups (negative deltas subtract; rows left with no calls go)."""
    if deltas.daily:
        await _upsert(connection, tool_daily_table, ("tool_name", "day"), list(deltas.daily.values()), "max_ms")
    if deltas.errors:
        values = [{"tool_name": t, "day": d, "error_type": e, "count": n} for (t, d, e), n in deltas.errors.items()]
        await _upsert(connection, tool_error_daily_table, ("tool_name", "day", "error_type"), values)
    if deltas.users:
        await _upsert(
            connection,
            user_tool_stats_table,
            ("user_id", "intent", "tool_name"),
            list(deltas.users.values()),
            "last_called_at",
        )
    if any(v["calls"] < 0 for v in deltas.daily.values()):
        await connection.execute(sa.delete(tool_daily_table).where(tool_daily_table.c.calls <= 0))
        await connection.execute(sa.delete(tool_error_daily_table).where(tool_error_daily_table.c.count <= 0))
    if any(v["calls"] < 0 for v in deltas.users.values()):
        await connection.execute(sa.delete(user_tool_stats_table).where(user_tool_stats_table.c.calls <= 0))


_COLUMNS = frozenset(c.name for c in tool_call_table.columns) - {"id"}
# An expanding parameter: building an IN list of literals costs more per id than the insert.
_KNOWN_IDS = sa.select(tool_call_table.c.call_id).where(
    tool_call_table.c.call_id.in_(sa.bindparam("ids", expanding=True))
)


async def write_calls(connection: Connection, rows: Sequence[Row]) -> list[Row]:
    """Insert ``rows`` (skipping call ids already stored) and their rollups; returns the rows inserted.

    A row may carry ``"feedback": {"score": .., "comment": .., "created_at": .., "updated_at": ..}``
    (an archive or export being imported): it is stored too and counted in the rollups; and a
    ``"decision"`` (``history/archive.py``): stored as the call's decision evidence.
    """
    # One row per call id, even when a batch holds a record twice.
    rows = list({r["call_id"]: r for r in reversed(rows)}.values())[::-1]
    if not rows:
        return []
    if connection.dialect.name == "sqlite":
        # RETURNING costs SQLite a third of a batch's time. Instead: take the write lock first (a no-op
        # write makes pysqlite BEGIN and SQLite reserve the database), so that the call ids found stored
        # cannot change before the insert; then insert only the others.
        await connection.exec_driver_sql("UPDATE tool_daily SET calls = calls WHERE 0 = 1")
        ids = [r["call_id"] for r in rows]
        stored: set[str] = set()
        for start in range(0, len(ids), 5000):
            found = await connection.execute(_KNOWN_IDS, {"ids": ids[start : start + 5000]})
            stored.update(found.scalars())
        inserted = [r for r in rows if r["call_id"] not in stored]
        if inserted:
            await _insert_sqlite(connection, inserted)
    else:
        inserted_ids = await _insert_postgresql(connection, rows)
        inserted = [r for r in rows if r["call_id"] in inserted_ids]
    if not inserted:
        return []
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
    decisions = [
        {"call_id": r["call_id"], "user_id": r["user_id"], **r["decision"]} for r in inserted if r.get("decision")
    ]
    if decisions:
        await connection.execute(sa.insert(DECISION_EVIDENCE), decisions)
    await apply(connection, aggregate(inserted, scores=scores))
    return inserted


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        return utc(datetime.fromisoformat(value))
    return datetime.now(UTC)


_OUTCOME = ("call_id", "user_id", "tool_name", "intent", "success", "error_type", "execution_time_ms", "created_at")
OUTCOME_COLUMNS = tuple(tool_call_table.c[name] for name in _OUTCOME)
"""What one recorded call says about its tool: what ``aggregate`` folds into the rollups and what a router learns."""


_EVIDENCE = sa.table("decision_evidence", sa.column("call_id"))
"""``decision_evidence`` (history/service/evidence_models.py), named here without importing the service."""
DECISION_EVIDENCE = sa.table(
    "decision_evidence",
    *(
        sa.column(name)
        for name in ("call_id", "user_id", "decision_id", "policy_version", "propensity", "intent", "chosen")
    ),
    sa.column("candidates", sa.JSON),
    sa.column("decided_at", sa.DateTime(timezone=True)),
)
"""The same table's columns, for an exported or imported call's decision (``history/archive.py``)."""


async def remove_calls(connection: AsyncConnection, ids: Sequence[int]) -> int:
    """Delete the tool_call rows with these ids, their feedback, the decisions behind them, and their share
    of the rollups."""
    if not ids:
        return 0
    t = tool_call_table
    result = await connection.execute(sa.select(*OUTCOME_COLUMNS).where(t.c.id.in_(ids)))
    doomed = [dict(r) for r in result.mappings()]
    call_ids = [r["call_id"] for r in doomed]
    fb = call_feedback_table
    scores = {
        row.call_id: row.score
        for row in await connection.execute(sa.select(fb.c.call_id, fb.c.score).where(fb.c.call_id.in_(call_ids)))
    }
    await apply(connection, aggregate(doomed, sign=-1, scores=scores))
    if scores:
        await connection.execute(sa.delete(fb).where(fb.c.call_id.in_(list(scores))))
    if call_ids:
        await connection.execute(sa.delete(_EVIDENCE).where(_EVIDENCE.c.call_id.in_(call_ids)))
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
