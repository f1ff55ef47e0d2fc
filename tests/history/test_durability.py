"""durability = "journal": a record the recorder accepted survives kill -9 of the server."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import query, subprocess_env, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def _params(config: Path, tmp_path: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(config), "serve"],
        env=subprocess_env(tmp_path),
        cwd=str(tmp_path),
    )


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


async def test_kill_9_loses_nothing_the_recorder_accepted_in_journal_mode(tmp_path, db_path):
    # A long flush interval keeps the accepted records in memory when the process is killed.
    config = write_config(tmp_path / "plugins.toml", db_path)
    text = config.read_text().replace("flush_interval = 0.05", 'flush_interval = 30\ndurability = "journal"')
    config.write_text(text)
    acknowledged = []
    async with Client(_params(config, tmp_path), mode="legacy") as client:
        for i in range(25):
            result = await client.call_tool("add", {"a": i})
            acknowledged.append(result.meta["plugyard/call_id"])
        pid = (await client.call_tool("server_pid", {})).structured_content["result"]
        os.kill(pid, signal.SIGKILL)
        with anyio.fail_after(10):
            while _alive(pid):
                await anyio.sleep(0.05)
    url = f"sqlite+aiosqlite:///{db_path}"
    before = await query(url, "SELECT call_id FROM tool_call")
    assert len(before) < 25, "the records were meant to be still in memory when the server died"
    ahead = list(tmp_path.glob("*.ahead-*"))
    assert ahead and len(ahead[0].read_text().splitlines()) >= 25
    # The next start replays what the dead process had accepted, exactly once.
    async with Client(_params(config, tmp_path), mode="legacy") as client:
        await client.call_tool("add", {"a": 100})
    stored = [r["call_id"] for r in await query(url, "SELECT call_id FROM tool_call")]
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))
    assert not list(tmp_path.glob("*.ahead-*"))
