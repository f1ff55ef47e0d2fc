"""One test per private MCP SDK name plugyard relies on (``plugyard/mcp_server/_sdk.py``).

The SDK is pinned exactly; when an upgrade moves one of these names, the failing test says which
touch broke, in its name and in its message, instead of some far-away adapter test failing oddly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.session import ServerSession
from mcp.shared.subscriptions import ToolsListChanged
from mcp.types import CallToolRequestParams, CallToolResult, InputRequiredResult, TextContent

from plugyard.mcp_server import _sdk
from plugyard.mcp_server._sdk import SdkServer

pytestmark = pytest.mark.anyio

TESTED: dict[str, str] = {}


def touch(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test as the one for the private SDK name ``name`` (an entry of ``_sdk.TOUCHES``)."""

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        TESTED[name] = test.__name__
        return test

    return mark


def moved(name: str, detail: str = "") -> str:
    what = f"{name} changed: {detail}" if detail else f"{name} changed"
    return f"mcp {version('mcp')}: the SDK's {what}; see plugyard/mcp_server/_sdk.py"


def parameters(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_every_touch_of_the_seam_has_a_test():
    assert set(TESTED) == set(_sdk.TOUCHES), "a touch in _sdk.TOUCHES without a test here (or the reverse)"


class Recording(SdkServer):
    """An SdkServer whose overrides say they were reached."""

    def __init__(self) -> None:
        super().__init__(name="seam")
        self.seen: list[Any] = []

    async def handle_tools_call(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        context = self.tool_context(ctx, params)
        self.seen.append((ctx, context, _sdk.connection_of(ctx.session)))
        return CallToolResult(content=[TextContent(type="text", text=f"seam:{params.name}")])

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        return {"type": "object", "title": f"seam:{name}"}


@touch("MCPServer._lowlevel_server")
def test_touch_mcpserver_lowlevel_server():
    server = MCPServer("x")
    lowlevel = getattr(server, "_lowlevel_server", None)
    assert isinstance(lowlevel, Server), moved("MCPServer._lowlevel_server", f"got {lowlevel!r}")
    assert _sdk.lowlevel_server(server) is lowlevel
    assert lowlevel.get_request_handler("tools/call") is not None, moved(
        "MCPServer._lowlevel_server", "it no longer holds the server's handlers"
    )


@touch("MCPServer._subscriptions")
async def test_touch_mcpserver_subscriptions():
    server = SdkServer("x")
    bus = getattr(server, "_subscriptions", None)
    assert callable(getattr(bus, "publish", None)), moved("MCPServer._subscriptions", f"got {bus!r}")
    async with Client(server) as client, client.listen(tools_list_changed=True) as events:
        await server.subscription_bus.publish(ToolsListChanged())
        with anyio.fail_after(10):
            got = await events.__anext__()
    assert got == ToolsListChanged(), moved("MCPServer._subscriptions", "it is not the bus listeners hear")


@touch("MCPServer._handle_call_tool")
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_touch_mcpserver_handle_call_tool(mode):
    assert parameters(MCPServer._handle_call_tool) == ["self", "ctx", "params"], moved(
        "MCPServer._handle_call_tool", str(inspect.signature(MCPServer._handle_call_tool))
    )
    server = Recording()
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("anything", {})
    assert [b.text for b in result.content] == ["seam:anything"], moved(
        "MCPServer._handle_call_tool", "an override is no longer what tools/call reaches"
    )
    # And the SDK's own handler is still there to fall back to.
    fallback = SdkServer("x")
    fallback.add_tool(lambda: "sdk", name="own")
    async with Client(fallback, mode=mode) as client:
        assert [b.text for b in (await client.call_tool("own", {})).content] == ["sdk"]


@touch("MCPServer._tool_input_schema")
def test_touch_mcpserver_tool_input_schema():
    assert parameters(MCPServer._tool_input_schema) == ["self", "name"], moved(
        "MCPServer._tool_input_schema", str(inspect.signature(MCPServer._tool_input_schema))
    )
    server = Recording()
    lookup = server.lowlevel.get_tool_input_schema
    assert lookup is not None and lookup("t") == {"type": "object", "title": "seam:t"}, moved(
        "MCPServer._tool_input_schema", "an override is no longer what the low-level server asks"
    )
    plain = SdkServer("x")
    plain.add_tool(lambda a: a, name="echo")
    schema = plain.sdk_tool_input_schema("echo")
    assert schema is not None and "a" in schema["properties"]


@touch("MCPServer._prompt_manager")
def test_touch_mcpserver_prompt_manager():
    server = SdkServer("x")
    assert callable(getattr(getattr(server, "_prompt_manager", None), "get_prompt", None)), moved(
        "MCPServer._prompt_manager", "no get_prompt"
    )

    @server.prompt()
    def greet() -> str:
        return "hi"

    assert server.sdk_has_prompt("greet") and not server.sdk_has_prompt("nope"), moved("MCPServer._prompt_manager")


class Sessions:
    """Middleware keeping each request's session."""

    def __init__(self) -> None:
        self.sessions: list[ServerSession] = []

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        self.sessions.append(ctx.session)
        return await call_next(ctx)


@touch("ServerSession._connection")
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_touch_serversession_connection(mode):
    sessions = Sessions()
    server = SdkServer("x", middleware=[sessions])
    async with Client(server, mode=mode) as client:
        await client.list_tools()
        await client.list_tools()
    connections = [getattr(s, "_connection", None) for s in sessions.sessions]
    assert connections and all(isinstance(c, Connection) for c in connections), moved(
        "ServerSession._connection", f"got {connections!r}"
    )
    assert all(isinstance(_sdk.connection_of(s).state, dict) for s in sessions.sessions)
    if mode == "legacy":
        # One handshake-era client, one connection: its state (log level, subscriptions) lives there.
        assert len({id(c) for c in connections}) == 1, moved("ServerSession._connection", "not one per client")


@touch("Context(request_context=, mcp_server=, input_params=, subscriptions=)")
async def test_touch_context_constructor():
    signature = inspect.signature(Context.__init__)
    for name in ("request_context", "mcp_server", "input_params", "subscriptions"):
        assert name in signature.parameters, moved("Context(...)", f"no keyword {name!r}: {signature}")
    server = Recording()
    async with Client(server) as client:
        await client.call_tool("t", {})
    [(ctx, context, _connection)] = server.seen
    assert context.request_context is ctx and _sdk.request_context_of(context) is ctx, moved("Context(...)")
    assert context.mcp_server is server and context.input_responses is None
    assert _sdk.request_context_of(Context()) is None and _sdk.request_context_of(None) is None, moved(
        "Context.request_context", "outside a request it no longer raises ValueError"
    )


@touch("Server.create_initialization_options")
async def test_touch_server_create_initialization_options():
    assert parameters(Server.create_initialization_options) == [
        "self",
        "notification_options",
        "experimental_capabilities",
        "extensions",
    ], moved("Server.create_initialization_options", str(inspect.signature(Server.create_initialization_options)))
    plain, advertising = SdkServer("x"), SdkServer("x")
    advertising.advertise_list_changed()
    async with Client(plain, mode="legacy") as client:
        assert not client.server_capabilities.tools.list_changed
    async with Client(advertising, mode="legacy") as client:
        caps = client.server_capabilities
    assert caps.tools.list_changed and caps.prompts.list_changed and caps.resources.list_changed, moved(
        "Server.create_initialization_options", "transports no longer call it for the initialize result"
    )


def test_plugyard_server_names_do_not_shadow_the_sdks_private_ones():
    """PlugyardServer adds private attributes of its own to an MCPServer subclass: one with the
    name of an SDK attribute would silently replace it."""
    from plugyard.mcp_server.features import FeatureServer
    from plugyard.mcp_server.server import PlugyardServer

    sdk_server = MCPServer("x")
    sdk = set(vars(sdk_server)) | {n for cls in MCPServer.__mro__ for n in vars(cls)}
    ours = {n for cls in (PlugyardServer, FeatureServer) for n in vars(cls)}
    allowed = {"_handle_call_tool", "_tool_input_schema"}  # the seam's deliberate overrides (SdkServer)
    clashes = sorted(n for n in ours & sdk if n.startswith("_") and not n.startswith("__") and n not in allowed)
    assert clashes == [], moved("MCPServer private attributes", f"plugyard's {clashes} shadow them")


@touch("StreamableHTTPSessionManager._admit_session")
def test_the_session_manager_admits_sessions_through_one_method():
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    assert callable(getattr(StreamableHTTPSessionManager, "_admit_session", None)), moved(
        "StreamableHTTPSessionManager._admit_session"
    )


@touch("StreamableHTTPServerTransport._event_store")
def test_the_transport_keeps_its_event_store_on_one_attribute():
    from mcp.server.streamable_http import StreamableHTTPServerTransport

    transport = StreamableHTTPServerTransport(mcp_session_id="s", event_store=None)
    assert hasattr(transport, "_event_store"), moved("StreamableHTTPServerTransport._event_store")


@touch("StreamableHTTPSessionManager.asgi_app.app")
def test_the_session_manager_calls_its_handler_behind_the_body_limit():
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import RequestBodyLimitMiddleware

    manager = StreamableHTTPSessionManager(app=SdkServer(name="seam").lowlevel, stateless=True)
    limit = manager.asgi_app
    assert isinstance(limit, RequestBodyLimitMiddleware), moved("StreamableHTTPSessionManager.asgi_app")
    assert getattr(limit.app, "__func__", None) is StreamableHTTPSessionManager._handle_request, moved(
        "StreamableHTTPSessionManager.asgi_app.app", "the body limit no longer calls the request handler"
    )
    seen = []
    assert _sdk.wrap_request_handler(manager, lambda handler: seen.append(handler) or handler)
    assert seen and seen[0].__func__ is StreamableHTTPSessionManager._handle_request


@touch("mcp.server._otel.OpenTelemetryMiddleware")
@pytest.mark.parametrize("telemetry", [False, True])
async def test_touch_sdk_request_spans_only_when_telemetry_is_on(telemetry, tmp_path, monkeypatch):
    pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK (the [test] extra) records spans")
    from mcp.shared import _otel
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from plugyard.core.config import parse_config
    from plugyard.core.host import PluginHost
    from plugyard.mcp_server.server import PlugyardServer
    from tests.conftest import sample_plugin

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert hasattr(_otel, "_tracer"), moved(
        "mcp.server._otel.OpenTelemetryMiddleware", "its tracer is not _otel._tracer"
    )
    monkeypatch.setattr(_otel, "_tracer", provider.get_tracer("mcp-python-sdk"))
    config = parse_config(
        {"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}, "telemetry": {"enabled": telemetry}}
    )
    host = PluginHost(config, entry_points=False, plugins={"sample": sample_plugin()}).load()
    async with host.running():
        server = PlugyardServer(host)
        async with Client(server) as client:
            assert not (await client.call_tool("add", {"a": 1, "b": 2})).is_error
    names = [s.name for s in exporter.get_finished_spans()]
    # The SDK's span per request is there exactly when plugyard's telemetry is on.
    assert ("tools/call add" in names) is telemetry, moved(
        "mcp.server._otel.OpenTelemetryMiddleware", f"spans with telemetry={telemetry}: {names}"
    )
    provider.shutdown()


@touch("StreamableHTTPSessionManager._server_instances/_session_owners")
async def test_the_session_manager_keeps_its_sessions_and_their_owners_in_two_maps():
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    manager = StreamableHTTPSessionManager(app=SdkServer(name="seam").lowlevel)
    assert isinstance(getattr(manager, "_server_instances", None), dict), moved(
        "StreamableHTTPSessionManager._server_instances"
    )
    assert isinstance(getattr(manager, "_session_owners", None), dict), moved(
        "StreamableHTTPSessionManager._session_owners"
    )
    alice = AuthenticatedUser(AccessToken(token="t", client_id="alice", scopes=[]))
    transport = manager._admit_session(None)
    assert transport is not None
    sid = transport.mcp_session_id
    assert sid in _sdk.session_ids(manager)
    assert _sdk.session_transport(manager, sid, None) is transport
    assert _sdk.session_transport(manager, sid, alice) is None  # another credential's session
    assert _sdk.session_transport(manager, "nope", None) is None
    owned = manager._admit_session(_sdk.authorization_context(alice))
    assert owned is not None
    assert _sdk.session_transport(manager, owned.mcp_session_id, alice) is owned
    assert _sdk.session_transport(manager, owned.mcp_session_id, None) is None


@touch("StreamableHTTPServerTransport._requests_in_flight/_idle_timeout")
async def test_a_request_in_flight_holds_the_sessions_idle_countdown_as_the_transport_does():
    import math

    import anyio
    from mcp.server.streamable_http import StreamableHTTPServerTransport

    transport = StreamableHTTPServerTransport(mcp_session_id="s", idle_timeout=60)
    assert transport._requests_in_flight == 0 and transport._idle_timeout == 60, moved(
        "StreamableHTTPServerTransport._requests_in_flight"
    )
    transport.idle_scope = anyio.CancelScope()
    with _sdk.request_in_flight(transport):
        assert transport.idle_scope.deadline == math.inf and transport._requests_in_flight == 1
    assert transport._requests_in_flight == 0
    assert 0 < transport.idle_scope.deadline - anyio.current_time() <= 60


@touch("StreamableHTTPServerTransport._request_streams")
async def test_a_resumed_stream_gets_what_reaches_its_request_stream():
    import anyio
    from mcp.server.streamable_http import EventMessage, StreamableHTTPServerTransport

    transport = StreamableHTTPServerTransport(mcp_session_id="s")
    assert isinstance(getattr(transport, "_request_streams", None), dict), moved(
        "StreamableHTTPServerTransport._request_streams"
    )
    answer = {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}
    await _sdk.resumed_stream_send(transport, "1", answer, "e1")  # no client resumed it: nothing to do
    send, receive = anyio.create_memory_object_stream[EventMessage](1)
    transport._request_streams["1"] = (send, receive)
    await _sdk.resumed_stream_send(transport, "1", answer, "e2")
    got = receive.receive_nowait()
    assert got.event_id == "e2" and got.message.model_dump(by_alias=True, exclude_none=True) == answer
    send.close()
    receive.close()
