"""The history tools answer at once when the database is locked: with the result (SQLite readers are not
held by a writer's lock) or with an error that says the database is not answering, never after waiting
for the outage to end (they used to wait 9-14 s: for the queued calls to be written, then for the query)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
import sqlalchemy as sa
from mcp import Client
from sqlalchemy.engine import make_url

from plugyard.history.db import create_engine
from plugyard.mcp_server.server import PlugyardServer

pytestmark = [pytest.mark.anyio]

LOCKED_FOR = 8.0


@asynccontextmanager
async def locked(db_url: str) -> AsyncIterator[None]:
    """Another connection holds the history's write lock (SQLite) or an exclusive lock on tool_call (PostgreSQL)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        lock = sqlite3.connect(str(url.database), isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.rollback()
            lock.close()
        return
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("LOCK TABLE tool_call IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                await connection.rollback()
    finally:
        await engine.dispose()


async def test_tool_stats_answers_at_once_while_the_database_is_locked(running_host, db_url):
    async with running_host() as host, Client(PlugyardServer(host), mode="legacy") as client:
        assert not (await client.call_tool("add", {"a": 1})).is_error
        await host.get_plugin("history").recorder.flush()
        async with locked(db_url):
            for i in range(3):
                assert not (await client.call_tool("add", {"a": i})).is_error  # queued: the writer waits
            recorder = host.get_plugin("history").recorder
            with anyio.fail_after(10):  # the writer has taken the batch and waits for the lock
                while recorder.writing_since is None:
                    await anyio.sleep(0.01)
            started = time.monotonic()
            with anyio.fail_after(LOCKED_FOR - 1):
                answer = await client.call_tool("tool_stats", {})
            took = time.monotonic() - started
        print(
            f"\nFIGURE tool_stats while locked ({make_url(db_url).get_backend_name()}): {took:.2f} s, "
            f"error={answer.is_error}"
        )
        if answer.is_error:
            text = answer.content[0].text
            assert "history database" in text and "try again later" in text, text
        # Once the lock is gone, every call is recorded and the figures count them.
        await host.get_plugin("history").recorder.flush()
        stats = (await client.call_tool("tool_stats", {"tool": "add"})).structured_content
        assert stats["tools"][0]["calls"] == 4
