"""The history writer process: batches written by a child, its deaths survived, its refusals kept."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from datetime import UTC, datetime

import anyio
import pytest

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.core.history import migrate
from plugyard.core.history.db import create_engine
from plugyard.core.history.recorder import Recorder
from plugyard.core.history.writer import MAX_RESPAWNS, ProcessWriter
from tests.conftest import query, recorded

pytestmark = pytest.mark.anyio


def outcome(tool: str = "add", *, ok: bool = True, user: str = "u1", args: dict | None = None) -> ToolOutcome:
    call = ToolCall(
        call_id=str(uuid.uuid4()),
        tool_name=tool,
        plugin_name="sample",
        arguments=args or {"a": 1, "api_key": "k"},
        user_id=user,
        session_id="s1",
        started_at=datetime.now(UTC),
    )
    return ToolOutcome(
        call=call,
        success=ok,
        duration_ms=2.5,
        result=1 if ok else None,
        result_size=1 if ok else None,
        error_type=None if ok else "Boom",
        error_message=None if ok else "boom",
    )


@pytest.fixture
async def engine(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def test_the_child_writes_rows_and_rollups_as_the_in_process_writer_does(engine, db_url, tmp_path):
    writer = ProcessWriter(engine, db_url)
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", writer=writer, redact_keys=["api_key"], batch_size=7)
    made = [outcome(user=f"u{i % 3}", ok=i % 4 != 0, tool=f"t{i % 2}") for i in range(40)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        for o in made:
            recorder.submit(o)
        await recorder.flush()
        assert writer.pid is not None and writer.pid != os.getpid()
        assert writer.batches_in_child >= 1
        await recorder.close()
    assert writer.pid is None  # the child was stopped with the recorder
    stored = await recorded(db_url)
    assert sorted(r["call_id"] for r in stored) == sorted(o.call.call_id for o in made)
    assert all(r["arguments"] == {"a": 1, "api_key": "[REDACTED]"} for r in stored)
    daily = await query(db_url, "SELECT tool_name, calls, successes FROM tool_daily ORDER BY tool_name")
    assert [(d["tool_name"], d["calls"], d["successes"]) for d in daily] == [("t0", 20, 10), ("t1", 20, 20)]
    users = await query(db_url, "SELECT sum(calls) AS n FROM user_tool_stats")
    assert users[0]["n"] == 40


@pytest.mark.sqlite_only("killing the child is the same on both backends; one is enough")
async def test_a_killed_child_is_replaced_and_no_record_is_lost_or_doubled(engine, db_url, tmp_path):
    writer = ProcessWriter(engine, db_url)
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", writer=writer, batch_size=5, flush_interval=0.01)
    made = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        for _ in range(3):
            for _ in range(10):
                made.append(outcome())
                recorder.submit(made[-1])
            await recorder.flush()
            first = writer.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            await anyio.sleep(0.05)
        for _ in range(10):
            made.append(outcome())
            recorder.submit(made[-1])
        await recorder.flush()
        assert writer.pid not in (None, first)
        await recorder.close()
    stored = await recorded(db_url)
    assert sorted(r["call_id"] for r in stored) == sorted(o.call.call_id for o in made)
    assert recorder.journaled == 0


@pytest.mark.sqlite_only("about starting a process, not about the database")
async def test_when_no_child_can_start_the_recorder_writes_in_process(engine, db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    writer = ProcessWriter(engine, db_url)
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", writer=writer)
    made = [outcome() for _ in range(5)]
    for o in made:
        recorder.submit(o)
    with anyio.fail_after(30):
        await recorder.close()
    assert writer.sqlite is not None  # the in-process writer took over
    assert recorder.failures == MAX_RESPAWNS - 1
    assert len(await recorded(db_url)) == 5 and recorder.journaled == 0


async def test_rows_the_database_refuses_through_the_child_are_set_aside(engine, db_url, tmp_path):
    writer = ProcessWriter(engine, db_url)
    journal = tmp_path / "j.jsonl"
    recorder = Recorder(engine, journal=journal, writer=writer)
    good = [outcome() for _ in range(3)]
    bad = outcome()
    # user_id is NOT NULL: the database refuses this one row, and only it.
    object.__setattr__(bad.call, "user_id", None)
    for o in [good[0], bad, *good[1:]]:
        recorder.submit(o)
    with anyio.fail_after(60):
        await recorder.close()
    assert sorted(r["call_id"] for r in await recorded(db_url)) == sorted(o.call.call_id for o in good)
    assert recorder.refused == 1
    refused = journal.with_name(journal.name + ".refused").read_text()
    assert bad.call.call_id in refused
