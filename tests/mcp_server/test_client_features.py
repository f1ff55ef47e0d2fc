"""Progress, log messages, sampling and elicitation from a plugin tool, on both protocol versions.

What works where (pinned here):
- progress: both versions.
- log messages: 2025-11-25 sessions get every level until ``logging/setLevel`` raises the floor;
  2026-07-28 requests get only what they opted in to (``Client(log_level=...)``), none otherwise.
- sampling and elicitation: 2025-11-25 mid-call requests; 2026-07-28 input-required rounds (the
  tool runs again with the answer, each run recorded; the one that asked has error_type InputRequired).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import CreateMessageResult, ElicitResult, TextContent

from plugyard.mcp_server.server import PlugyardServer

pytestmark = pytest.mark.anyio


async def test_progress_reaches_the_client(plugyard_client, plugyard_history):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await plugyard_client.call_tool("chatty", {"steps": 3}, progress_callback=on_progress)
    assert result.content[0].text == "done"
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert (await plugyard_history.last())["success"]


# The client's logging/setLevel is marked deprecated at 2026-07-28; handshake-era clients still send it.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_log_messages_follow_the_level_the_client_chose(plugyard_host, plugyard_client_mode):
    received: list[tuple[str, Any, str | None]] = []

    async def on_log(params: Any) -> None:
        received.append((params.level, params.data, params.logger))

    legacy = plugyard_client_mode == "legacy"
    options: dict[str, Any] = {} if legacy else {"log_level": "info"}
    async with Client(
        PlugyardServer(plugyard_host), mode=plugyard_client_mode, logging_callback=on_log, **options
    ) as client:
        assert client.server_capabilities.logging is not None
        if legacy:
            await client.set_logging_level("info")
        await client.call_tool("chatty", {"steps": 2})
    assert received == [("info", "did step 1", "feature"), ("info", "did step 2", "feature")]


async def test_no_log_opt_in_on_2026_07_28_means_no_log_messages(plugyard_host):
    received: list[Any] = []

    async def on_log(params: Any) -> None:
        received.append(params)

    async with Client(PlugyardServer(plugyard_host), logging_callback=on_log) as client:
        await client.call_tool("chatty", {"steps": 1})
    assert received == []


async def test_sampling_asks_the_clients_model(plugyard_host, plugyard_client_mode, plugyard_history):
    asked: list[str] = []

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="quiet pond"), model="m")

    async with Client(PlugyardServer(plugyard_host), mode=plugyard_client_mode, sampling_callback=sample) as client:
        result = await client.call_tool("haiku", {"topic": "frogs"})
    assert result.content[0].text == "quiet pond"
    assert asked == ["A haiku about frogs"]
    calls = [(c["success"], c["error_type"]) for c in await plugyard_history.calls(tool_name="haiku")]
    assert calls == ([(1, None)] if plugyard_client_mode == "legacy" else [(0, "InputRequired"), (1, None)])


async def test_elicitation_asks_the_user_twice(plugyard_host, plugyard_client_mode, plugyard_history):
    questions: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"ok": True, "name": "ada"})

    async with Client(PlugyardServer(plugyard_host), mode=plugyard_client_mode, elicitation_callback=elicit) as client:
        result = await client.call_tool("sign_up", {})
    assert result.content[0].text == "signed up ada"
    assert questions == ["Proceed?", "Really sign up ada?"]
    calls = [c["error_type"] for c in await plugyard_history.calls(tool_name="sign_up")]
    assert calls == ([None] if plugyard_client_mode == "legacy" else ["InputRequired", "InputRequired", None])


async def test_a_declined_elicitation_reaches_the_tool(plugyard_host, plugyard_client_mode):
    async def decline(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    async with Client(PlugyardServer(plugyard_host), mode=plugyard_client_mode, elicitation_callback=decline) as client:
        result = await client.call_tool("sign_up", {})
    assert result.content[0].text == "stopped: decline"


async def test_without_the_capability_the_tool_gets_a_clear_error(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("haiku", {"topic": "frogs"})
    assert result.is_error and "did not declare the sampling capability" in result.content[0].text
    assert (await plugyard_history.last())["error_type"] == "ClientFeatureUnavailable"
