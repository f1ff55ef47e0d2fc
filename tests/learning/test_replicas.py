"""Replicas learn together: two real hosts on one PostgreSQL database; a tool that starts failing
behind replica A is avoided by replica B within 5 s, with what A learnt about each user."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from plugyard import ToolFailed, hookimpl
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from tests.conftest import upgrade_to_head

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


class Backends:
    """``lookup`` (which can be made to fail) and ``fallback``, both offering ``find``."""

    def __init__(self, state: dict[str, bool]) -> None:
        self.state = state

    @hookimpl
    def register_tools(self, register: Any) -> None:
        state = self.state

        def lookup(q: str) -> str:
            """Looks up."""
            if state["broken"]:
                raise ToolFailed("the lookup backend is down")
            return q

        def fallback(q: str) -> str:
            """Looks up, elsewhere."""
            return q

        register(lookup, capabilities=["find"])
        register(fallback, capabilities=["find"])


def replica(url: str, state: dict[str, bool]) -> tuple[PluginHost, HistoryPlugin]:
    config = parse_config({"database": {"url": url}, "plugins": {"history": {"flush_interval": 0.05}}})
    history = HistoryPlugin()
    host = PluginHost(config, entry_points=False, plugins={"backends": Backends(state), "history": history})
    return host.load(), history


async def test_a_tool_failing_behind_one_replica_is_avoided_by_the_other_within_5_seconds(postgres_url):
    upgrade_to_head(postgres_url)
    state = {"broken": False}
    host_a, history_a = replica(postgres_url, state)
    host_b, history_b = replica(postgres_url, state)
    async with host_a.running(), host_b.running():
        for _ in range(10):  # both tools work: B has no reason to avoid lookup
            for name in ("lookup", "fallback"):
                assert (await host_b.pipeline.call(name, {"q": "x"}, user_id="ada")).success
        state["broken"] = True
        for _ in range(30):  # behind A only, lookup fails for ada
            assert not (await host_a.pipeline.call("lookup", {"q": "x"}, user_id="ada")).success
        failed_at = time.monotonic()
        waited = None
        while time.monotonic() - failed_at < 5.0:
            _, failures = history_b.router.user_counts("ada", "lookup")
            if failures >= 29.9:
                waited = time.monotonic() - failed_at
                break
            await anyio.sleep(0.05)
        assert waited is not None and waited < 5.0, "B did not learn what A saw within 5 s"
        print(f"B learnt A's failures in {waited:.2f} s")
        assert history_b.router.rank("ada", ["lookup", "fallback"])[0].tool == "fallback"
        picks = [history_b.router.choose("ada", ["lookup", "fallback"]).chosen for _ in range(100)]
        assert picks.count("fallback") >= 95
        # A's own calls are not counted twice by A, nor B's by B.
        assert history_a.router.user_counts("ada", "lookup")[1] == pytest.approx(30, rel=1e-3)
        assert history_b.router.user_counts("ada", "fallback")[0] == pytest.approx(10, rel=1e-3)
        assert history_a.router.user_counts("ada", "fallback")[0] == pytest.approx(10, rel=1e-3)
