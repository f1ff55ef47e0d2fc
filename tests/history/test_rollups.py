"""The rollups always equal the same aggregates computed from the raw rows: after random batches,
batches written twice (retries), ratings and cleanups (a property test, on every backend)."""

from __future__ import annotations

import bisect
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.errors import UnknownCall
from plugyard.history.models import tool_call_table
from plugyard.history.recorder import Recorder
from plugyard.history.rollup_models import (
    BUCKET_COLUMNS,
    LATENCY_BOUNDS_MS,
    call_feedback_table,
    tool_daily_table,
    tool_error_daily_table,
    user_tool_stats_table,
)
from plugyard.history.rollups import write_calls
from plugyard.history.service import ToolHistoryService
from plugyard.learning.counts import decay_weight

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

call = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["ada", "bob", "cy"]),
        "tool_name": st.sampled_from(["search", "calc"]),
        "intent": st.sampled_from([None, "error_diagnosis"]),
        "success": st.booleans(),
        "error_type": st.sampled_from(["Boom", "ToolTimeout"]),
        "execution_time_ms": st.sampled_from([0.2, 1.0, 4.5, 30.0, 31.0, 999.9, 70_000.0]),
        "age": st.integers(min_value=0, max_value=120 * 24),  # hours before NOW
    }
)
step = st.one_of(
    st.tuples(st.just("batch"), st.lists(call, min_size=1, max_size=8)),
    st.tuples(st.just("retry"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("rate"), st.integers(min_value=0, max_value=50), st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("cleanup"), st.integers(min_value=1, max_value=100)),
)


def _row(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "call_id": str(uuid.uuid4()),
        "user_id": spec["user_id"],
        "session_id": None,
        "tool_name": spec["tool_name"],
        "plugin_name": "p",
        "arguments": {},
        "success": spec["success"],
        "error_type": None if spec["success"] else spec["error_type"],
        "error_message": None,
        "execution_time_ms": spec["execution_time_ms"],
        "result_size": None,
        "satisfaction": None,
        "intent": spec["intent"],
        "workflow_run_id": None,
        "created_at": NOW - timedelta(hours=spec["age"]),
    }


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def _rows(engine: AsyncEngine, sql: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.text(sql))]


async def _expected(engine: AsyncEngine) -> dict[str, Any]:
    """The rollups, recomputed from the raw rows by the plainest code possible."""
    raw = await _rows(engine, "SELECT * FROM tool_call")
    scores = {r["call_id"]: r["score"] for r in await _rows(engine, "SELECT * FROM call_feedback")}
    daily: dict[Any, dict[str, Any]] = {}
    errors: dict[Any, int] = {}
    users: dict[Any, dict[str, Any]] = {}
    for r in raw:
        at = _utc(r["created_at"])
        d = daily.setdefault(
            (r["tool_name"], at.date().isoformat()),
            {"calls": 0, "successes": 0, "total_ms": 0.0, "max_ms": 0.0} | dict.fromkeys(BUCKET_COLUMNS, 0),
        )
        d["calls"] += 1
        d["successes"] += bool(r["success"])
        d["total_ms"] += r["execution_time_ms"]
        d["max_ms"] = max(d["max_ms"], r["execution_time_ms"])
        d[BUCKET_COLUMNS[bisect.bisect_left(LATENCY_BOUNDS_MS, r["execution_time_ms"])]] += 1
        if not r["success"]:
            key = (r["tool_name"], at.date().isoformat(), r["error_type"])
            errors[key] = errors.get(key, 0) + 1
        u = users.setdefault(
            (r["user_id"], r["intent"] or "", r["tool_name"]),
            {
                "calls": 0,
                "successes": 0,
                "total_ms": 0.0,
                "w_success": 0.0,
                "w_failure": 0.0,
                "w_ms": 0.0,
                "satisfaction_sum": 0,
                "satisfaction_count": 0,
                "last_called_at": at,
            },
        )
        w = decay_weight(at)
        u["calls"] += 1
        u["successes"] += bool(r["success"])
        u["total_ms"] += r["execution_time_ms"]
        u["w_success" if r["success"] else "w_failure"] += w
        u["w_ms"] += w * r["execution_time_ms"]
        u["last_called_at"] = max(u["last_called_at"], at)
        if r["call_id"] in scores:
            u["satisfaction_sum"] += scores[r["call_id"]]
            u["satisfaction_count"] += 1
    return {"daily": daily, "errors": errors, "users": users, "calls": {r["call_id"] for r in raw}}


async def _actual(engine: AsyncEngine) -> dict[str, Any]:
    daily = {}
    for r in await _rows(engine, "SELECT * FROM tool_daily"):
        day = r["day"] if isinstance(r["day"], str) else r["day"].isoformat()
        daily[(r.pop("tool_name"), day)] = {k: v for k, v in r.items() if k != "day"}
    errors = {
        (r["tool_name"], r["day"] if isinstance(r["day"], str) else r["day"].isoformat(), r["error_type"]): r["count"]
        for r in await _rows(engine, "SELECT * FROM tool_error_daily")
    }
    users = {}
    for r in await _rows(engine, "SELECT * FROM user_tool_stats"):
        key = (r.pop("user_id"), r.pop("intent"), r.pop("tool_name"))
        r["last_called_at"] = _utc(r["last_called_at"])
        users[key] = r
    feedback = {r["call_id"] for r in await _rows(engine, "SELECT call_id FROM call_feedback")}
    return {"daily": daily, "errors": errors, "users": users, "feedback": feedback}


