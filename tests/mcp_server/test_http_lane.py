"""The HTTP lane (http_lane.py): stateless tools/call POSTs answered past the SDK's session, as the SDK answers them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from plugyard.core.auth import TokenTable
from plugyard.mcp_server.auth import auth_options
from plugyard.mcp_server.http_lane import HttpLane
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer

pytestmark = pytest.mark.anyio

URL = "http://127.0.0.1:8000/mcp"
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


class Served:
    """A server's stateless app over ASGI; ``sdk_only`` takes its lane out (the SDK answers everything)."""

    def __init__(self, server: PlugyardServer, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http
        limit: Any = server.session_manager.asgi_app
        self.lane: HttpLane = limit.app

    async def post(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        merged = {k: v for k, v in (HEADERS | headers).items() if v}
        return await self.http.post(URL, content=content, headers=merged)


@asynccontextmanager
async def served(host: Any, *, sdk_only: bool = False, **options: Any) -> AsyncIterator[Served]:
    server = PlugyardServer(host, **options)
    app = server.streamable_http_app(stateless_http=True)
    limit: Any = server.session_manager.asgi_app
    assert isinstance(limit.app, HttpLane)
    lane = limit.app
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(server.session_manager.run())
        http = await stack.enter_async_context(httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
        result = Served(server, http)
        if sdk_only:
            limit.app = lane._inner
        yield result


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The answer's JSON-RPC messages: the JSON body, or each SSE event, checked to be ``event: message``
    with one data line (keep-alive comments skipped)."""
    if response.headers["content-type"] == "application/json":
        messages = [response.json()]
    else:
        messages = []
        for block in response.text.split("\r\n\r\n"):
            if not block or block.startswith(":"):
                continue
            event, data = block.split("\r\n")
            assert event == "event: message" and data.startswith("data: ")
            messages.append(json.loads(data.removeprefix("data: ")))
    for message in messages:
        message.get("result", {}).get("_meta", {}).pop(CALL_ID_META, None)  # a new call id per call
    return messages


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def modern(body: dict[str, Any], **meta: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` as a 2026-07-28 client sends it: the envelope in ``_meta``, the routing headers."""
    params = dict(body["params"])
    params["_meta"] = MODERN_META | params.get("_meta", {}) | meta
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": params["name"]}
    return body | {"params": params}, headers


def call(request_id: Any, name: str, arguments: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name}}
    if arguments is not None:
        body["params"]["arguments"] = arguments
    body["params"].update(params)
    return body


CALLS = [
    call(1, "weather", {"city": "Oslo"}),
    call("a", "report", {"city": "Oslo"}),
    call(2, "mixed", {}),
    call(3, "picture"),
    call(4, "chatty", {"steps": 2}, _meta={"progressToken": "p"}),
    call(5, "chatty", {"steps": "two"}),  # invalid arguments: a tool error
    call(6, "haiku", {"topic": "frogs"}),  # sampling: refused as stateless HTTP refuses it
]


@pytest.mark.parametrize("era", ["2025-11-25", "2026-07-28"])
@pytest.mark.parametrize("body", CALLS, ids=lambda b: f"{b['params']['name']}-{b['id']}")
async def test_the_lane_answers_as_the_sdk_does(plugyard_host, body, era):
    headers: dict[str, str] = {}
    if era == "2026-07-28":
        body, headers = modern(body, **{"io.modelcontextprotocol/logLevel": "info"})
    async with served(plugyard_host) as lane, served(plugyard_host, sdk_only=True) as sdk:
        ours, theirs = await lane.post(body, **headers), await sdk.post(body, **headers)
        assert lane.lane.answered == 1 and sdk.lane.answered == 0
    assert ours.status_code == theirs.status_code == 200
    drop = {"date", "server", "content-length", "transfer-encoding"}
    assert {k: v for k, v in ours.headers.items() if k not in drop} == {
        k: v for k, v in theirs.headers.items() if k not in drop
    }
    assert events(ours) == events(theirs)


async def test_lane_calls_are_recorded_like_any_other(plugyard_host, plugyard_history):
    async with served(plugyard_host) as lane:
        response = await lane.post(call(1, "weather", {"city": "Oslo"}), **{"Mcp-Session-Id": "s-1"})
    [answer] = events(response)
    assert answer["result"]["structuredContent"]["city"] == "Oslo"
    row = await plugyard_history.last()
    assert row["tool_name"] == "weather" and row["success"] and row["session_id"] == "s-1"


LEFT_TO_THE_SDK = {
    "no protocol header": (call(1, "weather", {"city": "Oslo"}), {"MCP-Protocol-Version": ""}),
    "unknown tool": (call(1, "nope", {}), {}),
    "meta beyond a progress token": (call(1, "weather", {"city": "Oslo"}, _meta={"x": 1}), {}),
    "arguments not an object": (call(1, "weather", [1]), {}),
    "boolean id": (call(True, "weather", {"city": "Oslo"}), {}),
    "batch": ([call(1, "weather", {"city": "Oslo"})], {}),
    "not JSON": (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", ', {}),
    "tools/list": ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, {}),
    "notification": ({"jsonrpc": "2.0", "method": "notifications/initialized"}, {}),
    "accepts JSON only": (call(1, "weather", {"city": "Oslo"}), {"Accept": "application/json"}),
    "not JSON content": (call(1, "weather", {"city": "Oslo"}), {"Content-Type": "text/plain"}),
    "foreign origin": (call(1, "weather", {"city": "Oslo"}), {"Origin": "http://evil.example"}),
    "2026-07-28, sampling declared": modern(
        call(1, "weather", {"city": "Oslo"}), **{"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}
    ),
    "2026-07-28, routing header disagrees": (
        modern(call(1, "weather", {"city": "Oslo"}))[0],
        {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "picture"},
    ),
    "2026-07-28, no envelope": (call(1, "weather", {"city": "Oslo"}), {"MCP-Protocol-Version": "2026-07-28"}),
    "2026-07-28, bad log level": modern(
        call(1, "weather", {"city": "Oslo"}), **{"io.modelcontextprotocol/logLevel": 3}
    ),
    "2026-07-28, unknown meta": modern(call(1, "weather", {"city": "Oslo"}), extra=1),
}


@pytest.mark.parametrize("case", LEFT_TO_THE_SDK)
async def test_everything_else_goes_to_the_sdk_unchanged(plugyard_host, case):
    body, headers = LEFT_TO_THE_SDK[case]
    async with served(plugyard_host) as lane, served(plugyard_host, sdk_only=True) as sdk:
        ours, theirs = await lane.post(body, **headers), await sdk.post(body, **headers)
        assert lane.lane.answered == 0
    assert_the_same_answer(ours, theirs, events)


def assert_the_same_answer(
    ours: httpx.Response, theirs: httpx.Response, read: Callable[[httpx.Response], list[dict[str, Any]]]
) -> None:
    """The lane's answer is the SDK's: status, content type, and the messages (``read``) or the body."""
    assert ours.status_code == theirs.status_code
    kind = ours.headers.get("content-type", "")
    assert kind == theirs.headers.get("content-type", "")
    if kind.startswith("text/event-stream") or (kind == "application/json" and ours.status_code == 200):
        assert read(ours) == read(theirs)
    else:
        assert ours.text == theirs.text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_the_sdk_client_gets_progress_and_log_messages_on_the_lane(plugyard_host, mode):
    async with served(plugyard_host) as lane:
        seen: list[Any] = []

        async def on_log(params: Any) -> None:
            seen.append(("log", params.level, params.data))

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(("progress", progress, total, message))

        transport = streamable_http_client(URL, http_client=lane.http)
        async with Client(transport, mode=mode, logging_callback=on_log, log_level="debug") as client:
            result = await client.call_tool("chatty", {"steps": 2}, progress_callback=on_progress)
        assert lane.lane.answered == 1
    assert result.content[0].text == "done"
    assert seen == [
        ("progress", 1.0, 2.0, "step 1"),
        ("log", "info", "did step 1"),
        ("progress", 2.0, 2.0, "step 2"),
        ("log", "info", "did step 2"),
        ("log", "debug", "debug detail"),
    ]


async def test_a_client_that_goes_away_cancels_its_call(plugyard_host, plugyard_history):
    started = anyio.Event()

    async def sdk(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the lane takes this call")

    lane = HttpLane(PlugyardServer(plugyard_host), sdk, None)
    body = json.dumps(call(9, "chatty", {"steps": 1000}, _meta={"progressToken": 1})).encode()
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and b"progress" in message.get("body", b""):
            started.set()
            await anyio.sleep(0.01)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (HEADERS | {"Host": "127.0.0.1:8000"}).items()],
    }
    with anyio.fail_after(10):
        await lane(scope, receive, send)
    assert lane.answered == 0
    assert not any(b'"id":9' in m.get("body", b"") for m in sent)  # never answered
    row = await plugyard_history.last()
    assert row["tool_name"] == "chatty" and not row["success"]


async def test_the_lane_is_behind_the_sdks_bearer_token_check(plugyard_host, plugyard_history):
    token = "t" * 32
    options = auth_options(TokenTable({"alice": token}), "http://127.0.0.1:8000")
    async with served(plugyard_host, **options) as lane:
        refused = await lane.post(call(1, "weather", {"city": "Oslo"}))
        assert refused.status_code == 401 and lane.lane.answered == 0
        taken = await lane.post(call(2, "weather", {"city": "Oslo"}), Authorization=f"Bearer {token}")
        assert lane.lane.answered == 1
    [answer] = events(taken)
    assert answer["id"] == 2 and not answer["result"]["isError"]
    row = await plugyard_history.last()
    assert row["user_id"] == "alice"


@pytest.mark.parametrize("era", ["2025-11-25", "2026-07-28"])
async def test_a_long_call_gets_keep_alive_comments(plugyard_host, monkeypatch, era):
    from plugyard.mcp_server import http_lane

    monkeypatch.setattr(http_lane, "PING_INTERVAL", 0.01)
    lane = HttpLane(PlugyardServer(plugyard_host), None, None)  # type: ignore[arg-type]
    body, headers = call(3, "chatty", {"steps": 400}, _meta={"progressToken": 1}), dict(HEADERS)
    if era == "2026-07-28":
        body, extra = modern(body)
        headers |= extra
    pinged = anyio.Event()
    sent: list[dict[str, Any]] = []
    receive = body_then_silence(json.dumps(body).encode())

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body", b"").startswith(b": ping"):
            pinged.set()
        elif not pinged.is_set() and b"progress" in message.get("body", b""):
            await anyio.sleep(0.002)  # a slow client: the call outlasts the interval

    headers |= {"Host": "127.0.0.1:8000"}
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": raw_headers(headers)}
    with anyio.fail_after(20):
        await lane(scope, receive, send)
    assert pinged.is_set() and lane.answered == 1
    bodies = b"".join(m.get("body", b"") for m in sent)
    assert b'"id":3' in bodies and sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def body_then_silence(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive``: the request's body, then nothing (a client that stays, waiting for the answer)."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await anyio.sleep_forever()
        raise AssertionError

    return receive


async def test_with_telemetry_on_every_request_goes_to_the_sdk_for_its_span(tmp_path):
    pytest.importorskip("opentelemetry.sdk", reason="telemetry needs the OpenTelemetry SDK (the [test] extra)")
    from plugyard.core.config import parse_config
    from plugyard.core.host import PluginHost
    from tests.conftest import sample_plugin

    config = parse_config(
        {"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}, "telemetry": {"enabled": True}}
    )
    host = PluginHost(config, entry_points=False, plugins={"sample": sample_plugin()}).load()
    async with host.running(), served(host) as lane:
        assert not lane.server.lanes_open
        response = await lane.post(call(1, "add", {"a": 1, "b": 2}))
        assert lane.lane.answered == 0
    [answer] = events(response)
    assert answer["result"]["structuredContent"] == {"result": 3}
