"""The HTTP lane: a stateless streamable-HTTP ``tools/call`` for a plugin tool answered past the SDK's session.

In stateless mode the SDK builds, for every POST, a transport, its memory streams, a dispatcher, a server
connection and a task group, validates the message with its models, dispatches it to a task, and writes the
answer through ``EventSourceResponse``: most of what a call to a fast tool costs the server. For the calls
that need none of it, this ASGI step (inside the SDK's routing, its auth middleware and its body limit) reads
the body with ``json.loads``, runs the call through the same ``PlugyardServer.call_plugin_tool`` as any other
(pipeline, hooks, timeout, recording, result conversion) and answers it as the SDK would: a ``200`` SSE
stream with the SDK's headers, progress and log messages as events before the answer.

Taken on the lane, and only these: a POST whose ``MCP-Protocol-Version`` header is one the lane speaks
(``lane.VERSIONS``), with the SDK's own checks passed (Content-Type, Host and Origin; Accept naming both JSON
and SSE), whose body is one ``tools/call`` for a tool of the host that ``lane.read_call`` accepts. In stateless
mode there is no session, hence no client capabilities and no way back for a server-to-client request: no
sampling, no elicitation, every log level (as a fresh SDK session has). A client that disconnects cancels its
call, as the SDK's stateless transport does when it is torn down. Everything else goes to the SDK unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.streamable_http import check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plugyard.core.client import LogLevel
from plugyard.mcp_server.lane import VERSIONS, answer_call, read_call

if TYPE_CHECKING:
    from plugyard.mcp_server.server import PlugyardServer

log = logging.getLogger("plugyard.mcp_server")

_PROTOCOL_HEADER = b"mcp-protocol-version"
_SESSION_HEADER = b"mcp-session-id"
_VERSIONS = frozenset(v.encode("ascii") for v in VERSIONS)
_SSE_HEADERS = [
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"content-type", b"text/event-stream"),
    (b"x-accel-buffering", b"no"),
]


class _Stream:
    """One lane call's SSE response: the lane's ``send`` for its progress, log messages and answer."""

    __slots__ = ("_send", "_version", "floor")

    def __init__(self, send: Send, version: str) -> None:
        self._send = send
        self._version = version
        self.floor: LogLevel = "debug"

    def unavailable(self, feature: str) -> str:
        # As client_channel.py says it for a stateless request the SDK dispatched.
        return (
            f"stateless HTTP cannot ask the MCP client for {feature} in the middle of a call on protocol "
            f"{self._version}; serve with --stateful, or connect with a 2026-07-28 client"
        )

    async def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        body = f"event: message\r\ndata: {data}\r\n\r\n".encode()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})


class HttpLane:
    """The ASGI step in front of the SDK's stateless request handler (see the module's docstring)."""

    def __init__(self, server: PlugyardServer, inner: ASGIApp, security: TransportSecuritySettings | None) -> None:
        self._server = server
        self._inner = inner
        self._security = TransportSecurityMiddleware(security)
        self.answered = 0
        """Calls answered on the lane since the server started."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _speaks(scope):
            await self._inner(scope, receive, send)
            return
        message = await receive()  # the SDK's body limit read the whole body and hands it over as one message
        if message["type"] != "http.request" or message.get("more_body", False):
            await self._inner(scope, _replay(message, receive), send)
            return
        call = read_call(message.get("body", b""), self._server)
        if call is None or not await self._admitted(scope):
            await self._inner(scope, _replay(message, receive), send)
            return
        request_id, name, arguments, token = call
        session_id = _header(scope, _SESSION_HEADER)
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        version = _header(scope, _PROTOCOL_HEADER) or ""
        stream = _Stream(send, version)
        answer: dict[str, Any] | None = None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_cancel_on_disconnect, receive, tasks.cancel_scope.cancel)
            try:
                answer = await answer_call(
                    self._server, stream, request_id, name, arguments, token, session_id, version
                )
            finally:
                tasks.cancel_scope.cancel()
        if answer is None:
            return  # the client went away: nothing to write to
        self.answered += 1
        try:
            await stream.send(answer)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError as exc:  # the client went away as the answer was written
            log.debug("the HTTP lane's answer was not delivered: %s", exc)

    async def _admitted(self, scope: Scope) -> bool:
        """The SDK's own checks of a POST pass: its transport security and its Accept rule (SSE answers)."""
        request = Request(scope)
        if await self._security.validate_request(request, is_post=True) is not None:
            return False
        has_json, has_sse = check_accept_headers(request)
        return has_json and has_sse


def _speaks(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == _PROTOCOL_HEADER:
            return value in _VERSIONS
    return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """``receive`` with ``first`` given back first: the SDK reads the request as if the lane had not."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _cancel_on_disconnect(receive: Receive, cancel: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            cancel()
            return
