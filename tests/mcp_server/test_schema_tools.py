"""Tools registered from a JSON schema, raw results forwarded as they are, and re-registration while serving."""

from __future__ import annotations

from typing import Any

import pytest

import plugyard
from plugyard.core.config import Config
from plugyard.core.host import PluginHost
from plugyard.mcp_server.server import CALL_ID_META

pytestmark = pytest.mark.anyio

SCHEMA_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            "required": ["city"],
        },
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "odd-key": {"type": "integer"},
    },
    "required": ["name"],
    "additionalProperties": False,
}
OUTPUT = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"]}


class SchemaPlugin:
    """Tools whose shape is known only at run time, as a relaying plugin has them."""

    def __init__(self) -> None:
        self.extra: list[str] = []
        self.host: PluginHost | None = None

    @plugyard.hookimpl
    def startup(self, host: PluginHost) -> None:
        self.host = host

    @plugyard.hookimpl
    def register_tools(self, register: Any) -> None:
        def greet(arguments: dict[str, Any]) -> dict[str, Any]:
            return {"greeting": f"hello {arguments['name']} ({arguments.get('odd-key', 0)})"}

        async def relay(arguments: dict[str, Any], ctx: plugyard.ToolContext) -> plugyard.RawResult:
            await ctx.report_progress(1, 1)
            if arguments.get("fail"):
                return plugyard.RawResult(content=[{"type": "text", "text": "upstream says no"}], is_error=True)
            return plugyard.RawResult(
                content=[
                    {"type": "text", "text": "raw"},
                    {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
                    {"type": "resource_link", "uri": "test://x", "name": "x"},
                    {"type": "resource", "resource": {"uri": "test://y", "text": "why", "mimeType": "text/plain"}},
                ],
                structured={"n": 1},
                meta={"upstream/hint": "kept"},
            )

        register(greet, input_schema=SCHEMA_2020, output_schema=OUTPUT, source="elsewhere")
        register(
            relay,
            input_schema={"type": "object", "properties": {"fail": {"type": "boolean"}}},
            read_only=True,
        )
        for name in self.extra:
            register(lambda arguments, name=name: name, name=name, input_schema={"type": "object"})


@pytest.fixture
def schema_plugin() -> SchemaPlugin:
    return SchemaPlugin()


@pytest.fixture
def plugyard_plugins(schema_plugin: SchemaPlugin) -> dict[str, object]:
    return {"schemas": schema_plugin}


async def test_the_input_schema_is_published_as_given_with_its_dollar_schema(plugyard_client):
    tools = {t.name: t for t in (await plugyard_client.list_tools()).tools}
    assert tools["greet"].input_schema == SCHEMA_2020
    assert tools["greet"].output_schema == OUTPUT
    assert tools["relay"].annotations.read_only_hint is True


async def test_arguments_are_validated_by_json_schema_and_handed_over_whole(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("greet", {"name": "ada", "odd-key": 3})
    assert not result.is_error
    assert result.structured_content == {"greeting": "hello ada (3)"}
    call = await plugyard_history.last()
    assert call["tool_name"] == "greet" and call["success"] and call["source"] == "elsewhere"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({}, "'name' is a required property"),
        ({"name": ""}, "name: '' should be non-empty"),
        ({"name": "a", "address": {"street": "x"}}, "address: 'city' is a required property"),
        ({"name": "a", "tags": ["x", "x"]}, "tags: ['x', 'x'] has non-unique elements"),
        ({"name": "a", "more": 1}, "Additional properties are not allowed ('more' was unexpected)"),
    ],
)
async def test_bad_arguments_are_refused_naming_the_problem_and_recorded(
    plugyard_client, plugyard_history, arguments, says
):
    result = await plugyard_client.call_tool("greet", arguments)
    assert result.is_error
    assert "invalid arguments for tool 'greet'" in result.content[0].text and says in result.content[0].text
    call = await plugyard_history.last()
    assert call["error_type"] == "InvalidArguments" and not call["success"]


async def test_a_raw_result_reaches_the_client_unchanged(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("relay", {})
    assert [b.type for b in result.content] == ["text", "image", "resource_link", "resource"]
    assert result.content[1].data == "iVBORw0KGgo=" and result.content[3].resource.text == "why"
    assert result.structured_content == {"n": 1} and not result.is_error
    assert result.meta["upstream/hint"] == "kept"
    call = await plugyard_history.last()
    assert result.meta[CALL_ID_META] == call["call_id"] and call["success"]


async def test_a_raw_error_result_stays_a_tool_error_and_is_recorded_as_a_failure(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("relay", {"fail": True})
    assert result.is_error and [b.text for b in result.content] == ["upstream says no"]
    call = await plugyard_history.last()
    assert not call["success"] and call["error_type"] == "ToolResultError"
    assert call["error_message"] == "upstream says no"


async def test_reregistering_replaces_the_plugins_tools_and_clients_see_them(
    plugyard_client, plugyard_host, schema_plugin
):
    before = {t.name for t in (await plugyard_client.list_tools()).tools}
    assert "late" not in before
    schema_plugin.extra.append("late")
    await plugyard_host.reregister("schemas")
    after = {t.name for t in (await plugyard_client.list_tools(cache_mode="refresh")).tools}
    assert after == before | {"late"}
    result = await plugyard_client.call_tool("late", {})
    assert result.content[0].text == "late"
    schema_plugin.extra.clear()
    await plugyard_host.reregister("schemas")
    assert "late" not in {t.name for t in (await plugyard_client.list_tools(cache_mode="refresh")).tools}


def _host_with(register_tools: Any) -> PluginHost:
    class Plugin:
        pass

    plugin = Plugin()
    plugin.register_tools = plugyard.hookimpl(register_tools)  # type: ignore[attr-defined]
    return PluginHost(Config(), entry_points=False, plugins={"broken": plugin}).load()


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"type": "object", "properties": {"a": {"type": "nonsense"}}}, "input_schema is not a valid JSON schema"),
        ({"type": "string"}, 'input_schema must describe an object ("type": "object")'),
        ([1], "input_schema must be a JSON schema object"),
    ],
)
def test_a_bad_schema_fails_the_plugins_registration_naming_the_tool(schema, says):
    host = _host_with(lambda register: register(lambda arguments: 1, name="t", input_schema=schema))
    info = host.infos["broken"]
    assert info.status == "failed" and "tool 't'" in info.error and says in info.error


def test_a_schema_tool_takes_its_arguments_as_one_parameter():
    host = _host_with(lambda register: register(lambda a, b: 1, name="t", input_schema={"type": "object"}))
    assert "takes the arguments as one mapping" in host.infos["broken"].error


async def test_reregistering_keeps_a_startup_hooks_error_and_finds_clashes_afresh():
    class Owner:
        @plugyard.hookimpl
        def register_tools(self, register):
            register(lambda: "mine", name="taken")

    class Changing:
        def __init__(self) -> None:
            self.names = ["taken", "free"]

        @plugyard.hookimpl
        def register_tools(self, register):
            for name in self.names:
                register(lambda said=name: said, name=name)

        @plugyard.hookimpl
        def startup(self, host):
            raise RuntimeError("no token")

    changing = Changing()
    host = PluginHost(Config(), entry_points=False, plugins={"a_owner": Owner(), "changing": changing})
    async with host.running():
        info = host.infos["changing"]
        assert "startup raised RuntimeError: no token" in info.error and "'taken'" in info.error
        changing.names = ["free"]  # the clash is gone; the startup error is not
        await host.reregister("changing")
        assert info.error == "startup raised RuntimeError: no token"
        assert "clashes" not in info.as_dict()
