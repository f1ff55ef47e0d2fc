"""The shared-timer timeouts and the cheap call ids of core/deadlines.py."""

from __future__ import annotations

import asyncio
import os
import re
import uuid

import pytest

from plugyard.core.deadlines import Watchdog, new_call_id

pytestmark = pytest.mark.anyio

UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_call_ids_are_unique_version_4_uuids() -> None:
    ids = [new_call_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:100]:
        assert UUID_TEXT.match(value), value
        assert uuid.UUID(value).version == 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_draws_a_new_prefix() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_call_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    os.close(write)
    assert child[:24] != new_call_id()[:24]


async def test_an_overdue_call_gets_timeout_error_and_the_others_finish() -> None:
    watchdog = Watchdog(asyncio.get_running_loop())

    async def slow() -> str:
        await asyncio.sleep(10)
        return "slow"

    async def quick() -> str:
        await asyncio.sleep(0.05)
        return "quick"

    async def timed(seconds: float, fn: object) -> str:
        try:
            return await watchdog.run(seconds, fn())  # type: ignore[operator]
        except TimeoutError:
            return "timeout"

    results = await asyncio.gather(timed(5, quick), timed(0.1, slow), timed(5, quick), timed(0.3, slow))
    assert results == ["quick", "timeout", "quick", "timeout"]
    assert not watchdog._running


async def test_a_later_shorter_deadline_rearms_the_timer() -> None:
    watchdog = Watchdog(asyncio.get_running_loop())

    async def slow() -> None:
        await asyncio.sleep(10)

    long_running = asyncio.ensure_future(watchdog.run(30, slow()))
    await asyncio.sleep(0)
    # Armed for the 30 s call, the timer must be re-armed for this one: else slow() ends normally after 10 s.
    with pytest.raises(TimeoutError):
        await watchdog.run(0.05, slow())
    long_running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_running


async def test_cancellation_from_outside_is_not_a_timeout() -> None:
    watchdog = Watchdog(asyncio.get_running_loop())

    async def slow() -> None:
        await asyncio.sleep(10)

    task = asyncio.ensure_future(watchdog.run(30, slow()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watchdog._running


async def test_nested_calls_time_out_at_their_own_level() -> None:
    watchdog = Watchdog(asyncio.get_running_loop())

    async def inner() -> None:
        await asyncio.sleep(10)

    async def outer() -> str:
        try:
            await watchdog.run(0.05, inner())
        except TimeoutError:
            return "inner timed out, outer went on"
        return "no"

    assert await watchdog.run(5, outer()) == "inner timed out, outer went on"
