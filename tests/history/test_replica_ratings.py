"""Ratings given behind one replica reach the other's router: two real hosts on one PostgreSQL database."""

from __future__ import annotations

import time

import anyio
import pytest

from tests.conftest import upgrade_to_head
from tests.learning.test_replicas import replica

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def satisfaction_on(history, tool: str) -> float:  # type: ignore[no-untyped-def]
    [score] = [s for s in history.router.rank("ada", ["lookup", "fallback"]) if s.tool == tool]
    return score.satisfaction


async def test_ratings_given_on_one_replica_are_used_by_the_other_within_5_seconds(postgres_url):
    upgrade_to_head(postgres_url)
    state = {"broken": False}
    host_a, history_a = replica(postgres_url, state)
    host_b, history_b = replica(postgres_url, state)
    async with host_a.running(), host_b.running():
        calls = {}
        for name in ("lookup", "fallback"):  # B's calls, equally successful
            calls[name] = [(await host_b.pipeline.call(name, {"q": "x"}, user_id="ada")).call.call_id for _ in range(6)]
        await history_b.recorder.flush()
        before = {t: await satisfaction_on(history_b, t) for t in calls}
        # ada rates them on A (through the tool, as a client would): lookup poorly, fallback well.
        for name, score in (("lookup", 1), ("fallback", 5)):
            for call_id in calls[name]:
                result = await host_a.pipeline.call(
                    "rate_tool_call", {"call_id": call_id, "score": score}, user_id="ada"
                )
                assert result.success, result
        rated_at = time.monotonic()
        while time.monotonic() - rated_at < 5.0:
            if await satisfaction_on(history_b, "lookup") < before["lookup"] - 0.5:
                break
            await anyio.sleep(0.05)
        waited = time.monotonic() - rated_at
        assert waited < 5.0, "B did not use A's ratings within 5 s"
        print(f"B used A's ratings in {waited:.2f} s")
        assert await satisfaction_on(history_b, "fallback") > before["fallback"]
        assert history_b.router.rank("ada", ["lookup", "fallback"])[0].tool == "fallback"
        # A's router learnt its own ratings once (not again from its poll).
        a_lookup = await satisfaction_on(history_a, "lookup")
        await anyio.sleep(1.5)  # more than a poll
        assert await satisfaction_on(history_a, "lookup") == pytest.approx(a_lookup)
        # A changed rating reaches B as a change, not a second rating.
        b_fallback = await satisfaction_on(history_b, "fallback")
        for call_id in calls["lookup"]:
            assert (
                await host_a.pipeline.call("rate_tool_call", {"call_id": call_id, "score": 5}, user_id="ada")
            ).success
        rated_at = time.monotonic()
        while time.monotonic() - rated_at < 5.0:
            if await satisfaction_on(history_b, "lookup") >= await satisfaction_on(history_b, "fallback") - 1e-9:
                break
            await anyio.sleep(0.05)
        assert await satisfaction_on(history_b, "lookup") == pytest.approx(b_fallback, abs=1e-6)
