"""The HTTP lane: a stateless streamable-HTTP ``tools/call`` for a plugin tool answered past the SDK's machinery.

In stateless mode the SDK builds, for every handshake-era POST, a transport, its memory streams, a dispatcher, a
server connection and a task group, validates the message with its models, dispatches it to a task and writes
the answer through ``EventSourceResponse``; a 2026-07-28 POST goes through its single-exchange entry and its
runner's middleware. For the calls that need none of it, this ASGI step (inside the SDK's routing, its auth
middleware and its body limit) reads the body with ``json.loads``, runs the call through the same
``PlugyardServer.call_plugin_tool`` as any other (pipeline, hooks, timeout, recording, result conversion) and
answers as the SDK would, result shaped by the SDK's own per-version sieve (``lane.wire_result``):

- **2025-06-18 / 2025-11-25** (``lane.VERSIONS``, the ``MCP-Protocol-Version`` header of a client after its
  handshake): a ``200`` SSE stream with the SDK's headers, progress and log messages (every level: a stateless
  request has a fresh session) as events before the answer. No sampling, no elicitation: there is no way back
  for a server-to-client request, and the refusal says so as the SDK path does.
- **2026-07-28**: a self-contained request whose ``_meta`` carries only the envelope (protocol version, client
  info and capabilities), a progress token and a log level; taken only when the client declared neither sampling
  nor elicitation (nothing can need an ``input_required`` round) and the SDK's own ladder admits it
  (``classify_inbound_request``, duplicated routing headers, ``Mcp-Param-*`` headers against the tool's schema).
  The answer is ``application/json`` unless a notification comes first, then SSE, as the SDK's entry does; log
  messages only at or above the request's log level, none without one.

Before either, the SDK's own checks: Content-Type, Host and Origin, and an Accept naming JSON and SSE. A call
still running gets a keep-alive comment every 15 s (committing a 2026-07-28 answer to SSE, as the SDK does); a
client that disconnects cancels its call. Everything else goes to the SDK unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.streamable_http import check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    LOG_LEVEL_META_KEY,
    PROTOCOL_VERSION_META_KEY,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plugyard.core.client import LOG_LEVELS, LogLevel
from plugyard.mcp_server.client_channel import stateless_refusal, undeclared
from plugyard.mcp_server.lane import PROGRESS_ONLY, VERSIONS, Call, answer_call, call_in, read_message

if TYPE_CHECKING:
    from plugyard.mcp_server.server import PlugyardServer

log = logging.getLogger("plugyard.mcp_server")

_PROTOCOL_HEADER = b"mcp-protocol-version"
_SESSION_HEADER = b"mcp-session-id"
_LEGACY = frozenset(v.encode("ascii") for v in VERSIONS)
_MODERN = frozenset(v.encode("ascii") for v in MODERN_PROTOCOL_VERSIONS)
_MODERN_META = frozenset(
    {PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY, "progressToken"}
)
_PARAM_HEADER_PREFIX = "mcp-param-"
PING_INTERVAL = 15.0
"""Seconds of silence on an SSE answer before a keep-alive comment (the SDK's interval, both eras)."""
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
"""What the SDK sends with an SSE answer, in either era (through sse-starlette or its 2026 entry)."""


class Reply:
    """One lane call's response: the lane's ``send`` for its progress, log messages and answer. In a session
    (``session_id``, session_lane.py) its SSE headers name the session, as the SDK's transport does."""

    __slots__ = ("_committed", "_headers", "_modern", "_send", "_session", "_store", "_version", "floor")

    def __init__(
        self,
        send: Send,
        version: str,
        floor: LogLevel | None,
        session_id: str | None = None,
        store: Callable[[dict[str, Any] | None], str] | None = None,
    ) -> None:
        self._send = send
        self._store = store
        """Stores each message sent for replay and gives its event id (a resumable session's stream)."""
        self._version = version
        self._modern = version in MODERN_PROTOCOL_VERSIONS
        self._committed = False
        self._session = session_id is not None
        self._headers = _SSE_HEADERS if session_id is None else [*_SSE_HEADERS, (_SESSION_HEADER, session_id.encode())]
        self.floor = floor

    def unavailable(self, feature: str) -> str:
        # As client_channel.py says it for a request the SDK dispatched (a 2026-07-28 call, or a session's, is
        # taken only when its client declared neither feature).
        if self._modern or self._session:
            return undeclared(feature)
        return stateless_refusal(feature, self._version)

    async def _commit(self) -> None:
        if not self._committed:
            self._committed = True
            await self._send({"type": "http.response.start", "status": 200, "headers": self._headers})

    async def open(self) -> None:
        """A handshake-era answer is an SSE stream from the start (the SDK sends its headers at once)."""
        if not self._modern:
            await self._commit()

    async def send(self, message: dict[str, Any]) -> None:
        await self._commit()
        # The SDK writes 2026-07-28 events with json.dumps, handshake-era ones with pydantic (UTF-8 as is).
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=self._modern)
        event = f"event: message\r\ndata: {data}\r\n\r\n"
        if self._store is not None:
            event = f"id: {self._store(message)}\r\n{event}"
        await self._send({"type": "http.response.body", "body": event.encode(), "more_body": True})

    async def prime(self, retry_ms: int | None) -> None:
        """A resumable stream's first event: its cursor, and how long a client waits before it reconnects."""
        assert self._store is not None
        retry = "" if retry_ms is None else f"retry: {retry_ms}\r\n"
        body = f"id: {self._store(None)}\r\ndata: \r\n{retry}\r\n".encode()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def ping(self) -> None:
        await self._commit()
        comment = ": ping" if self._modern else f": ping - {datetime.now(UTC)}"
        await self._send({"type": "http.response.body", "body": f"{comment}\r\n\r\n".encode(), "more_body": True})

    async def finish(self, answer: dict[str, Any]) -> None:
        if self._committed:
            await self.send(answer)
            await self.end()
            return
        error = answer.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        status = ERROR_CODE_HTTP_STATUS.get(code, 200) if isinstance(code, int) else 200
        body = json.dumps(answer, separators=(",", ":")).encode()
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def end(self) -> None:
        """The SSE stream ended without (another) message: after the answer, or a call its client cancelled."""
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


