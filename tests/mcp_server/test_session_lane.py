"""The session lane (session_lane.py): a session's tools/call POSTs answered past the SDK's transport, as the SDK
answers them, resumable streams included."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from plugyard.core.auth import TokenTable
from plugyard.mcp_server import _sdk
from plugyard.mcp_server.auth import auth_options
from plugyard.mcp_server.events import MemoryEventStore, scope_sessions
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from plugyard.mcp_server.session_lane import SessionLane
from tests.mcp_server.test_http_lane import (
    CALLS,
    HEADERS,
    URL,
    assert_the_same_answer,
    body_then_silence,
    call,
    raw_headers,
)

pytestmark = pytest.mark.anyio

VERSION = "2025-11-25"


class Session:
    """One client's session on a stateful app; ``lane`` is the app's session lane."""

    def __init__(self, server: PlugyardServer, http: httpx.AsyncClient, lane: SessionLane) -> None:
        self.server, self.http, self.lane = server, http, lane
        self.id = ""
        self.headers: dict[str, str] = {}

    async def open(self, capabilities: dict[str, Any] | None = None, **headers: str) -> None:
        params = {
            "protocolVersion": VERSION,
            "capabilities": capabilities or {},
            "clientInfo": {"name": "t", "version": "1"},
        }
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        opening = {k: v for k, v in (HEADERS | headers).items() if k != "MCP-Protocol-Version"}
        opened = await self.http.post(URL, json=body, headers=opening)
        assert opened.status_code == 200, opened.text
        self.id = opened.headers["mcp-session-id"]
        self.headers = {**headers, "Mcp-Session-Id": self.id}
        done = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert done.status_code == 202

    async def post(self, body: Any, **headers: str) -> httpx.Response:
        merged = {k: v for k, v in (HEADERS | self.headers | headers).items() if v}
        return await self.http.post(URL, content=json.dumps(body).encode(), headers=merged)


@asynccontextmanager
async def served(
    host: Any, *, sdk_only: bool = False, resumable: bool = True, **options: Any
) -> AsyncIterator[tuple[PlugyardServer, httpx.AsyncClient, SessionLane]]:
    server = PlugyardServer(host, **options)
    app = server.streamable_http_app(stateless_http=False, retry_interval=1000 if resumable else None)
    limit: Any = server.session_manager.asgi_app
    lane = limit.app
    assert isinstance(lane, SessionLane)
    if resumable:
        assert scope_sessions(server.session_manager, MemoryEventStore(1000))
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(server.session_manager.run())
        http = await stack.enter_async_context(httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
        if sdk_only:
            limit.app = lane._inner
        yield server, http, lane


@asynccontextmanager
async def session(host: Any, capabilities: dict[str, Any] | None = None, **options: Any) -> AsyncIterator[Session]:
    async with served(host, **options) as (server, http, lane):
        opened = Session(server, http, lane)
        await opened.open(capabilities)
        yield opened


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The SSE stream's events, each as its fields (an id as ``ID``: ids are random), messages parsed, the call id
    of a result dropped (a new one per call)."""
    assert response.headers["content-type"] == "text/event-stream"
    out = []
    for block in response.text.split("\r\n\r\n"):
        if not block or block.startswith(":"):
            continue
        fields: dict[str, Any] = {}
        for line in block.split("\r\n"):
            name, _, value = line.partition(": ")
            fields[name] = "ID" if name == "id" else value
        if fields.get("data"):
            fields["data"] = message = json.loads(fields["data"])
            message.get("result", {}).get("_meta", {}).pop(CALL_ID_META, None)
        out.append(fields)
    return out


