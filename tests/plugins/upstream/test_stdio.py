"""A Python MCP server over stdio, mounted: its tools, resources and prompts served and recorded."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["auto", "legacy"])
def plugyard_client_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_the_upstreams_tools_are_listed_under_its_prefix_with_schemas_and_annotations(plugyard_client):
    tools = {t.name: t for t in (await plugyard_client.list_tools()).tools}
    assert {"fx_add", "fx_echo", "fx_refuse", "fx_chatty", "fx_crash", "fx_grow"} <= set(tools)
    add = tools["fx_add"]
    assert add.description == "Add a and b."
    assert add.input_schema["required"] == ["a", "b"] and add.input_schema["properties"]["a"]["type"] == "integer"
    assert add.output_schema["properties"]["total"]["type"] == "integer"
    assert add.annotations.read_only_hint is True and add.annotations.title == "Add two numbers"
    assert add.meta["plugyard/plugin"] == "upstream"


async def test_a_call_is_answered_as_the_upstream_answers_and_recorded_with_its_server(
    plugyard_client, plugyard_history
):
    result = await plugyard_client.call_tool("fx_add", {"a": 2, "b": 3})
    assert not result.is_error and result.structured_content == {"total": 5}
    call = await plugyard_history.last()
    assert call["tool_name"] == "fx_add" and call["plugin_name"] == "upstream" and call["source"] == "fx"
    assert call["success"] and call["arguments"] == {"a": 2, "b": 3}


async def test_arguments_are_checked_against_the_upstreams_schema_before_it_is_asked(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("fx_add", {"a": "two", "b": 3})
    assert result.is_error and "a: 'two' is not of type 'integer'" in result.content[0].text
    call = await plugyard_history.last()
    assert call["error_type"] == "InvalidArguments" and call["source"] == "fx"


async def test_an_upstream_tool_error_stays_a_tool_error(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("fx_refuse", {"reason": "not today"})
    assert result.is_error and "not today" in result.content[0].text
    call = await plugyard_history.last()
    assert not call["success"] and call["error_type"] == "ToolResultError" and "not today" in call["error_message"]


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_progress_and_log_messages_reach_the_client(plugyard_host):
    from mcp import Client

    from plugyard.mcp_server.server import PlugyardServer

    logs, progress = [], []

    async def on_log(params):
        logs.append(params.data)

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async with Client(PlugyardServer(plugyard_host), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("debug")
        result = await client.call_tool("fx_chatty", {"steps": 2}, progress_callback=on_progress)
    assert result.content[0].text == "2 steps"
    assert progress == [(1, 2, "step 1"), (2, 2, "step 2")]
    assert "chatty is done" in logs


async def test_resources_templates_and_prompts_are_served(plugyard_client):
    resources = {r.name: r for r in (await plugyard_client.list_resources()).resources}
    assert str(resources["fx_readme"].uri) == "fixture://readme"
    read = await plugyard_client.read_resource("fixture://readme")
    assert read.contents[0].text == "read me"
    templates = {t.name: t for t in (await plugyard_client.list_resource_templates()).resource_templates}
    assert templates["fx_item"].uri_template == "fixture://items/{item}"
    assert (await plugyard_client.read_resource("fixture://items/7")).contents[0].text == "item 7"
    # The upstream gets the URI as the client sent it (plugyard decodes template values; they go back
    # encoded), so it answers as it does when called directly: its SDK decodes "a%2Fb" to "a/b" itself.
    for sent, value in (("fixture://items/a%20b", "a b"), ("fixture://items/a%2Fb", "a/b")):
        assert (await plugyard_client.read_resource(sent)).contents[0].text == f"item {value}"
    prompts = {p.name: p for p in (await plugyard_client.list_prompts()).prompts}
    assert {a.name: a.required for a in prompts["fx_review"].arguments} == {"code": True, "language": False}
    rendered = await plugyard_client.get_prompt("fx_review", {"code": "x = 1"})
    assert rendered.messages[0].content.text == "Review this python: x = 1"


async def test_capabilities_let_the_router_choose_an_upstream_tool(plugyard_host):
    assert plugyard_host.choose_tool("arithmetic", user_id="u").name == "fx_add"


async def test_the_health_report_shows_each_upstreams_state_and_tool_count(plugyard_host):
    from plugyard.core import health

    report = (await health.check(plugyard_host)).as_dict()
    fx = report["reports"]["upstream"]["upstreams"]["fx"]
    assert fx["state"] == "ready" and fx["tools"] == 10 and fx["transport"] == "stdio" and fx["last_error"] is None


async def test_plugyard_plugins_shows_what_the_running_server_last_saw(plugyard_host, upstream_plugin):
    import anyio

    from plugyard.core.host import PluginHost

    # `plugyard plugins` loads a second host and starts nothing: the state comes from the file.
    other = PluginHost(plugyard_host.config, entry_points=False, plugins={"upstream": type(upstream_plugin)()}).load()
    [(_, state_of)] = list(other.implementations("plugin_state"))
    with anyio.fail_after(10):
        while state_of(host=other)["upstreams"]["fx"]["state"] != "ready":
            await anyio.sleep(0.1)
    shown = state_of(host=other)
    assert shown["upstreams"]["fx"]["state"] == "ready" and shown["upstreams"]["fx"]["tools"] == 10
    assert shown["server_pid"] is not None


async def test_sampling_and_elicitation_from_the_upstream_reach_a_handshake_era_client(plugyard_host):
    from mcp import Client
    from mcp.types import CreateMessageResult, ElicitResult, TextContent

    from plugyard.mcp_server.server import PlugyardServer

    asked: list[str] = []

    async def sample(_context, params):
        asked.append(params.messages[0].content.text)
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="42"), model="m")

    async def elicit(_context, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"ok": True})

    async with Client(
        PlugyardServer(plugyard_host), mode="legacy", sampling_callback=sample, elicitation_callback=elicit
    ) as client:
        assert (await client.call_tool("fx_ask", {})).content[0].text == "the model says 42"
        assert (await client.call_tool("fx_proceed", {})).content[0].text == "ok=True"
    assert asked == ["Six times seven?", "Proceed?"]


async def test_sampling_without_a_client_that_can_is_the_upstreams_error(plugyard_client):
    result = await plugyard_client.call_tool("fx_ask", {})
    assert result.is_error
