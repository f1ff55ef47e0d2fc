"""Production mode as an operator runs it, with real processes on one real PostgreSQL database:
`plugyard db upgrade` (two at once), replicas serving stateless streamable HTTP, /healthz,
refusal to serve a schema behind head, and SIGTERM draining in-flight calls."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from mcp import Client

from plugyard.history import migrate
from plugyard.mcp_server.server import CALL_ID_META
from tests.conftest import free_port, query, subprocess_env, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.postgres]

SLOW_PLUGIN = '''
from plugyard import ToolContext, hookimpl

async def slow(seconds: float, ctx: ToolContext) -> float:
    """Says it has started, then takes its time."""
    import anyio
    await ctx.report_progress(0, 1, "started")
    await anyio.sleep(seconds)
    return seconds

@hookimpl
def register_tools(register):
    register(slow)
'''


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN, encoding="utf-8")
    # The database comes from PLUGYARD_DATABASE_URL, as in a container; this file's SQLite url is overridden.
    return write_config(
        tmp_path / "plugins.toml",
        tmp_path / "unused.db",
        modules=[str(Path(__file__).parent.parent / "fixtures" / "sample_plugin.py"), "slow_plugin.py"],
    )


def env_for(tmp_path: Path, url: str) -> dict[str, str]:
    return subprocess_env(tmp_path, PLUGYARD_DATABASE_URL=url)


def plugyard(tmp_path: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plugyard", *args],
        env=env_for(tmp_path, url),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Replica:
    def __init__(self, tmp_path: Path, url: str, config_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.healthz = f"http://127.0.0.1:{self.port}/healthz"
        self.proc = plugyard(
            tmp_path, url, "--config", str(config_file), "serve", "--transport", "http", "--stateless",
            "--port", str(self.port),
        )  # fmt: skip

    def wait_healthy(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(self.healthz, timeout=2)
                if response.status_code == 200:
                    return dict(response.json())
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"replica on {self.port} did not become healthy: {self.proc.communicate()[1]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.communicate()


@pytest.fixture
def replicas(tmp_path: Path, postgres_url: str, config_file: Path) -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:
        replica.stop()


def test_serve_refuses_a_postgresql_schema_behind_head_naming_db_upgrade(tmp_path, postgres_url, config_file):
    proc = plugyard(tmp_path, postgres_url, "--config", str(config_file), "serve", "--transport", "http")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "revision none" in err and "run `plugyard db upgrade` first" in err
    # It did not migrate by itself.
    assert query_sync(postgres_url, "SELECT to_regclass('tool_call') AS t") == [{"t": None}]


def test_serve_refuses_an_unreachable_postgresql(tmp_path, config_file):
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    proc = plugyard(tmp_path, url, "--config", str(config_file), "serve")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "cannot be reached" in err and "PLUGYARD_DATABASE_URL" in err


def query_sync(url: str, sql: str) -> list[dict[str, Any]]:
    return anyio.run(query, url, sql)


def test_two_db_upgrades_at_once_both_succeed(tmp_path, postgres_url, config_file):
    procs = [plugyard(tmp_path, postgres_url, "--config", str(config_file), "db", "upgrade") for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert all(f"is at revision {migrate.head()}" in out for out, _err in outputs)


async def test_sigterm_drains_an_in_flight_call_then_flushes_and_exits_0(tmp_path, postgres_url, config_file, replicas):
    await anyio.to_thread.run_sync(upgrade, tmp_path, postgres_url, config_file)
    replica = Replica(tmp_path, postgres_url, config_file)
    replicas.append(replica)
    await anyio.to_thread.run_sync(replica.wait_healthy)
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async with Client(replica.url) as client:
        # The client lists tools to validate structured results; list them while the server is up.
        await client.list_tools()
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def call() -> None:
                results.append(await client.call_tool("slow", {"seconds": 1.0}, progress_callback=on_progress))

            tg.start_soon(call)
            with anyio.fail_after(30):
                await started.wait()
            replica.proc.send_signal(signal.SIGTERM)
    [result] = results
    assert not result.is_error and result.structured_content == {"result": 1.0}
    assert await anyio.to_thread.run_sync(replica.proc.wait, 30) == 0
    [row] = await query(postgres_url, "SELECT call_id, tool_name, success FROM tool_call")
    assert row == {"call_id": result.meta[CALL_ID_META], "tool_name": "slow", "success": True}


def upgrade(tmp_path: Path, url: str, config_file: Path) -> None:
    proc = plugyard(tmp_path, url, "--config", str(config_file), "db", "upgrade")
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


async def test_two_replicas_share_one_history_and_sigterm_loses_no_acknowledged_call(
    tmp_path, postgres_url, config_file, replicas
):
    calls, workers_per_replica, stop_after = 1000, 4, 250
    await anyio.to_thread.run_sync(upgrade, tmp_path, postgres_url, config_file)
    first, second = Replica(tmp_path, postgres_url, config_file), Replica(tmp_path, postgres_url, config_file)
    replicas.extend([first, second])
    for replica in (first, second):
        health = await anyio.to_thread.run_sync(replica.wait_healthy)
        history = health["reports"]["history"]
        assert history["database"]["backend"] == "postgresql" and history["schema"]["at_head"]

    pending = collections.deque(range(calls))
    acknowledged: dict[str, int] = {}  # call id -> the argument it was called with
    served = collections.Counter[int]()
    refused = collections.Counter[int]()
    stopped = anyio.Event()

    async def worker(index: int, replica: Replica) -> None:
        try:
            async with Client(replica.url) as client:
                await client.list_tools()
                while pending:
                    a = pending.popleft()
                    try:
                        with anyio.fail_after(30):
                            result = await client.call_tool("add", {"a": a})
                    except BaseException:
                        pending.append(a)  # not acknowledged: another replica takes it
                        raise
                    assert not result.is_error, result
                    acknowledged[result.meta[CALL_ID_META]] = a
                    served[index] += 1
                    if index == 0 and served[0] == stop_after and not stopped.is_set():
                        # Mid-load: the other workers on this replica have calls in flight right now.
                        replica.proc.send_signal(signal.SIGTERM)
                        stopped.set()
        except Exception:  # the stopped replica: connection refused or reset (ExceptionGroups included)
            refused[index] += 1

    async with anyio.create_task_group() as tg:
        for index, replica in enumerate((first, second)):
            for _ in range(workers_per_replica):
                tg.start_soon(worker, index, replica)

    assert stopped.is_set() and len(acknowledged) == calls
    assert served[0] >= stop_after and served[1] > 0 and refused[1] == 0
    assert await anyio.to_thread.run_sync(first.proc.wait, 30) == 0
    second.stop()
    assert second.proc.returncode == 0
    stored = await query(postgres_url, "SELECT call_id, arguments FROM tool_call")
    assert len(stored) == calls
    assert {r["call_id"] for r in stored} == set(acknowledged)
    assert sorted(r["arguments"]["a"] for r in stored) == list(range(calls))
