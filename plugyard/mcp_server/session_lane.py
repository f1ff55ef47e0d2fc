"""The session lane: a ``tools/call`` in a streamable-HTTP session answered past the SDK's transport.

With sessions (``plugyard serve --transport http`` without ``--stateless``) every POST of a session goes
through its transport: the body validated with the SDK's models, a memory stream per request, the
session's dispatcher and a task per request, an ``EventSourceResponse`` writing the answer. This ASGI step
(where http_lane.py's stands: inside the SDK's routing, its auth middleware and its body limit) watches
each session's handshake as it passes to the SDK, as the stdio lane watches its connection's, and answers a
session's plugin-tool calls itself once the client has said ``initialized`` at a protocol version the lane
speaks (``lane.VERSIONS``) and has declared neither sampling nor elicitation: nothing can then need a
request to the client on the call's stream. The call runs through the same ``call_plugin_tool`` as any
other; the answer is what the SDK's transport writes for it:

- a ``200`` SSE stream with the SDK's headers (``mcp-session-id`` too), progress and log messages (at or
  above the session's ``logging/setLevel``, every level before one) as events before the answer;
- in a resumable session (``[server] resumable_events``: the default) a priming event first (2025-11-25),
  every event stored in the session's scope of the event store with its id, so a client whose stream broke
  replays it through the SDK's ``GET`` with ``Last-Event-ID`` as it would a stream the SDK wrote;
- ``notifications/cancelled`` for a lane call cancels it, and its stream ends with the ``REQUEST_CANCELLED``
  error the 2025 era answers a cancelled request with; ``DELETE`` of the session cancels its lane calls;
- a client that disconnects does not cancel its call (as on the SDK's path): the call goes on, its messages
  are stored, and handed to the stream the client resumes with ``GET`` and ``Last-Event-ID``.

A call is the SDK's to answer whenever the manager would refuse the request (an unknown or terminated
session, another credential's, one already ending after its idle time), for the SDK's own checks (Content-Type,
Host and Origin, an Accept naming JSON and SSE), a protocol header other than the session's, and an id
already in flight. While a lane call runs, the session's idle countdown is held as the transport holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.streamable_http import REQUEST_CANCELLED, check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plugyard.core.client import LOG_LEVELS, LogLevel
from plugyard.mcp_server import _sdk
from plugyard.mcp_server.events import ScopedEventStore
from plugyard.mcp_server.http_lane import Reply, header, header_text, replay, watch
from plugyard.mcp_server.lane import VERSIONS, Call, answer_call, call_in, read_message

if TYPE_CHECKING:
    from plugyard.mcp_server.server import PlugyardServer

log = logging.getLogger("plugyard.mcp_server")

_PROTOCOL_HEADER = b"mcp-protocol-version"
_SESSION_HEADER = b"mcp-session-id"
_PRIMED = frozenset({"2025-11-25"})
"""The versions whose streams open with a priming event (the SDK's: 2025-11-25 and later)."""

_Key = tuple[type, int | str]


class _Session:
    """What the lane knows of one session, from the requests it saw pass to the SDK."""

    __slots__ = ("eligible", "floor", "open", "running", "version")

    def __init__(self, version: str, eligible: bool) -> None:
        self.version = version
        self.eligible = eligible
        self.open = False
        self.floor: LogLevel = "debug"
        self.running: dict[_Key, anyio.CancelScope] = {}


class _SessionReply(Reply):
    """A session's lane stream. Its client may go away and come back: the call goes on (as the SDK's does), its
    messages stored and handed to the stream a ``GET`` with ``Last-Event-ID`` resumed, if any."""

    __slots__ = ("_resumed", "gone")

    def __init__(
        self,
        send: Send,
        session: _Session,
        session_id: str,
        store: Callable[[dict[str, Any] | None], str] | None,
        resumed: Callable[[dict[str, Any], str], Awaitable[None]],
    ) -> None:
        super().__init__(send, session.version, session.floor, session_id, store)
        self._resumed = resumed
        self.gone = False
        """The client disconnected from this stream."""

    async def send(self, message: dict[str, Any]) -> None:
        if not self.gone:
            try:
                await super().send(message)
                return
            except OSError:
                self.gone = True
                return  # stored before the write failed: a resuming client replays it
        if self._store is not None:
            await self._resumed(message, self._store(message))

    async def ping(self) -> None:
        if not self.gone:
            await super().ping()

    async def finish(self, answer: dict[str, Any]) -> None:
        if self.gone:
            await self.send(answer)
        else:
            await super().finish(answer)


class SessionLane:
    """The ASGI step in front of the SDK's session-keeping request handler (see the module's docstring)."""

    def __init__(
        self,
        server: PlugyardServer,
        inner: ASGIApp,
        manager: Any,
        security: TransportSecuritySettings | None,
        retry_ms: int | None,
    ) -> None:
        self._server = server
        self._inner = inner
        self._manager = manager
        self._security = TransportSecurityMiddleware(security)
        self._retry_ms = retry_ms
        self._sessions: dict[str, _Session] = {}
        self.answered = 0
        """Calls answered on the lane since the server started."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method") if scope["type"] == "http" else None
        if method not in ("POST", "DELETE"):
            await self._inner(scope, receive, send)
            return
        session_id = header_text(scope, _SESSION_HEADER)
        if method == "DELETE":
            if session_id is not None:
                self._forget(session_id)
            await self._inner(scope, receive, send)
            return
        message = await receive()  # the SDK's body limit read the whole body and hands it over as one message
        receive = replay(message, receive)
        parsed = None
        if message["type"] == "http.request" and not message.get("more_body", False):
            parsed = read_message(message.get("body", b""))
        if parsed is None:
            await self._inner(scope, receive, send)
        elif session_id is None:
            opening = parsed.get("method") == "initialize" and "id" in parsed
            await self._inner(scope, receive, self._opening(parsed, send) if opening else send)
        else:
            session = self._sessions.get(session_id)
            call = None if session is None else self._call(scope, parsed, session)
            if call is None or session is None:
                if session is not None:
                    self._watch(session, parsed)
                await self._inner(scope, receive, send)
            else:
                await self._answer(scope, receive, send, session_id, session, call)

    def _opening(self, message: dict[str, Any], send: Send) -> Send:
        """``send`` for an ``initialize`` without a session: the session it opens is noted from the answer."""
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        capabilities = params.get("capabilities")
        capabilities = capabilities if isinstance(capabilities, dict) else {}
        version = str(params.get("protocolVersion"))
        eligible = version in VERSIONS and not ({"sampling", "elicitation"} & set(capabilities))

        async def noting(event: Message) -> None:
            if event["type"] == "http.response.start" and event.get("status") == 200:
                for key, value in event.get("headers", ()):
                    if bytes(key).lower() == _SESSION_HEADER:
                        self._prune()
                        self._sessions[bytes(value).decode("latin-1")] = _Session(version, eligible)
            await send(event)

        return noting

    def _watch(self, session: _Session, message: dict[str, Any]) -> None:
        """Note what a message the SDK answers changes for the session's lane calls."""
        method, params = message.get("method"), message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "notifications/initialized" and "id" not in message:
            session.open = session.eligible
        elif method == "logging/setLevel" and "id" in message and params.get("level") in LOG_LEVELS:
            session.floor = params["level"]
        elif method == "notifications/cancelled":
            running = session.running.get(_key(params.get("requestId")))
            if running is not None:
                running.cancel()

    def _call(self, scope: Scope, message: dict[str, Any], session: _Session) -> Call | None:
        """The call in ``message`` if the lane answers it, else None (the SDK's)."""
        if not (session.open and self._server.lanes_open):
            return None
        call = call_in(message, self._server)
        if call is None or _key(call.request_id) in session.running:
            return None
        protocol = header(scope, _PROTOCOL_HEADER)
        if protocol is None or protocol.decode("latin-1") != session.version:
            return None
        return call

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, session_id: str, session: _Session, call: Call
    ) -> None:
        transport = _sdk.session_transport(self._manager, session_id, scope.get("user"))
        store = None if transport is None else _sdk.event_store_of(transport)
        request = Request(scope)
        if (
            transport is None
            or (store is not None and not isinstance(store, ScopedEventStore))
            or await self._security.validate_request(request, is_post=True) is not None
            or not all(check_accept_headers(request))
        ):
            await self._inner(scope, receive, send)
            return
        stream_id = str(call.request_id)
        wire = None if store is None else (lambda message: store.store_wire(stream_id, message))

        async def resumed(message: dict[str, Any], event_id: str) -> None:
            await _sdk.resumed_stream_send(transport, stream_id, message, event_id)

        reply = _SessionReply(send, session, session_id, wire, resumed)
        key, cancelled = _key(call.request_id), anyio.CancelScope()
        session.running[key] = cancelled
        answer: dict[str, Any] | None = None
        try:
            with _sdk.request_in_flight(transport):
                await reply.open()
                if wire is not None and session.version in _PRIMED:
                    await reply.prime(self._retry_ms)
                with cancelled:
                    answer = await self._run(receive, reply, call, session_id, session.version)
        finally:
            session.running.pop(key, None)
        if answer is None:  # notifications/cancelled, or the session's DELETE
            error = {"code": REQUEST_CANCELLED, "message": "Request cancelled"}
            answer = {"jsonrpc": "2.0", "id": call.request_id, "error": error}
        else:
            self.answered += 1
        try:
            await reply.finish(answer)
        except OSError as exc:  # the client went away as the answer was written (it is stored if resumable)
            log.debug("the session lane's answer was not delivered: %s", exc)

    async def _run(
        self, receive: Receive, reply: _SessionReply, call: Call, session_id: str, version: str
    ) -> dict[str, Any]:
        """The call's answer. A client that disconnects does not cancel it: in a session, as on the SDK's path,
        the call goes on and its stream can be resumed."""

        def disconnected() -> None:
            reply.gone = True

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(watch, receive, reply, disconnected)
            try:
                answer = await answer_call(self._server, reply, call, session_id, version)
            finally:
                tasks.cancel_scope.cancel()
        return answer

    def _forget(self, session_id: str) -> None:
        """The session is ending (``DELETE``): its lane calls are cancelled, and it is forgotten."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            for running in session.running.values():
                running.cancel()

    def _prune(self) -> None:
        """Forget the sessions the manager no longer keeps (ended by their idle time, or by the server)."""
        known = _sdk.session_ids(self._manager)
        for session_id in [s for s in self._sessions if s not in known]:
            self._forget(session_id)


def _key(request_id: Any) -> _Key:
    return (type(request_id), request_id)
