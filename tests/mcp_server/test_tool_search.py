"""``[server] tool_search``: what tools/list shows, and ``call_tool`` running any tool as itself,
through a real MCP session in both protocol modes."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from plugyard import hookimpl
from plugyard.core.config import Config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from tests.conftest import recorded

pytestmark = pytest.mark.anyio


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def explode() -> str:
    """Always fails."""
    raise ValueError("boom")


def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


class Small:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(add)
        register(explode)
        register(shout)


def host_with(config: Config, *, history: bool = True, **server: Any) -> PluginHost:
    cfg = config.model_copy(update={"server": config.server.model_copy(update=server)})
    plugins: dict[str, object] = {"small": Small()}
    if history:
        plugins["history"] = HistoryPlugin()
    return PluginHost(cfg, strict=True, entry_points=False, plugins=plugins)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def listed(client: Client) -> list[str]:
    return [t.name for t in (await client.list_tools()).tools]


async def test_on_lists_the_pinned_tools_the_search_and_call_tool_and_hidden_tools_stay_callable(config, db_url, mode):
    host = host_with(config, tool_search="on", pinned_tools=("shout",))
    async with host.running(), Client(PlugyardServer(host), mode=mode) as client:
        assert await listed(client) == ["shout", "search_tools", "call_tool"]
        [proxy] = [t for t in (await client.list_tools()).tools if t.name == "call_tool"]
        assert proxy.input_schema["required"] == ["name"]
        # Hidden, yet callable by name.
        direct = await client.call_tool("add", {"a": 1, "b": 2})
        assert direct.structured_content == {"result": 3}
        # Through the proxy: the tool's own result and structured content, recorded as that tool.
        proxied = await client.call_tool("call_tool", {"name": "add", "arguments": {"a": 2, "b": 5}})
        assert not proxied.is_error and proxied.structured_content == {"result": 7}
        failed = await client.call_tool("call_tool", {"name": "explode"})
        assert failed.is_error and "boom" in failed.content[0].text
        invalid = await client.call_tool("call_tool", {"name": "add", "arguments": {"a": "x"}})
        assert invalid.is_error and "invalid arguments for tool 'add'" in invalid.content[0].text
        unknown = await client.call_tool("call_tool", {"name": "nope"})
        assert unknown.is_error and "unknown tool 'nope'" in unknown.content[0].text
        malformed = await client.call_tool("call_tool", {"arguments": {}})
        assert malformed.is_error and "needs 'name'" in malformed.content[0].text
        await host.get_plugin("history").recorder.flush()  # type: ignore[union-attr]
    rows = await recorded(db_url)
    assert [(r["tool_name"], r["plugin_name"], bool(r["success"])) for r in rows] == [
        ("add", "small", True),
        ("add", "small", True),
        ("explode", "small", False),
        ("add", "small", False),
    ]
    assert rows[1]["call_id"] == proxied.meta[CALL_ID_META]
    assert rows[3]["error_type"] == "InvalidArguments"


async def test_auto_turns_on_above_the_threshold_only(config, mode):
    above = host_with(config, tool_search_threshold=3)  # 3 small tools + 6 history tools
    async with above.running(), Client(PlugyardServer(above), mode=mode) as client:
        assert await listed(client) == ["search_tools", "call_tool"]
    below = host_with(config, tool_search_threshold=40)
    async with below.running(), Client(PlugyardServer(below), mode=mode) as client:
        names = await listed(client)
        assert {"add", "explode", "shout", "search_tools"} <= set(names) and "call_tool" not in names


async def test_off_or_no_search_tool_lists_everything(config):
    off = host_with(config, tool_search="off", tool_search_threshold=0)
    async with off.running(), Client(PlugyardServer(off)) as client:
        assert "add" in await listed(client) and "call_tool" not in await listed(client)
    # "on" with no plugin registering a search would hide tools nobody could find: everything is listed.
    blind = host_with(config, history=False, tool_search="on")
    async with blind.running(), Client(PlugyardServer(blind)) as client:
        assert await listed(client) == ["add", "explode", "shout"]


async def test_a_search_then_a_call_through_the_proxy_is_learnt_as_the_tool(config, db_url):
    host = host_with(config, tool_search="on", default_user="ada")
    async with host.running(), Client(PlugyardServer(host)) as client:
        first = await client.call_tool("search_tools", {"query": "upper-case my text"})
        assert [t["name"] for t in first.structured_content["tools"]] == ["shout"]
        await client.call_tool("call_tool", {"name": "shout", "arguments": {"text": "hi"}})
        again = await client.call_tool("search_tools", {"query": "upper-case my text"})
        assert "you chose it after 1 search like this" in again.structured_content["tools"][0]["why"]
        assert "1. shout" in again.content[0].text
