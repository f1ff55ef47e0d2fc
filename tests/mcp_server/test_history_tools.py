"""The history tools and the preference router, end to end through an MCP session (both protocol modes)."""

from __future__ import annotations

import pytest
from mcp import Client

from plugyard import ToolContext, hookimpl
from plugyard.history.history_tools import HISTORY_TOOL_NAMES
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def reliable(x: int) -> int:
    """Always works."""
    return x


def flaky(x: int) -> int:
    """Always fails."""
    raise RuntimeError("the backend is down")


def mine(ctx: ToolContext) -> str:
    """Says who called."""
    return ctx.user_id


class Compute:
    """Two tools offering one capability: one works, one does not."""

    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(reliable, capabilities=["compute"])
        register(flaky, capabilities=["compute"])
        register(mine)


@pytest.fixture
def cfg(config):
    def make(**server):
        return config.model_copy(update={"server": config.server.model_copy(update={"default_user": "ada", **server})})

    return make


def history_of(host):
    return host.get_plugin("history")


async def test_the_router_prefers_the_reliable_tool_after_a_few_calls(running_host, cfg, mode):
    async with (
        running_host(extra={"compute": Compute()}, cfg=cfg()) as host,
        Client(PlugyardServer(host), mode=mode) as client,
    ):
        # Before any call, both candidates are equal.
        first = await client.call_tool("recommend_tools", {"capability": "compute"})
        assert {t["tool"] for t in first.structured_content["tools"]} == {"reliable", "flaky"}
        for i in range(6):
            assert not (await client.call_tool("reliable", {"x": i})).is_error
            assert (await client.call_tool("flaky", {"x": i})).is_error
        result = await client.call_tool("recommend_tools", {"capability": "compute"})
        ranked = result.structured_content["tools"]
        assert [t["tool"] for t in ranked] == ["reliable", "flaky"]
        assert ranked[0]["success_mean"] > 0.87 and ranked[1]["circuit"] == "open"
        assert "global_calls" not in ranked[0]
        assert result.structured_content["policy_version"].startswith("thompson-beta/1")
        assert CALL_ID_META in result.meta
        # The workflow engine's entry point: every choice goes to the reliable tool.
        assert {host.choose_tool("compute", user_id="ada").name for _ in range(20)} == {"reliable"}
        decision = history_of(host).router.decisions[-1]
        assert decision.chosen == "reliable" and decision.propensity == 1.0  # flaky's circuit is open


async def test_stats_failures_preferences_and_rating_a_call(running_host, cfg, mode):
    async with (
        running_host(extra={"compute": Compute()}, cfg=cfg()) as host,
        Client(PlugyardServer(host), mode=mode) as client,
    ):
        ok = await client.call_tool("reliable", {"x": 1})
        await client.call_tool("reliable", {"x": 2})
        bad = await client.call_tool("flaky", {"x": 3})
        stats = (await client.call_tool("tool_stats", {"days": 7})).structured_content["tools"]
        by_tool = {s["tool_name"]: s for s in stats}
        assert (by_tool["reliable"]["calls"], by_tool["reliable"]["success_rate"]) == (2, 1.0)
        assert by_tool["flaky"]["top_errors"] == [{"error_type": "RuntimeError", "count": 1}]
        failures = (await client.call_tool("recent_failures", {})).structured_content["failures"]
        assert [f["call_id"] for f in failures] == [bad.meta[CALL_ID_META]]
        assert failures[0]["error_message"] == "RuntimeError: the backend is down"
        rated = await client.call_tool("rate_tool_call", {"call_id": ok.meta[CALL_ID_META], "score": 5})
        assert rated.structured_content == {
            "call_id": ok.meta[CALL_ID_META],
            "tool": "reliable",
            "score": 5,
            "previous_score": None,
        }
        out_of_range = await client.call_tool("rate_tool_call", {"call_id": ok.meta[CALL_ID_META], "score": 9})
        assert out_of_range.is_error
        preferred = (await client.call_tool("preferred_tools", {})).structured_content["tools"]
        names = [p["tool"] for p in preferred]
        assert names.index("reliable") < names.index("flaky")
        # tool_stats, recent_failures and rate_tool_call were called too: reading the history is no preference.
        assert not set(names) & HISTORY_TOOL_NAMES
        assert preferred[names.index("reliable")]["satisfaction"] > 3


async def test_every_history_tool_shows_only_the_callers_own_data(running_host, cfg, mode):
    async with running_host(extra={"compute": Compute()}, cfg=cfg()) as host:
        bobs = [await host.call_tool("flaky", {"x": 1}, user_id="bob") for _ in range(3)]
        await host.call_tool("reliable", {"x": 1}, user_id="bob")
        async with Client(PlugyardServer(host), mode=mode) as client:
            mine_result = await client.call_tool("mine", {})
            assert mine_result.content[0].text == "ada"
            stats = (await client.call_tool("tool_stats", {})).structured_content["tools"]
            assert [s["tool_name"] for s in stats] == ["mine"]
            assert (await client.call_tool("recent_failures", {})).structured_content["failures"] == []
            preferred = (await client.call_tool("preferred_tools", {})).structured_content["tools"]
            assert {p["tool"] for p in preferred} == {"mine"}
            rated = await client.call_tool("rate_tool_call", {"call_id": bobs[0].call.call_id, "score": 1})
            assert rated.is_error and "of user 'ada'" in rated.content[0].text
            ranked = (await client.call_tool("recommend_tools", {"capability": "compute"})).structured_content
            assert all(t["user_calls"] == 0 for t in ranked["tools"])
            # Figures learned only from bob's calls (his latency, his success rate) are not shown to ada.
            assert all(t["latency_ms"] is None and t["success_mean"] is None for t in ranked["tools"])
            assert all("not shown" in t["reason"] for t in ranked["tools"])
        service = history_of(host).service
        assert [f.user_id for f in await service.get_recent_failed_tools("bob")] == ["bob"] * 3


async def test_rank_tools_orders_the_list_by_preference_with_pins_and_a_cap(running_host, cfg, mode):
    config = cfg(rank_tools=True, max_listed_tools=3, pinned_tools=("whoami",))
    async with running_host(extra={"compute": Compute()}, cfg=config) as host:
        for i in range(6):
            await host.call_tool("reliable", {"x": i})
            await host.call_tool("flaky", {"x": i})
        async with Client(PlugyardServer(host), mode=mode) as client:
            listed = [t.name for t in (await client.list_tools()).tools]
            assert listed[:2] == ["whoami", "reliable"] and len(listed) == 3
            assert (await client.call_tool("flaky", {"x": 1})).is_error  # unlisted tools still answer


async def test_without_rank_tools_the_list_keeps_registration_order(running_host, cfg):
    async with running_host(extra={"compute": Compute()}, cfg=cfg()) as host:
        await host.call_tool("flaky", {"x": 1})
        assert [t.name for t in host.tools_for("ada")] == [t.name for t in host.tools]


def test_the_history_tool_names_are_the_tools_the_history_plugin_registers(make_host):
    host = make_host()
    assert set(host.infos["history"].tools) == HISTORY_TOOL_NAMES
