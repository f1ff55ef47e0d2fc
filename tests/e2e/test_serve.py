"""End to end: `plugyard serve` as a real subprocess, driven by the SDK's MCP client over stdio
and streamable HTTP, in both protocol versions; the calls are in the SQLite file afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2 as httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import rows, serving_http, subprocess_env, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODES = ["auto", "legacy"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    return write_config(tmp_path / "plugins.toml", db_path)


def stdio_params(config_file: Path, tmp_path: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(config_file), "serve"],
        env=subprocess_env(tmp_path),
        cwd=str(tmp_path),
    )


async def test_stdio_lists_calls_and_records(config_file, tmp_path, db_path, mode):
    async with Client(stdio_params(config_file, tmp_path), mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        ok = await client.call_tool("add", {"a": 20, "b": 22})
        failed = await client.call_tool("explode", {"message": "kaboom"})
        invalid = await client.call_tool("add", {"a": "x"})
    # First-party plugins come through their entry points exactly like this test's module.
    assert {"add", "explode", "search_notes", "parse_traceback", "calculate"} <= names
    assert ok.structured_content == {"result": 42} and not ok.is_error
    assert failed.is_error and "kaboom" in failed.content[0].text
    assert invalid.is_error and "invalid arguments for tool 'add'" in invalid.content[0].text
    recorded = rows(db_path)
    assert [(r["tool_name"], r["success"], r["error_type"]) for r in recorded] == [
        ("add", 1, None),
        ("explode", 0, "RuntimeError"),
        ("add", 0, "InvalidArguments"),
    ]
    first = recorded[0]
    assert first["plugin_name"] == "sample_plugin" and json.loads(first["arguments"]) == {"a": 20, "b": 22}
    assert first["user_id"] and first["session_id"] and first["execution_time_ms"] >= 0
    assert first["created_at"] and first["result_size"] == 2


async def test_stdio_first_party_tools_answer(config_file, tmp_path, mode):
    async with Client(stdio_params(config_file, tmp_path), mode=mode) as client:
        calc = await client.call_tool("calculate", {"expression": "2 * (3 + 4) ** 2"})
        diag = await client.call_tool(
            "parse_traceback",
            {
                "text": 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    x[5]\n'
                "IndexError: list index out of range"
            },
        )
    assert calc.structured_content["result"] == 98
    assert diag.structured_content["exception_type"] == "IndexError"


async def test_sigterm_on_stdio_flushes_every_call(config_file, tmp_path, db_path):
    n = 40
    async with Client(stdio_params(config_file, tmp_path), mode="legacy") as client:
        for i in range(n):
            assert not (await client.call_tool("add", {"a": i})).is_error
        pid = (await client.call_tool("server_pid", {})).structured_content["result"]
        os.kill(pid, signal.SIGTERM)
        with anyio.fail_after(15):
            while _alive(pid):
                await anyio.sleep(0.05)
    assert len(rows(db_path)) == n + 1


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        # Not our child (the client owns it): fall back to /proc.
        status = Path(f"/proc/{pid}/status")
        return status.exists() and "zombie" not in status.read_text()
    return waited == 0


@pytest.fixture
def http_server(config_file: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with serving_http(config_file, tmp_path) as (base, proc):
        yield f"{base}/mcp", proc


async def test_http_lists_calls_and_records(http_server, db_path, mode):
    url, proc = http_server
    async with Client(url, mode=mode) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        ok = await client.call_tool("add", {"a": 1, "b": 2})
        failed = await client.call_tool("explode", {})
        invalid = await client.call_tool("add", {"b": 2})
    assert "add" in names and "calculate" in names
    assert ok.structured_content == {"result": 3}
    assert failed.is_error and "boom" in failed.content[0].text
    assert invalid.is_error and "a: Field required" in invalid.content[0].text
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert [(r["tool_name"], r["success"]) for r in rows(db_path)] == [("add", 1), ("explode", 0), ("add", 0)]


async def test_http_sigterm_flushes_every_acknowledged_call(http_server, db_path):
    url, proc = http_server
    n = 60
    async with Client(url) as client:
        for i in range(n):
            assert not (await client.call_tool("add", {"a": i})).is_error
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert len(rows(db_path)) == n


async def test_http_refuses_a_foreign_host_header(http_server):
    url, _proc = http_server
    async with httpx.AsyncClient() as http:
        response = await http.post(url, headers={"Host": "evil.example:80"}, json={})
    assert response.status_code == 421


def test_http_refuses_to_bind_beyond_loopback_without_authentication(config_file, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugyard",
            "--config",
            str(config_file),
            "serve",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
        ],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "refusing to serve HTTP on '0.0.0.0' without authentication" in result.stderr


async def _slow_call(client: Client, calls_started: list[str]) -> None:
    calls_started.append("sleep_async")
    try:
        await client.call_tool("sleep_async", {"seconds": 30})
    except Exception:  # the connection closes under it, or the call is cancelled: both expected here
        pass


@pytest.mark.parametrize("how", ["client cancels", "stdin closes"])
async def test_a_call_cut_short_is_recorded_as_cancelled(tmp_path, db_path, how):
    # sleep_async's own timeout (0.5 s) would end it first: give it time to be cut short instead.
    config_file = write_config(tmp_path / "plugins.toml", db_path, extra="[tools.sleep_async]\ntimeout = 60")
    started: list[str] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as outer:
            async with Client(stdio_params(config_file, tmp_path), mode="legacy") as client:
                await client.call_tool("add", {"a": 1})
                async with anyio.create_task_group() as inner:
                    group = inner if how == "client cancels" else outer
                    group.start_soon(_slow_call, client, started)
                    await anyio.sleep(1.0)  # the call is in flight in the server
                    if how == "client cancels":
                        inner.cancel_scope.cancel()
                if how == "client cancels":
                    await client.call_tool("add", {"a": 2})  # the server goes on serving
            # Leaving the client closed the server's stdin; with "stdin closes" the slow call was in flight.
    assert started == ["sleep_async"]
    recorded = {r["tool_name"]: r for r in rows(db_path)}
    cut = recorded["sleep_async"]
    assert cut["success"] == 0 and cut["error_type"] == "Cancelled"
    assert "cancelled before it finished" in cut["error_message"]
