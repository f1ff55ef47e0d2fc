"""Tool search over real MCP sessions: what follows a search teaches it (a call, a failure, a skip),
the events are stored (query redacted) and learnt again after a restart, each user's history shapes
only their own ranking, replicas share what they learn, and the index follows the registry."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from plugyard import hookimpl
from plugyard.core.config import Config
from plugyard.core.host import PluginHost
from plugyard.core.reload import HostReloader
from plugyard.core.tools import build_tool
from plugyard.history.db import create_engine
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.search_store import search_figures
from plugyard.mcp_server.server import PlugyardServer
from tests.conftest import query

pytestmark = pytest.mark.anyio

QUERY = "weather forecast for tomorrow"


def forecast(city: str) -> str:
    """Weather forecast for a city: temperature and rain for the next days."""
    return f"sunny in {city}"


def weather_alerts(region: str) -> str:
    """Severe weather warnings and forecast alerts for a region."""
    raise RuntimeError("the alerts service is down")


def weather_history(city: str) -> str:
    """Past weather records of a city (not a forecast)."""
    return "it rained"


def read_file(path: str) -> str:
    """Read a text file."""
    return "text"


class Weather:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(forecast)
        register(weather_alerts)
        register(weather_history)
        register(read_file)


def make(config: Config, **settings: object) -> PluginHost:
    server = config.server.model_copy(update={"default_user": "ada", **settings})
    cfg = config.model_copy(update={"server": server})
    return PluginHost(cfg, strict=True, entry_points=False, plugins={"history": HistoryPlugin(), "weather": Weather()})


def search_of(host: PluginHost) -> object:
    plugin = host.get_plugin("history")
    assert isinstance(plugin, HistoryPlugin)
    return plugin.search


def found(result) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    assert not result.is_error, result.content
    return {t["name"]: t for t in result.structured_content["tools"]}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_a_failure_and_a_skip_after_a_search_each_teach_it(config, db_url, mode):
    host = make(config)
    async with host.running(), Client(PlugyardServer(host), mode=mode) as client:
        cold = found(await client.call_tool("search_tools", {"query": QUERY, "limit": 5}))
        assert {"forecast", "weather_alerts", "weather_history"} <= set(cold)
        assert "read_file" not in cold
        entry = cold["forecast"]
        assert entry["inputSchema"]["required"] == ["city"] and "matches 'weather'" in entry["why"]
        # A success, a failure (the tool's fault); weather_history is shown and never called.
        assert not (await client.call_tool("forecast", {"city": "Paris"})).is_error
        assert (await client.call_tool("weather_alerts", {"region": "north"})).is_error
        warm = found(await client.call_tool("search_tools", {"query": QUERY, "limit": 5}))
        assert warm["forecast"]["score"] > cold["forecast"]["score"]
        assert warm["weather_alerts"]["score"] < cold["weather_alerts"]["score"]
        assert warm["weather_history"]["score"] < cold["weather_history"]["score"]
        assert "you chose it after 1 search like this" in warm["forecast"]["why"]
        assert "you used it 1 time, 1 succeeded" in warm["forecast"]["why"]
        assert next(iter(warm)) == "forecast"
        await search_of(host).sync()
    [event, _open_then_closed] = await query(db_url, "SELECT * FROM search_event ORDER BY id")
    assert event["query"] == QUERY and event["called_tool"] == "forecast" and event["hit"]
    outcomes = event["outcomes"] if isinstance(event["outcomes"], list) else json.loads(event["outcomes"])
    assert [(o["tool"], o["success"]) for o in outcomes] == [("forecast", True), ("weather_alerts", False)]
    # The call ids are those of the recorded calls.
    calls = await query(db_url, "SELECT call_id, tool_name FROM tool_call WHERE tool_name != 'search_tools'")
    assert [o["call_id"] for o in outcomes] == [c["call_id"] for c in calls]
    engine = create_engine(db_url)
    figures = await search_figures(engine)
    await engine.dispose()
    assert (figures.searches, figures.hits, figures.followed) == (2, 1, 1)


async def test_what_was_learnt_survives_a_restart_and_the_query_is_stored_redacted(config, db_url):
    secret_query = "weather forecast token=abc123 for tomorrow"
    first = make(config)
    async with first.running():
        await first.call_tool("search_tools", {"query": secret_query}, session_id="s1")
        await first.call_tool("forecast", {"city": "Oslo"}, session_id="s1")
        await first.call_tool("search_tools", {"query": "read a file"}, session_id="s1")  # resolves the first
        before = search_of(first).find(QUERY, "ada")  # ranks without opening a search
    [stored, _second] = await query(db_url, "SELECT query FROM search_event ORDER BY id")
    assert stored["query"] == "weather forecast token=[REDACTED] for tomorrow"
    second = make(config)
    async with second.running():
        after = search_of(second).find(QUERY, "ada")
        assert search_of(second).learnt_from == 2
    assert [(h.name, h.why()) for h in after] == [(h.name, h.why()) for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before])
    assert "you chose it after 1 search like this" in after[0].why()


def found_of(outcome) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    assert outcome.success, outcome.error_message
    return {t["name"]: t for t in outcome.result.structured["tools"]}


async def test_a_users_history_shapes_only_their_own_ranking_beyond_everyones_counts(config, db_url):
    host = make(config)
    async with host.running():
        cold = found_of(await host.call_tool("search_tools", {"query": QUERY}, user_id="bob", session_id="b0"))
        for i in range(3):
            await host.call_tool("search_tools", {"query": QUERY}, user_id="ada", session_id=f"a{i}")
            await host.call_tool("weather_history", {"city": "Rome"}, user_id="ada", session_id=f"a{i}")
        ada = found_of(await host.call_tool("search_tools", {"query": QUERY}, user_id="ada", session_id="a9"))
        bob = found_of(await host.call_tool("search_tools", {"query": QUERY}, user_id="bob", session_id="b1"))
    assert next(iter(ada)) == "weather_history"
    assert "you chose it after 3 searches" in ada["weather_history"]["why"]
    assert "you used it 3 times, 3 succeeded" in ada["weather_history"]["why"]
    # Bob's view moved only through everyone's counts: nothing of Ada's is said to be his.
    assert "you" not in bob["weather_history"]["why"]
    assert cold["weather_history"]["score"] < bob["weather_history"]["score"] < ada["weather_history"]["score"]


async def test_two_replicas_on_one_database_learn_from_each_others_searches(config, db_url):
    a, b = make(config), make(config)
    async with a.running(), b.running():
        before = found_of(await b.call_tool("search_tools", {"query": QUERY}, session_id="b"))
        await a.call_tool("search_tools", {"query": QUERY}, session_id="a")
        await a.call_tool("weather_history", {"city": "Rome"}, session_id="a")
        # Nothing of A's is stored yet (its search is still open): what B knew so far.
        b_knew = search_of(b).learnt_from
        await a.call_tool("search_tools", {"query": "read a file"}, session_id="a")  # resolves the first
        await search_of(a).sync()
        a_knew = search_of(a).learnt_from
        # B's own poll (this one, or its background one meanwhile) learns A's search, once.
        await search_of(b).sync()
        await search_of(b).sync()
        assert search_of(b).learnt_from == b_knew + 1
        after = found_of(await b.call_tool("search_tools", {"query": QUERY}, session_id="b2"))
        # A's own rows, polled back, are not learnt twice.
        await search_of(a).sync()
        assert search_of(a).learnt_from == a_knew
    assert after["weather_history"]["score"] > before["weather_history"]["score"]


async def test_the_index_follows_the_registry_and_a_reload_that_disables_a_plugin(config):
    host = make(config)
    async with host.running():
        assert "forecast" in found_of(await host.call_tool("search_tools", {"query": QUERY}))

        def umbrella(city: str) -> str:
            """Tell whether to take an umbrella (rain forecast)."""
            return "yes"

        host.tools.add(build_tool(umbrella, plugin="weather"))
        assert "umbrella" in found_of(await host.call_tool("search_tools", {"query": "umbrella rain"}))
        host.tools.remove("umbrella")
        assert found_of(await host.call_tool("search_tools", {"query": "umbrella"})) == {}

    disabled = config.model_copy(update={"plugins": config.plugins.model_copy(update={"disabled": ("weather",)})})
    configs = [config, disabled]
    reloader = HostReloader(lambda: make(configs.pop(0)).load())
    async with reloader.running():
        assert "forecast" in found_of(await reloader.host.call_tool("search_tools", {"query": QUERY}))
        result = await reloader.reload()
        assert result.reloaded, result.error
        assert "forecast" in result.removed
        assert found_of(await reloader.host.call_tool("search_tools", {"query": QUERY})) == {}
