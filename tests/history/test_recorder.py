"""The recorder: batches, redaction, the journal when the database is away, and replay."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.recorder import Recorder
from plugyard.history.redact import REDACTED, Redactor
from tests.conftest import recorded, rows

pytestmark = pytest.mark.anyio


def outcome(tool: str = "add", args: dict | None = None, call_id: str | None = None) -> ToolOutcome:
    call = ToolCall(
        call_id=call_id or str(uuid.uuid4()),
        tool_name=tool,
        plugin_name="sample",
        arguments=args or {"a": 1},
        user_id="u1",
        session_id="s1",
        started_at=datetime.now(UTC),
    )
    return ToolOutcome(call=call, success=True, duration_ms=1.5, result=1, result_size=1)


@pytest.fixture
async def engine(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


def test_secret_looking_keys_are_redacted_at_any_depth():
    redact = Redactor(["password", "token", "api_key", "secret"])
    stored = redact(
        {
            "user": "ada",
            "Password": "hunter2",
            "nested": {"X-Api-Key": "k", "apiKey": "k2", "list": [{"refresh_token": "t"}, "plain"]},
            "client_secret_value": "s",
            "tokens_used": 3,
        }
    )
    assert stored == {
        "user": "ada",
        "Password": REDACTED,
        "nested": {"X-Api-Key": REDACTED, "apiKey": REDACTED, "list": [{"refresh_token": REDACTED}, "plain"]},
        "client_secret_value": REDACTED,
        "tokens_used": REDACTED,
    }


async def test_batches_are_written_by_size_and_by_time(engine, db_url, tmp_path):
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", batch_size=10, flush_interval=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        for _ in range(25):
            recorder.submit(outcome())
        with anyio.fail_after(5):
            while recorder.written < 25:
                await anyio.sleep(0.01)
        await recorder.close()
    assert len(await recorded(db_url)) == 25 and recorder.depth == 0


async def test_flush_returns_while_the_writer_runs_and_the_queue_empties(engine, db_url, tmp_path):
    # A flush makes the writer urgent; with the queue written it must go back to waiting, not spin
    # without awaiting (which held the event loop, so flush() itself never returned).
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", batch_size=100, flush_interval=10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(recorder.run)
        await anyio.sleep(0.05)  # the writer is running and waiting
        for _ in range(3):
            recorder.submit(outcome())
        with anyio.fail_after(5):
            await recorder.flush()
            await recorder.flush()  # and again with nothing queued
        assert recorder.written == 3
        with anyio.fail_after(5):
            await recorder.close()
    assert len(await recorded(db_url)) == 3


async def test_arguments_are_stored_redacted_and_json_safe(engine, db_url, tmp_path):
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", redact_keys=["password"])
    recorder.submit(outcome(args={"password": "hunter2", "when": datetime(2026, 1, 1, tzinfo=UTC), "n": 1}))
    await recorder.close()
    [row] = await recorded(db_url)
    assert row["arguments"] == {"password": "[REDACTED]", "when": "2026-01-01T00:00:00Z", "n": 1}


async def test_a_call_id_written_twice_is_stored_once(engine, db_url, tmp_path):
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl")
    same = outcome(call_id="fixed-id")
    recorder.submit(same)
    await recorder.close()
    again = Recorder(engine, journal=tmp_path / "j.jsonl")
    again.submit(same)
    again.submit(outcome())
    await again.close()
    assert [r["call_id"] for r in await recorded(db_url)].count("fixed-id") == 1
    assert len(await recorded(db_url)) == 2


@pytest.mark.sqlite_only("another process holding the SQLite file lock is a SQLite situation")
async def test_while_sqlite_is_locked_by_another_process_records_wait_then_land(engine, db_path, tmp_path):
    blocker = sqlite3.connect(db_path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", batch_size=5, flush_interval=0.02)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            for _ in range(12):
                recorder.submit(outcome())
            await anyio.sleep(0.3)
            assert recorder.written == 0
            # The event loop never waits for the lock: the writes wait in a worker thread.
            sqlite = recorder._writer.sqlite
            assert sqlite is not None and sqlite.handed_to_thread >= 1
            blocker.rollback()
            with anyio.fail_after(20):
                while recorder.written < 12:
                    await anyio.sleep(0.02)
            await recorder.close()
    finally:
        blocker.close()
    assert len(rows(db_path)) == 12 and recorder.journaled == 0


@pytest.mark.empty_database("no tables yet: every write fails")
async def test_records_the_database_cannot_take_at_shutdown_go_to_the_journal_and_replay(tmp_path, db_url):
    # No tables yet: every write fails, as when the database is gone.
    broken = create_engine(db_url)
    journal = tmp_path / "journal.jsonl"
    recorder = Recorder(broken, journal=journal, redact_keys=["password"])
    ids = []
    for _ in range(7):
        o = outcome(args={"password": "hunter2"})
        ids.append(o.call.call_id)
        recorder.submit(o)
    with anyio.fail_after(20):
        await recorder.close()
    assert recorder.journaled == 7 and recorder.written == 0
    assert "hunter2" not in journal.read_text()
    await migrate.upgrade(broken)
    # A torn last line, as a crash mid-append would leave, must not stop the replay.
    with journal.open("a") as fh:
        fh.write('{"call_id": "torn"')
    replayer = Recorder(broken, journal=journal)
    assert await replayer.replay_journal() == 7
    assert not journal.exists()
    # Replaying twice (a crash after writing, before deleting) never duplicates.
    assert await replayer.replay_journal() == 0
    assert sorted(r["call_id"] for r in await recorded(db_url)) == sorted(ids)
    await broken.dispose()


async def test_a_full_queue_spills_to_the_journal_instead_of_dropping(engine, tmp_path: Path, db_url):
    journal = tmp_path / "j.jsonl"
    recorder = Recorder(engine, journal=journal, queue_size=3)
    for _ in range(5):
        recorder.submit(outcome())
    assert recorder.depth == 3 and recorder.journaled == 2
    await recorder.close()
    assert await Recorder(engine, journal=journal).replay_journal() == 2
    assert len(await recorded(db_url)) == 5


async def test_a_row_the_database_refuses_is_set_aside_and_the_others_are_written(engine, tmp_path, db_url):
    from tests.conftest import query

    recorder = Recorder(engine, journal=tmp_path / "j.jsonl", batch_size=10)
    good = [outcome() for _ in range(4)]
    bad = outcome()
    bad.call.tool_name = None  # type: ignore[assignment]  # NOT NULL: refused by the database itself
    for o in [*good[:2], bad, *good[2:]]:
        recorder.submit(o)
    await recorder.close()
    stored = {r["call_id"] for r in await query(db_url, "SELECT call_id FROM tool_call")}
    assert stored == {o.call.call_id for o in good}
    assert recorder.refused == 1
    assert bad.call.call_id in (tmp_path / "j.jsonl.refused").read_text()
    # A later batch is not held up.
    again = Recorder(engine, journal=tmp_path / "j.jsonl")
    later = outcome()
    again.submit(later)
    await again.close()
    assert later.call.call_id in {r["call_id"] for r in await query(db_url, "SELECT call_id FROM tool_call")}


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "retried"),
    [
        ("57P01", True),  # terminating connection due to administrator command (a server stopping)
        ("57P03", True),  # the database system is starting up
        ("08006", True),  # connection failure
        ("40001", True),  # serialization failure
        ("53300", True),  # too many connections
        ("23505", False),  # unique violation: the rows' fault
        ("22P05", False),  # untranslatable character: the rows' fault
    ],
)
def test_postgresql_errors_are_told_apart_by_their_sqlstate(sqlstate, retried):
    from sqlalchemy import exc as sa_exc

    from plugyard.history.recorder import _unavailable

    error = sa_exc.DBAPIError("INSERT INTO tool_call ...", None, _DriverError("server says no", sqlstate))
    assert _unavailable(error) is retried


@pytest.mark.empty_database("no tables yet: every write fails, so everything is journaled")
async def test_a_replay_says_what_it_is_waiting_for_and_how_far_it_got(tmp_path, db_url, caplog, monkeypatch):
    import logging

    import plugyard.history.recorder as recorder_module

    broken = create_engine(db_url)  # no tables yet: every write fails, so everything is journaled
    journal = tmp_path / "journal.jsonl"
    recorder = Recorder(broken, journal=journal)
    for _ in range(7):
        recorder.submit(outcome())
    with anyio.fail_after(20):
        await recorder.close()
    await migrate.upgrade(broken)
    monkeypatch.setattr(recorder_module, "REPLAY_REPORT_EVERY", 3)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="plugyard.history"):
        replayer = Recorder(broken, journal=journal, batch_size=2)
        assert await replayer.replay_journal() == 7
    await broken.dispose()
    said = [r.getMessage() for r in caplog.records if r.name == "plugyard.history"]
    assert said[0] == "replaying 7 history record(s) left by earlier runs (1 file(s))"
    assert [m for m in said if m.startswith("replayed ") and " of " in m] == [
        "replayed 4 of 7 history record(s)",
        "replayed 6 of 7 history record(s)",
    ]


@pytest.mark.sqlite_only("another connection holding the SQLite write lock is a SQLite situation")
async def test_a_flush_cut_off_with_no_writer_running_keeps_every_record(engine, db_path, db_url, tmp_path):
    blocker = sqlite3.connect(db_path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    recorder = Recorder(engine, journal=tmp_path / "j.jsonl")
    ids = []
    for _ in range(3):
        made = outcome()
        ids.append(made.call.call_id)
        recorder.submit(made)
    try:
        with anyio.move_on_after(0.3) as scope:  # a caller's time limit: the write is still retrying
            await recorder.flush()
        assert scope.cancelled_caught
        assert recorder.depth == 3  # taken off the queue for the write, put back when cut off
    finally:
        blocker.rollback()
        blocker.close()
    await recorder.close()
    assert sorted(r["call_id"] for r in await recorded(db_url)) == sorted(ids)
