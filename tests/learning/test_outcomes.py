"""What the router learns from a running host: a capability check is not a decision, and a round that
asked the client is not a failed call (statistics, failures, rollups and the router see one call)."""

from __future__ import annotations

from typing import Any

import pytest

from plugyard import InputRequired, Run, hookimpl
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.service import ToolHistoryService

pytestmark = pytest.mark.anyio


def adder(a: int, b: int = 0) -> int:
    """Adds."""
    return a + b


def summer(a: int, b: int = 0) -> int:
    """Also adds."""
    return a + b


class Adders:
    def __init__(self) -> None:
        self.asked: set[str] = set()

    def asks_once(self, question: str) -> str:
        """Asks its client once, then answers."""
        if question not in self.asked:
            self.asked.add(question)
            raise InputRequired(f"waiting for the client to answer {question!r}")
        return f"answered {question}"

    @hookimpl
    def register_tools(self, register: Any) -> None:
        register(adder, capabilities=["adding"])
        register(summer, capabilities=["adding"])
        register(self.asks_once)


def history_of(host: Any) -> HistoryPlugin:
    plugin = host.pm.get_plugin("history")
    assert isinstance(plugin, HistoryPlugin)
    return plugin


def a_run(host: Any) -> Run:
    return Run(host=host, run_id="r1", user_id="ada", session_id=None, intent=None, workflow="w", progress=None)


async def test_has_capability_logs_no_decision_and_spends_no_half_open_trial(running_host):
    async with running_host(extra={"adders": Adders()}) as host:
        router = history_of(host).router
        for _ in range(router.failure_threshold):
            router.observe("ada", "adder", False, 5.0, error_type="ToolFailed")
            router.observe("ada", "summer", False, 5.0, error_type="ToolFailed")
        for breaker in router._breakers.values():
            assert breaker.opened_at is not None
            breaker.opened_at -= router.cooldown + 1  # the cooldown is over: one trial may go
        assert router.circuit("adder").state == "half_open"
        run = a_run(host)
        before = len(router.decisions)
        assert run.has_capability("adding") and not run.has_capability("flying")
        assert len(router.decisions) == before
        assert router.circuit("adder").state == "half_open" and router.circuit("summer").state == "half_open"
        assert await run.call("adding", {"a": 2, "b": 3}) == 5
        assert len(router.decisions) == before + 1


async def test_an_input_required_round_is_one_call_with_its_final_outcome(running_host, db_url):
    async with running_host(extra={"adders": Adders()}) as host:
        plugin = history_of(host)
        first = await host.pipeline.call("asks_once", {"question": "colour"}, user_id="ada")
        assert not first.success and first.error_type == "InputRequired"
        second = await host.pipeline.call("asks_once", {"question": "colour"}, user_id="ada")
        assert second.success
        rows = await plugin.recorded_calls(tool_name="asks_once")
        assert [r["error_type"] for r in rows] == ["InputRequired", None]  # both rounds are kept
        assert plugin.router.user_counts("ada", "asks_once") == (pytest.approx(1.0, rel=1e-3), 0.0)
        service = plugin.service
        assert isinstance(service, ToolHistoryService)
        [everyone] = await service.get_tool_statistics("asks_once")
        [ada] = await service.get_tool_statistics("asks_once", user_id="ada")
        for stats in (everyone, ada):
            assert (stats.calls, stats.successes, stats.success_rate) == (1, 1, 1.0)
            assert stats.top_errors == []
        assert await service.get_tool_success_rate("asks_once", user_id="ada") == 1.0
        assert await service.get_tool_success_rate("asks_once") == 1.0
        assert await service.get_recent_failed_tools() == []
        [stored] = [c for c in await service.stored_counts() if c.tool_name == "asks_once"]
        assert stored.w_failure == 0 and stored.w_success > 0