@pytest.mark.parametrize("resumable", [True, False], ids=["resumable", "not-resumable"])
@pytest.mark.parametrize("body", CALLS, ids=lambda b: f"{b['params']['name']}-{b['id']}")
async def test_the_session_lane_answers_as_the_sdk_does(plugyard_host, body, resumable):
    async with (
        session(plugyard_host, resumable=resumable) as lane,
        session(plugyard_host, resumable=resumable, sdk_only=True) as sdk,
    ):
        ours, theirs = await lane.post(body), await sdk.post(body)
        assert lane.lane.answered == 1 and sdk.lane.answered == 0
    assert ours.status_code == theirs.status_code == 200
    drop = {"date", "server", "content-length", "transfer-encoding", "mcp-session-id"}
    assert {k: v for k, v in ours.headers.items() if k not in drop} == {
        k: v for k, v in theirs.headers.items() if k not in drop
    }
    assert ours.headers["mcp-session-id"] == lane.id
    assert events(ours) == events(theirs)
    if resumable:
        assert events(ours)[0] == {"id": "ID", "data": "", "retry": "1000"}  # the priming event


async def test_session_lane_calls_are_recorded_with_their_session(plugyard_host, plugyard_history):
    async with session(plugyard_host) as lane:
        response = await lane.post(call(1, "weather", {"city": "Oslo"}))
        assert lane.lane.answered == 1
    assert events(response)[-1]["data"]["result"]["structuredContent"]["city"] == "Oslo"
    row = await plugyard_history.last()
    assert row["tool_name"] == "weather" and row["success"] and row["session_id"] == lane.id


async def test_a_lane_stream_is_replayed_after_its_connection_broke(plugyard_host):
    async with session(plugyard_host) as lane:
        first = await lane.post(call(1, "chatty", {"steps": 2}, _meta={"progressToken": "p"}))
        assert lane.lane.answered == 1
        cursor = re.search(r"id: (\w+)", first.text)
        assert cursor is not None  # the priming event's id: everything after it is replayed
        # What the SDK's GET with Last-Event-ID sends (httpx's ASGI transport cannot read a stream left open):
        # the session's store replays each event as the transport would write it.
        transport = _sdk.session_transport(lane.server.session_manager, lane.id, None)
        replayed: list[Any] = []

        async def resend(event: Any) -> None:
            replayed.append(json.loads(event.message.model_dump_json(by_alias=True, exclude_unset=True)))

        stream = await _sdk.event_store_of(transport).replay_events_after(cursor.group(1), resend)
    assert stream == "1"
    for message in replayed:
        message.get("result", {}).get("_meta", {}).pop(CALL_ID_META, None)
    assert replayed == [e["data"] for e in events(first)[1:]]
    assert replayed[-1]["result"]["content"][0]["text"] == "done"


async def test_a_session_whose_client_can_sample_is_left_to_the_sdk(plugyard_host):
    async with session(plugyard_host, {"sampling": {}}) as lane:
        response = await lane.post(call(1, "weather", {"city": "Oslo"}))
        assert lane.lane.answered == 0
    assert not events(response)[-1]["data"]["result"]["isError"]


LEFT_TO_THE_SDK = {
    "another protocol header": (call(1, "weather", {"city": "Oslo"}), {"MCP-Protocol-Version": "2025-06-18"}),
    "no protocol header": (call(1, "weather", {"city": "Oslo"}), {"MCP-Protocol-Version": ""}),
    "unknown session": (call(1, "weather", {"city": "Oslo"}), {"Mcp-Session-Id": "nope"}),
    "unknown tool": (call(1, "nope", {}), {}),
    "accepts JSON only": (call(1, "weather", {"city": "Oslo"}), {"Accept": "application/json"}),
    "foreign origin": (call(1, "weather", {"city": "Oslo"}), {"Origin": "http://evil.example"}),
}


@pytest.mark.parametrize("case", LEFT_TO_THE_SDK)
async def test_everything_else_goes_to_the_sdk_unchanged(plugyard_host, case):
    body, headers = LEFT_TO_THE_SDK[case]
    async with session(plugyard_host) as lane, session(plugyard_host, sdk_only=True) as sdk:
        ours, theirs = await lane.post(body, **headers), await sdk.post(body, **headers)
        assert lane.lane.answered == 0
    assert_the_same_answer(ours, theirs, events)