def _same(expected: dict[Any, dict[str, Any]], actual: dict[Any, dict[str, Any]]) -> None:
    assert set(expected) == set(actual)
    for key, want in expected.items():
        got = actual[key]
        for column, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[column], value, rel_tol=1e-9, abs_tol=1e-6), (key, column)
            else:
                assert got[column] == value, (key, column)


_migrated: set[str] = set()


async def _reset(engine: AsyncEngine, db_url: str) -> None:
    if db_url not in _migrated:
        await migrate.upgrade(engine)
        _migrated.add(db_url)
    async with engine.begin() as conn:
        for table in (call_feedback_table, user_tool_stats_table, tool_error_daily_table, tool_daily_table):
            await conn.execute(sa.delete(table))
        await conn.execute(sa.delete(tool_call_table))


async def _play(db_url: str, steps: list[tuple[Any, ...]]) -> None:
    engine = create_engine(db_url)
    await _reset(engine, db_url)
    service = ToolHistoryService(engine, clock=lambda: NOW)
    batches: list[list[dict[str, Any]]] = []
    try:
        for kind, *args in steps:
            if kind == "batch":
                rows = [_row(spec) for spec in args[0]]
                batches.append(rows)
                async with engine.begin() as conn:
                    await write_calls(conn, rows)
            elif kind == "retry" and batches:
                # The same batch again, as after a commit whose acknowledgement was lost.
                async with engine.begin() as conn:
                    await write_calls(conn, batches[args[0] % len(batches)])
            elif kind == "rate" and batches:
                every = [r for b in batches for r in b]
                target = every[args[0] % len(every)]
                try:
                    await service.update_user_satisfaction(target["call_id"], args[1], user_id=target["user_id"])
                except UnknownCall:
                    pass  # cleaned up already
            elif kind == "cleanup":
                await service.cleanup_old_records(args[0], chunk_size=3)
        expected, actual = await _expected(engine), await _actual(engine)
    finally:
        await engine.dispose()
    _same(expected["daily"], actual["daily"])
    assert expected["errors"] == actual["errors"]
    _same(expected["users"], actual["users"])
    assert actual["feedback"] <= expected["calls"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_rollups_equal_the_aggregates_of_the_raw_rows(db_url, steps):
    anyio.run(_play, db_url, steps)


@pytest.mark.anyio
async def test_the_recorder_maintains_rollups_and_a_replayed_journal_counts_once(db_url, tmp_path):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    rows = [
        _row(
            {
                "user_id": "ada",
                "tool_name": "search",
                "intent": None,
                "success": i % 2 == 0,
                "error_type": "Boom",
                "execution_time_ms": 10.0 * i,
                "age": 0,
            }
        )
        for i in range(1, 5)
    ]
    journal = tmp_path / "j.jsonl"
    recorder = Recorder(engine, journal=journal)
    recorder._append_journal(rows)
    assert await recorder.replay_journal() == 4
    recorder._append_journal(rows)  # the same records again (a crash between write and unlink)
    assert await recorder.replay_journal() == 4
    [stats] = await _rows(engine, "SELECT * FROM user_tool_stats")
    assert (stats["calls"], stats["successes"], stats["total_ms"]) == (4, 2, 100.0)
    [daily] = await _rows(engine, "SELECT * FROM tool_daily")
    # 10, 20, 30 and 40 ms fall in the buckets (8, 13], (13, 20], (20, 30] and (30, 50].
    assert [daily[f"lat_{i:02d}"] for i in range(4, 10)] == [0, 1, 1, 1, 1, 0]
    assert (daily["calls"], daily["max_ms"]) == (4, 40.0)
    await engine.dispose()


@pytest.mark.anyio
@pytest.mark.empty_database("migrates from nothing to 0001, then records, then to head")
async def test_migration_0002_rolls_up_calls_recorded_before_it(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine, "0001")
    rows = [
        _row(
            {
                "user_id": "ada",
                "tool_name": "calc",
                "intent": "x",
                "success": ok,
                "error_type": "Boom",
                "execution_time_ms": 3.0,
                "age": 30,
            }
        )
        for ok in (True, True, False)
    ]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(tool_call_table), rows)
    await migrate.upgrade(engine)
    expected, actual = await _expected(engine), await _actual(engine)
    await engine.dispose()
    _same(expected["daily"], actual["daily"])
    assert actual["errors"] == expected["errors"] != {}
    _same(expected["users"], actual["users"])


@pytest.mark.anyio
async def test_a_record_twice_in_a_batch_or_a_batch_written_twice_counts_once(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    spec = {
        "user_id": "ada",
        "tool_name": "calc",
        "intent": None,
        "success": True,
        "error_type": "Boom",
        "execution_time_ms": 2.0,
        "age": 1,
    }
    row = _row(spec)
    async with engine.begin() as conn:
        assert len(await write_calls(conn, [row, dict(row), _row(spec)])) == 2
    async with engine.begin() as conn:
        assert await write_calls(conn, [row]) == []
    [stats] = await _rows(engine, "SELECT calls FROM user_tool_stats")
    [daily] = await _rows(engine, "SELECT calls FROM tool_daily")
    await engine.dispose()
    assert stats["calls"] == daily["calls"] == 2
