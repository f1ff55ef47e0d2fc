"""The one module that touches the MCP SDK's private names.

The adapter needs a few things mcp 2.3.0 keeps private: the low-level server behind ``MCPServer``,
its subscription bus, the per-client ``Connection`` behind a request's session, the ``tools/call``
and input-schema handlers the SDK binds at construction, its own prompt registry, and the
capabilities a handshake-era ``initialize`` advertises. Each is reached here and nowhere else, under
a public name; tests/mcp_server/test_sdk_seam.py has one test per touch, each naming the touch it
checks, so an SDK upgrade that moves one says which. Nothing else in plugyard uses a private SDK
name (ruff's SLF001 allows it only in this file).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Container, Iterator
from typing import Any

import anyio
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.session import ServerSession
from mcp.server.streamable_http import EventMessage
from mcp.server.subscriptions import SubscriptionBus
from mcp.types import CallToolRequestParams, CallToolResult, InputRequiredResult
from mcp_types.jsonrpc import jsonrpc_message_adapter

# Every private name this module uses, as "owner.name": the seam test checks this list is complete
# (each has a test) and the SLF001 rule checks nothing else uses one.
TOUCHES = (
    "MCPServer._lowlevel_server",
    "MCPServer._subscriptions",
    "MCPServer._handle_call_tool",
    "MCPServer._tool_input_schema",
    "MCPServer._prompt_manager",
    "ServerSession._connection",
    "Context(request_context=, mcp_server=, input_params=, subscriptions=)",
    "Server.create_initialization_options",
    "StreamableHTTPSessionManager._admit_session",
    "StreamableHTTPServerTransport._event_store",
    "mcp.server._otel.OpenTelemetryMiddleware",
    "StreamableHTTPSessionManager.asgi_app.app",
    "StreamableHTTPSessionManager._server_instances/_session_owners",
    "StreamableHTTPServerTransport._requests_in_flight/_idle_timeout",
    "StreamableHTTPServerTransport._request_streams",
)


def scope_session_event_stores(manager: Any, store_for: Callable[[str | None], Any]) -> bool:
    """Give every transport ``manager`` admits the event store ``store_for(session id)``. False when the
    SDK no longer has the seam (the caller then leaves resumability off rather than share one store)."""
    admit: Callable[..., Any] | None = getattr(manager, "_admit_session", None)
    if admit is None:
        return False

    def admit_scoped(*args: Any, **kwargs: Any) -> Any:
        transport = admit(*args, **kwargs)
        if transport is not None:
            transport._event_store = store_for(transport.mcp_session_id)
        return transport

    manager._admit_session = admit_scoped
    return True


def wrap_request_handler(manager: Any, wrap: Callable[[Any], Any]) -> bool:
    """Put ``wrap(handler)`` where ``manager``'s body limit calls its request handler: after the routing, the
    auth middleware and the body limit (the body arrives read, as one message), before the SDK's transports.
    False when the SDK no longer has that shape (the caller then leaves every request to the SDK)."""
    limit: Any = getattr(manager, "asgi_app", None)
    handler = getattr(limit, "app", None)
    if not callable(handler) or not isinstance(getattr(limit, "max_body_size", None), int):
        return False
    limit.app = wrap(handler)
    return True


def session_transport(manager: Any, session_id: str, user: Any) -> Any | None:
    """The transport of ``manager``'s open session ``session_id`` if a request by ``user`` (the ASGI scope's)
    may use it, as the manager decides it: the session is known, its owner is the request's credential, and
    it is neither terminated nor ending after its idle time. Else None (the SDK then answers the request)."""
    instances, owners = getattr(manager, "_server_instances", None), getattr(manager, "_session_owners", None)
    if not isinstance(instances, dict) or not isinstance(owners, dict):
        return None
    transport = instances.get(session_id)
    if transport is None or transport.is_terminated:
        return None
    requestor = authorization_context(user) if isinstance(user, AuthenticatedUser) else None
    if requestor != owners.get(session_id):
        return None
    idle = transport.idle_scope
    counted = isinstance(getattr(transport, "_requests_in_flight", None), int)
    if idle is not None and (idle.cancel_called or not counted):
        return None
    return transport


def session_ids(manager: Any) -> Container[str]:
    """The ids of the sessions ``manager`` keeps open now."""
    instances: dict[str, Any] = getattr(manager, "_server_instances", {})
    return instances.keys()


@contextlib.contextmanager
def request_in_flight(transport: Any) -> Iterator[None]:
    """What the transport's ``handle_request`` does around every request: while one is in flight the session's
    idle countdown is suspended, and it restarts when the last one ends."""
    idle, timeout = transport.idle_scope, getattr(transport, "_idle_timeout", None)
    if idle is None or timeout is None:
        yield
        return
    transport._requests_in_flight += 1
    idle.deadline = math.inf
    try:
        yield
    finally:
        transport._requests_in_flight -= 1
        if not transport._requests_in_flight:
            idle.deadline = anyio.current_time() + timeout


async def resumed_stream_send(transport: Any, stream_id: str, message: dict[str, Any], event_id: str) -> None:
    """Hand ``message`` (stored as ``event_id``) to the stream a client's ``GET`` with ``Last-Event-ID`` resumed
    for ``stream_id``, if one did: the transport forwards what reaches its request streams as the SDK's own
    message router feeds them. Nothing when no client resumed the stream (the store keeps the message)."""
    streams = getattr(transport, "_request_streams", None)
    pair = streams.get(stream_id) if isinstance(streams, dict) else None
    if pair is None:
        return
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
        await pair[0].send(EventMessage(jsonrpc_message_adapter.validate_python(message), event_id))


def event_store_of(transport: Any) -> Any:
    """The event store a session's transport keeps its streams' events in (None: not resumable)."""
    return transport._event_store


def lowlevel_server(server: MCPServer[Any]) -> Server[Any]:
    """The low-level ``Server`` an ``MCPServer`` runs (handlers, middleware, ``run``)."""
    lowlevel: Server[Any] = server._lowlevel_server
    return lowlevel


def keep_sdk_spans(server: MCPServer[Any], keep: bool) -> None:
    """Keep (or drop) the SDK's own span around every request. The SDK installs it by default and says to
    drop it to opt out; with no tracer provider set up it is a no-op that still costs each request about
    10 us, so plugyard keeps it only when its own telemetry is on (``[telemetry] enabled``)."""
    middleware = lowlevel_server(server).middleware
    present = any(isinstance(m, OpenTelemetryMiddleware) for m in middleware)
    if keep and not present:
        middleware.insert(0, OpenTelemetryMiddleware())
    elif not keep and present:
        middleware[:] = [m for m in middleware if not isinstance(m, OpenTelemetryMiddleware)]


def connection_of(session: ServerSession) -> Connection:
    """The per-client ``Connection`` behind a request's session: per-connection state (log level,
    subscriptions) and the standalone channel notifications ride."""
    connection: Connection = session._connection
    return connection


def request_context_of(context: Context[Any, Any] | None) -> ServerRequestContext[Any, Any] | None:
    """The request a ``Context`` belongs to, or None outside a request (the public property raises)."""
    if context is None:
        return None
    try:
        return context.request_context
    except ValueError:
        return None


class SdkServer(MCPServer[Any]):
    """An ``MCPServer`` whose private hooks are reached through public names.

    Subclasses override ``handle_tools_call`` and ``tool_input_schema`` and fall back to the SDK's
    own through ``sdk_handle_tools_call`` and ``sdk_tool_input_schema``."""

    @property
    def lowlevel(self) -> Server[Any]:
        return lowlevel_server(self)

    @property
    def subscription_bus(self) -> SubscriptionBus:
        """Where ``subscriptions/listen`` streams (2026-07-28) get their change events."""
        bus: SubscriptionBus = self._subscriptions
        return bus

    # The SDK binds both at construction (``on_call_tool=self._handle_call_tool``,
    # ``get_tool_input_schema=self._tool_input_schema``): overriding them is the only way in.

    async def _handle_call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        return await self.handle_tools_call(ctx, params)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        return self.tool_input_schema(name)

    async def handle_tools_call(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        """The ``tools/call`` handler: by default the SDK's (a ``Context``, then ``call_tool``)."""
        return await self.sdk_handle_tools_call(ctx, params)

    async def sdk_handle_tools_call(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        return await super()._handle_call_tool(ctx, params)

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        """A tool's input schema, asked before middleware runs (the ``Mcp-Param`` header check)."""
        return self.sdk_tool_input_schema(name)

    def sdk_tool_input_schema(self, name: str) -> dict[str, Any] | None:
        return super()._tool_input_schema(name)

    def sdk_has_prompt(self, name: str) -> bool:
        """Whether the SDK's own prompt registry (``@server.prompt``) holds ``name``."""
        return self._prompt_manager.get_prompt(name) is not None

    def tool_context(self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> Context[Any, Any]:
        """The ``Context`` the SDK's own handler would build for this ``tools/call``."""
        return Context(request_context=ctx, mcp_server=self, input_params=params, subscriptions=self._subscriptions)

    def advertise_list_changed(self) -> None:
        """Make a handshake-era ``initialize`` advertise every ``listChanged`` flag when the caller
        asks for none (every transport calls ``create_initialization_options()`` with no arguments)."""
        lowlevel = self.lowlevel
        original = lowlevel.create_initialization_options

        def initialization_options(
            notification_options: NotificationOptions | None = None,
            experimental_capabilities: dict[str, dict[str, Any]] | None = None,
            extensions: dict[str, dict[str, Any]] | None = None,
        ) -> Any:
            options = notification_options or NotificationOptions(True, True, True)
            return original(options, experimental_capabilities, extensions)

        lowlevel.create_initialization_options = initialization_options  # type: ignore[method-assign]
