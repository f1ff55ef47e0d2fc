"""Stateless streamable HTTP: what a tool can and cannot ask its client there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CreateMessageResult, TextContent

from plugyard.mcp_server.server import PlugyardServer

pytestmark = pytest.mark.anyio


async def _sample(context: Any, params: Any) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text="quiet pond"), model="m")


@asynccontextmanager
async def stateless_client(server: PlugyardServer, mode: str) -> AsyncIterator[Client]:
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    async with server.session_manager.run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            async with Client(
                streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http),
                mode=mode,
                sampling_callback=_sample,
            ) as client:
                yield client


async def test_a_handshake_client_is_told_stateless_http_cannot_ask_mid_call(plugyard_host, plugyard_history):
    # The client declared sampling at its handshake; the call's own request cannot carry the question.
    async with stateless_client(PlugyardServer(plugyard_host), "legacy") as client:
        result = await client.call_tool("haiku", {"topic": "frogs"})
    assert result.is_error
    text = result.content[0].text
    assert "stateless HTTP cannot ask the MCP client for sampling in the middle of a call" in text
    assert "2025-11-25" in text and "did not declare" not in text
    assert (await plugyard_history.last())["error_type"] == "ClientFeatureUnavailable"


async def test_a_2026_07_28_client_samples_over_stateless_http(plugyard_host):
    async with stateless_client(PlugyardServer(plugyard_host), "auto") as client:
        result = await client.call_tool("haiku", {"topic": "frogs"})
    assert result.content[0].text == "quiet pond"
