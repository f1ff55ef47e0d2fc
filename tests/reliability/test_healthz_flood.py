"""A flood of /healthz probes on a real `plugyard serve --transport http`: concurrent probes share one check,
so none is a false 503, no database connection is cut short ("Task was destroyed"), and calls go on."""

from __future__ import annotations

import socket
import time

import anyio
import httpx2 as httpx
import pytest
from mcp import Client

from plugyard.mcp_server.server import HEALTH_PATH
from tests.conftest import server_log, serving_http, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PROBES = 2000


async def test_a_healthz_flood_answers_every_probe_healthy(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    codes: dict[object, int] = {}
    with serving_http(config, tmp_path) as (base, _proc):
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:

            async def probe() -> None:
                try:
                    status: object = (await http.get(f"{base}{HEALTH_PATH}")).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                codes[status] = codes.get(status, 0) + 1

            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                for _ in range(PROBES):
                    tg.start_soon(probe)
            took = time.monotonic() - started
        async with Client(f"{base}/mcp") as client:
            assert (await client.call_tool("add", {"a": 2, "b": 2})).structured_content == {"result": 4}
    print(f"\nFIGURE healthz flood: {PROBES} probes in {took:.1f} s: {codes}")
    assert codes == {200: PROBES}, codes
    assert "Task was destroyed" not in server_log(tmp_path)


async def test_ten_thousand_dropped_connections_leave_the_next_call_prompt(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    with serving_http(config, tmp_path) as (base, _proc):
        port = int(base.rsplit(":", 1)[1])

        def flood() -> None:
            for i in range(10_000):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    if i % 2:  # half of them leave a request torn
                        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")

        await anyio.to_thread.run_sync(flood)
        started = time.monotonic()
        with anyio.fail_after(30):  # a bound for "no hang", not a performance claim
            async with Client(f"{base}/mcp") as client:
                assert (await client.call_tool("add", {"a": 1})).structured_content == {"result": 1}
        took = time.monotonic() - started
    print(f"\nFIGURE 10,000 dropped connections: the next session and call took {took:.2f} s")
    assert "Task was destroyed" not in server_log(tmp_path)