class HttpLane:
    """The ASGI step in front of the SDK's stateless request handler (see the module's docstring)."""

    def __init__(self, server: PlugyardServer, inner: ASGIApp, security: TransportSecuritySettings | None) -> None:
        self._server = server
        self._inner = inner
        self._security = TransportSecurityMiddleware(security)
        self.answered = 0
        """Calls answered on the lane since the server started."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        version = header(scope, _PROTOCOL_HEADER) if scope["type"] == "http" and scope["method"] == "POST" else None
        if version is None or (version not in _LEGACY and version not in _MODERN) or not self._server.lanes_open:
            await self._inner(scope, receive, send)
            return
        message = await receive()  # the SDK's body limit read the whole body and hands it over as one message
        reply = None
        if message["type"] == "http.request" and not message.get("more_body", False):
            reply = await self._taken(scope, message.get("body", b""), version.decode("ascii"), send)
        if reply is None:
            await self._inner(scope, replay(message, receive), send)
            return
        call, session_id, stream = reply
        await stream.open()
        answer: dict[str, Any] | None = None
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch, receive, stream, tasks.cancel_scope.cancel)
            try:
                answer = await answer_call(self._server, stream, call, session_id, version.decode("ascii"))
            finally:
                tasks.cancel_scope.cancel()
        if answer is None:
            return  # the client went away: nothing to write to
        self.answered += 1
        try:
            await stream.finish(answer)
        except OSError as exc:  # the client went away as the answer was written
            log.debug("the HTTP lane's answer was not delivered: %s", exc)

    async def _taken(
        self, scope: Scope, body: bytes, version: str, send: Send
    ) -> tuple[Call, str | None, Reply] | None:
        """The call in ``body`` and its reply, if the lane answers it (else None: the SDK's)."""
        message = read_message(body)
        if message is None:
            return None
        modern = version in MODERN_PROTOCOL_VERSIONS
        call = call_in(message, self._server, _MODERN_META if modern else PROGRESS_ONLY)
        if call is None:
            return None
        request = Request(scope)
        if await self._security.validate_request(request, is_post=True) is not None:
            return None
        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse):
            return None
        if not modern:
            return call, header_text(scope, _SESSION_HEADER), Reply(send, version, "debug")
        admitted, floor = self._admitted_modern(request, message, call, version)
        return (call, None, Reply(send, version, floor)) if admitted else None

    def _admitted_modern(
        self, request: Request, message: dict[str, Any], call: Call, version: str
    ) -> tuple[bool, LogLevel | None]:
        """Whether the SDK's ladder admits this 2026-07-28 call and nothing in it can need the client, and the
        request's log level (None: no log messages)."""
        name, arguments, meta = call.name, call.arguments, call.meta
        capabilities = meta.get(CLIENT_CAPABILITIES_META_KEY)
        if not isinstance(capabilities, dict) or "sampling" in capabilities or "elicitation" in capabilities:
            return False, None
        level = meta.get(LOG_LEVEL_META_KEY)
        if level is not None and level not in LOG_LEVELS:
            return False, None
        headers = request.headers
        if find_duplicated_routing_header(headers.items()) is not None:
            return False, None
        verdict = classify_inbound_request(message, headers=dict(headers))
        if not isinstance(verdict, InboundModernRoute) or verdict.protocol_version != version:
            return False, None
        if arguments or any(key.startswith(_PARAM_HEADER_PREFIX) for key in headers):
            schema = self._server.tool_input_schema(name)
            if schema is not None and validate_mcp_param_headers(schema, arguments, headers) is not None:
                return False, None
        floor: LogLevel | None = level
        return True, floor


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def header_text(scope: Scope, name: bytes) -> str | None:
    value = header(scope, name)
    return None if value is None else value.decode("latin-1")


def replay(first: Message, receive: Receive) -> Receive:
    """``receive`` with ``first`` given back first: the SDK reads the request as if the lane had not."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def watch(receive: Receive, reply: Reply, cancel: Callable[[], None]) -> None:
    """Until the call ends: a keep-alive comment every ``PING_INTERVAL`` (as sse-starlette pings the SDK's
    streams), and the call cancelled when the client disconnects."""
    while True:
        message = None
        with anyio.move_on_after(PING_INTERVAL):
            message = await receive()
        if message is None:
            await reply.ping()
        elif message["type"] == "http.disconnect":
            cancel()
            return