async def test_before_initialized_the_sdk_answers(plugyard_host):
    async with served(plugyard_host) as (server, http, lane_app):
        lane = Session(server, http, lane_app)
        params = {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}
        opening = {k: v for k, v in HEADERS.items() if k != "MCP-Protocol-Version"}
        opened = await http.post(URL, json=body, headers=opening)
        lane.headers = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        await lane.post(call(1, "weather", {"city": "Oslo"}))
        assert lane_app.answered == 0


# logging/setLevel is the handshake era's (deprecated by 2026-07-28, which sends a level with each request).
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
@pytest.mark.parametrize(("level", "debug_seen"), [("debug", True), ("info", False)])
async def test_the_sdk_client_gets_progress_and_log_messages_at_its_level(plugyard_host, level, debug_seen):
    async with served(plugyard_host) as (_server, http, lane):
        seen: list[Any] = []

        async def on_log(params: Any) -> None:
            seen.append(("log", params.level, params.data))

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(("progress", progress, total, message))

        transport = streamable_http_client(URL, http_client=http)
        async with Client(transport, mode="legacy", logging_callback=on_log) as client:
            await client.set_logging_level(level)  # logging/setLevel: the session's level from now on
            result = await client.call_tool("chatty", {"steps": 2}, progress_callback=on_progress)
        assert lane.answered == 1
    assert result.content[0].text == "done"
    assert seen == [
        ("progress", 1.0, 2.0, "step 1"),
        ("log", "info", "did step 1"),
        ("progress", 2.0, 2.0, "step 2"),
        ("log", "info", "did step 2"),
        *([("log", "debug", "debug detail")] if debug_seen else []),
    ]


async def test_a_cancelled_lane_call_ends_with_the_cancelled_error(plugyard_host, plugyard_history):
    async with session(plugyard_host) as lane:
        # The long call straight into the lane (httpx's ASGI transport would buffer its stream), its client slow
        # to read; the cancellation through the app as a client sends it.
        body = json.dumps(call(7, "chatty", {"steps": 10**6}, _meta={"progressToken": 1})).encode()
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            await anyio.sleep(0.001)

        headers = HEADERS | lane.headers | {"Host": "127.0.0.1:8000"}
        scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": raw_headers(headers)}
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(lane.lane, scope, body_then_silence(body), send)
            with anyio.fail_after(10):
                while not lane.lane._sessions[lane.id].running:
                    await anyio.sleep(0.01)
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
            assert (await lane.post(cancel)).status_code == 202
        assert lane.lane.answered == 0
    last = json.loads(sent[-2]["body"].decode().split("data: ")[1])
    assert last == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32800, "message": "Request cancelled"}}
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    row = await plugyard_history.last()
    assert row["tool_name"] == "chatty" and not row["success"]


async def test_another_credential_cannot_use_the_session(plugyard_host):
    tokens = {"alice": "a" * 32, "bob": "b" * 32}
    options = auth_options(TokenTable(tokens), "http://127.0.0.1:8000")
    async with served(plugyard_host, **options) as (server, http, lane_app):
        alice = Session(server, http, lane_app)
        await alice.open(Authorization=f"Bearer {tokens['alice']}")
        refused = await alice.post(call(1, "weather", {"city": "Oslo"}), Authorization=f"Bearer {tokens['bob']}")
        assert refused.status_code == 404 and lane_app.answered == 0
        taken = await alice.post(call(2, "weather", {"city": "Oslo"}))
        assert taken.status_code == 200 and lane_app.answered == 1


async def test_a_deleted_session_is_forgotten_and_refused(plugyard_host):
    async with session(plugyard_host) as lane:
        assert lane.id in lane.lane._sessions
        gone = await lane.http.delete(URL, headers={**HEADERS, **lane.headers, "MCP-Protocol-Version": VERSION})
        assert gone.status_code == 200
        assert lane.id not in lane.lane._sessions
        refused = await lane.post(call(1, "weather", {"city": "Oslo"}))
        assert refused.status_code == 404 and lane.lane.answered == 0
