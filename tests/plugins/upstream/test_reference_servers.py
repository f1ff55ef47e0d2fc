"""The npm reference servers (everything, filesystem) mounted through plugyard, answered as they answer."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from tests.plugins.upstream.npm import server_script

pytestmark = pytest.mark.anyio

EVERYTHING_TOOLS = {
    "echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference",
    "get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource", "toggle-simulated-logging",
    "toggle-subscriber-updates", "trigger-long-running-operation", "simulate-research-query",
}  # fmt: skip


@pytest.fixture
def upstream_servers(tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node") or "node"
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "hello.txt").write_text("hello from disk\n")
    return {
        "ev": {"command": node, "args": [str(server_script("server-everything"))], "timeout": 20},
        "fs": {"command": node, "args": [str(server_script("server-filesystem")), str(tmp_path / "files")]},
    }


def _direct(upstream_servers: dict[str, Any], name: str) -> Client:
    server = upstream_servers[name]
    return Client(StdioServerParameters(command=server["command"], args=server["args"]))


def _blocks(result: Any) -> list[dict[str, Any]]:
    return [b.model_dump(mode="json", exclude_none=True) for b in result.content]


async def test_every_tool_of_the_everything_server_is_listed(plugyard_client):
    names = {t.name for t in (await plugyard_client.list_tools()).tools}
    assert {f"ev_{n}" for n in EVERYTHING_TOOLS} <= names


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("echo", {"message": "hi there"}),
        ("get-sum", {"a": 2, "b": 40}),
        ("get-tiny-image", {}),
        ("get-resource-links", {"count": 3}),
        ("get-annotated-message", {"messageType": "error", "includeImage": True}),
    ],
)
async def test_calls_are_answered_as_the_upstream_answers_them(
    plugyard_client, plugyard_history, upstream_servers, tool, arguments
):
    proxied = await plugyard_client.call_tool(f"ev_{tool}", arguments)
    async with _direct(upstream_servers, "ev") as direct:
        expected = await direct.call_tool(tool, arguments)
    assert _blocks(proxied) == _blocks(expected) and proxied.is_error == expected.is_error
    call = await plugyard_history.last()
    assert call["tool_name"] == f"ev_{tool}" and call["source"] == "ev" and call["success"]
    assert proxied.meta[CALL_ID_META] == call["call_id"]


async def test_structured_content_passes_through_with_its_output_schema(plugyard_client):
    tools = {t.name: t for t in (await plugyard_client.list_tools()).tools}
    assert set(tools["ev_get-structured-content"].output_schema["properties"]) == {
        "temperature",
        "conditions",
        "humidity",
    }
    result = await plugyard_client.call_tool("ev_get-structured-content", {"location": "Chicago"})
    assert set(result.structured_content) == {"temperature", "conditions", "humidity"} and not result.is_error


async def test_its_prompts_and_resources_are_served(plugyard_client):
    prompts = {p.name for p in (await plugyard_client.list_prompts()).prompts}
    assert {"ev_simple-prompt", "ev_args-prompt"} <= prompts
    rendered = await plugyard_client.get_prompt("ev_args-prompt", {"city": "Paris"})
    assert "Paris" in rendered.messages[0].content.text
    resources = (await plugyard_client.list_resources()).resources
    assert resources and all(r.name.startswith("ev_") for r in resources if str(r.uri).startswith("demo://"))
    first = next(r for r in resources if str(r.uri).startswith("demo://"))
    read = await plugyard_client.read_resource(str(first.uri))
    assert read.contents
    templates = {t.uri_template for t in (await plugyard_client.list_resource_templates()).resource_templates}
    assert "demo://resource/dynamic/text/{resourceId}" in templates
    text = await plugyard_client.read_resource("demo://resource/dynamic/text/1")
    assert "1" in text.contents[0].text


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_its_progress_and_log_notifications_reach_the_client(plugyard_host):
    logs: list[Any] = []
    progress: list[tuple[float, float | None]] = []

    async def on_log(params: Any) -> None:
        logs.append(params)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async with Client(PlugyardServer(plugyard_host), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("debug")
        result = await client.call_tool(
            "ev_trigger-long-running-operation", {"duration": 0.3, "steps": 3}, progress_callback=on_progress
        )
        assert "Steps: 3" in result.content[0].text
        assert progress == [(1, 3), (2, 3), (3, 3)]
        await client.call_tool("ev_toggle-simulated-logging", {})
        with anyio.fail_after(8):
            while not logs:
                await anyio.sleep(0.05)
        await client.call_tool("ev_toggle-simulated-logging", {})
    assert "message" in str(logs[0].data)


async def test_the_filesystem_server_reads_inside_its_folder_and_refuses_outside(
    plugyard_client, plugyard_history, tmp_path
):
    tools = {t.name for t in (await plugyard_client.list_tools()).tools}
    assert {"fs_read_text_file", "fs_list_directory", "fs_write_file"} <= tools
    read = await plugyard_client.call_tool("fs_read_text_file", {"path": str(tmp_path / "files" / "hello.txt")})
    assert not read.is_error and read.content[0].text == "hello from disk\n"
    outside = await plugyard_client.call_tool("fs_read_text_file", {"path": "/etc/hostname"})
    assert outside.is_error, outside
    assert "outside allowed directories" in outside.content[0].text, outside.content[0].text
    rows = await plugyard_history.calls(tool_name="fs_read_text_file")
    assert [(r["success"], r["error_type"]) for r in rows] == [(True, None), (False, "ToolResultError")]


async def test_argument_completion_is_asked_of_the_upstream(plugyard_client):
    from mcp.types import PromptReference

    ref = PromptReference(type="ref/prompt", name="ev_completable-prompt")
    departments = await plugyard_client.complete(ref, {"name": "department", "value": "S"})
    assert departments.completion.values == ["Sales", "Support"]
    names = await plugyard_client.complete(ref, {"name": "name", "value": ""}, {"department": "Engineering"})
    assert names.completion.values == ["Alice", "Bob", "Charlie"]
