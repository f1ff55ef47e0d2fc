"""The MCP face, through the SDK's in-memory client in both protocol modes."""

from __future__ import annotations

import pytest
from mcp import Client

from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from tests.conftest import recorded

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # 2026-07-28 per-request, and the 2025-11-25 handshake desktop clients use


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_tools_are_listed_with_descriptions_and_schemas(running_host, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    sample = {"add", "add_many", "explode", "login", "sleep_sync", "sleep_async", "whoami", "server_pid"}
    history = {"tool_stats", "preferred_tools", "recent_failures", "rate_tool_call", "recommend_tools", "search_tools"}
    assert set(listed) == sample | history
    add = listed["add"]
    assert add.description == "Add two integers."
    assert add.input_schema["required"] == ["a"] and add.input_schema["properties"]["a"]["type"] == "integer"
    assert add.output_schema == {
        "type": "object",
        "properties": {"result": {"title": "Result", "type": "integer"}},
        "required": ["result"],
        "title": "addOutput",
    }
    assert add.annotations.read_only_hint is True
    assert "ctx" not in listed["whoami"].input_schema.get("properties", {})


async def test_a_call_returns_structured_content_and_its_call_id(running_host, db_url, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("add", {"a": 40, "b": 2})
    assert not result.is_error
    assert result.structured_content == {"result": 42}
    [row] = await recorded(db_url)
    assert result.meta[CALL_ID_META] == row["call_id"]
    assert row["success"] == 1 and row["arguments"] == {"a": 40, "b": 2}


async def test_a_pydantic_result_is_structured_and_progress_reaches_the_client(running_host, mode):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("add_many", {"values": [1, 2, 3]}, progress_callback=on_progress)
    assert result.structured_content == {"total": 6, "terms": 3}
    assert seen == [(1, 3, "added 1"), (2, 3, "added 2"), (3, 3, "added 3")]


async def test_a_failing_tool_is_an_mcp_tool_error_with_its_message(running_host, db_url, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("explode", {"message": "no coffee"})
    assert result.is_error
    assert result.content[0].text == "tool 'explode' of plugin 'sample' failed: RuntimeError: no coffee"
    assert (await recorded(db_url))[0]["error_type"] == "RuntimeError"


async def test_invalid_arguments_are_an_mcp_tool_error_and_a_failed_row(running_host, db_url, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("add", {"a": "forty"})
    assert result.is_error
    assert "invalid arguments for tool 'add': a: Input should be a valid integer" in result.content[0].text
    [row] = await recorded(db_url)
    assert row["success"] == 0 and row["error_type"] == "InvalidArguments"


async def test_an_unknown_tool_is_an_error_and_records_nothing(running_host, db_url, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("does_not_exist", {})
    assert result.is_error and "does_not_exist" in result.content[0].text
    assert (await recorded(db_url)) == []


async def test_secrets_in_arguments_are_never_stored(running_host, db_url, mode):
    async with running_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        result = await client.call_tool("login", {"username": "ada", "password": "hunter2"})
    assert result.content[0].text == "hello ada"
    [row] = await recorded(db_url)
    assert row["arguments"] == {"username": "ada", "password": "[REDACTED]"}


async def test_calls_over_one_connection_share_a_session_id(running_host, db_url, mode):
    async with running_host() as host:
        server = PlugyardServer(host)
        async with Client(server, mode=mode) as client:
            await client.call_tool("add", {"a": 1})
            await client.call_tool("whoami", {})
    first, second = await recorded(db_url)
    assert first["session_id"] and first["session_id"] == second["session_id"]
    assert first["user_id"] == host.config.default_user
