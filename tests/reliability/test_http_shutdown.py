"""SIGTERM over HTTP with calls running: the first lets them finish and delivers their answers; a second
stops waiting, and what is left is cancelled and recorded as Cancelled (both protocol versions, a real
`plugyard serve --transport http`)."""

from __future__ import annotations

import signal
import time

import anyio
import pytest
from mcp import Client

from tests.conftest import rows, server_log, serving_http, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CLIENTS = 3
SLOW = "[tools.sleep_async]\ntimeout = 30\n"


async def _calls(base: str, mode: str, seconds: float, results: dict[int, object]) -> None:
    async def one(i: int) -> None:
        try:
            async with Client(f"{base}/mcp", mode=mode) as client:
                # The SDK's client lists the tools after a result to check it against the output schema: a
                # server that stopped accepting could not answer that. Listed first, the answer is all it needs.
                await client.list_tools()
                result = await client.call_tool("sleep_async", {"seconds": seconds})
                results[i] = result.structured_content
        except Exception as exc:  # what the client got is the point
            results.setdefault(i, exc)

    async with anyio.create_task_group() as tg:
        for i in range(CLIENTS):
            tg.start_soon(one, i)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_one_sigterm_delivers_the_drained_answers(tmp_path, db_path, mode):
    config = write_config(tmp_path / "plugins.toml", db_path, extra=SLOW)
    results: dict[int, object] = {}
    with serving_http(config, tmp_path) as (base, proc):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_calls, base, mode, 3.0, results)
            await anyio.sleep(1.5)
            proc.send_signal(signal.SIGTERM)
        assert await anyio.to_thread.run_sync(proc.wait, 30) == 0, server_log(tmp_path)
    assert results == {i: {"result": 3.0} for i in range(CLIENTS)}, results
    recorded = rows(db_path, "tool_name = 'sleep_async'")
    assert [r["success"] for r in recorded] == [1] * CLIENTS


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_second_sigterm_cancels_what_is_left_and_records_it(tmp_path, db_path, mode):
    config = write_config(tmp_path / "plugins.toml", db_path, extra=SLOW)
    results: dict[int, object] = {}
    with serving_http(config, tmp_path) as (base, proc):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_calls, base, mode, 8.0, results)
            await anyio.sleep(1.5)
            proc.send_signal(signal.SIGTERM)
            await anyio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            second = time.monotonic()
            code = await anyio.to_thread.run_sync(proc.wait, 30)
            took = time.monotonic() - second
        assert code == 0, server_log(tmp_path)
    print(
        f"\nFIGURE second SIGTERM ({mode}): exit {took:.2f} s after it; clients got {set(map(type, results.values()))}"
    )
    recorded = rows(db_path, "tool_name = 'sleep_async'")
    assert len(recorded) == CLIENTS, recorded
    assert {r["error_type"] for r in recorded} == {"Cancelled"}, recorded
    assert not any(r == {"result": 8.0} for r in results.values())
