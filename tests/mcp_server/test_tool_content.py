"""Tools returning every kind of MCP content, still through the recorded pipeline."""

from __future__ import annotations

import base64

import pytest

import plugyard
from plugyard.mcp_server.server import CALL_ID_META
from tests.mcp_server import feature_plugin

pytestmark = pytest.mark.anyio


async def test_content_tools_list_no_output_schema_but_structured_ones_do(plugyard_client):
    tools = {t.name: t for t in (await plugyard_client.list_tools()).tools}
    assert tools["picture"].output_schema is None and tools["mixed"].output_schema is None
    assert tools["weather"].output_schema["properties"]["celsius"]["type"] == "number"
    assert tools["report"].output_schema["required"] == ["city", "celsius"]


async def test_an_image_result_is_an_image_block(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("picture", {})
    [image] = result.content
    assert image.type == "image" and image.mime_type == "image/png"
    assert base64.b64decode(image.data) == feature_plugin.PNG
    call = await plugyard_history.last()
    assert call["tool_name"] == "picture" and call["success"] and call["result_size"] > 0
    assert result.meta[CALL_ID_META] == call["call_id"]


async def test_a_mix_of_text_image_audio_embedded_resource_and_link(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("mixed", {})
    assert [b.type for b in result.content] == ["text", "image", "audio", "resource", "resource_link"]
    text, _, audio, embedded, link = result.content
    assert text.text == "here you go"
    assert base64.b64decode(audio.data) == feature_plugin.WAV and audio.mime_type == "audio/wav"
    assert (
        embedded.resource.uri == "feature://logo.png" and base64.b64decode(embedded.resource.blob) == feature_plugin.PNG
    )
    assert link.uri == "feature://readme" and link.name == "readme"
    assert result.structured_content is None
    assert (await plugyard_history.last())["success"]


async def test_structured_output_and_content_with_structured_output(plugyard_client, plugyard_history):
    weather = await plugyard_client.call_tool("weather", {"city": "Oslo"})
    report = await plugyard_client.call_tool("report", {"city": "Rome"})
    assert weather.structured_content == {"city": "Oslo", "celsius": 21.5}
    assert report.structured_content == {"city": "Rome", "celsius": 19.0}
    assert [b.type for b in report.content] == ["text", "image"] and report.content[0].text == "Rome: sunny"
    calls = await plugyard_history.calls()
    assert [(c["tool_name"], c["success"]) for c in calls] == [("weather", 1), ("report", 1)]


class TextTools:
    @plugyard.hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def greet(name: str) -> str:
            """Plain text."""
            return f"hello {name}"

        def greet_structured(name: str) -> str:
            """Text that asked for structure."""
            return f"hello {name}"

        def count(text: str) -> int:
            """A number: data, so structured."""
            return len(text.split())

        register(greet)
        register(greet_structured, structured_output=True)
        register(count)


@pytest.fixture
def plugyard_plugins() -> dict[str, object]:
    return {"feature": feature_plugin, "text": TextTools()}


async def test_a_str_return_stays_plain_text_unless_the_tool_asks_for_structure(plugyard_client, plugyard_history):
    tools = {t.name: t for t in (await plugyard_client.list_tools()).tools}
    assert tools["greet"].output_schema is None and tools["haiku"].output_schema is None
    assert tools["greet_structured"].output_schema["properties"]["result"]["type"] == "string"
    assert tools["count"].output_schema["properties"]["result"]["type"] == "integer"
    plain = await plugyard_client.call_tool("greet", {"name": "ada"})
    asked = await plugyard_client.call_tool("greet_structured", {"name": "ada"})
    number = await plugyard_client.call_tool("count", {"text": "a b c"})
    assert [b.text for b in plain.content] == ["hello ada"] and plain.structured_content is None
    assert asked.structured_content == {"result": "hello ada"} and asked.content[0].text == "hello ada"
    assert number.structured_content == {"result": 3}
    assert [c["success"] for c in await plugyard_history.calls()] == [1, 1, 1]
