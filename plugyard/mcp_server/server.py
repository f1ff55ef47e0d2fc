"""The MCP face of a PluginHost: plugin tools listed and called through the core pipeline.

This adapter translates; it does not decide. Every plugin tool call goes to
``host.pipeline`` (validation, hooks, timeout, recording); the result is turned into MCP
content with the SDK's own conversion, so output schemas and structured content are exactly
what an ``MCPServer`` tool would produce.
"""

from __future__ import annotations

import logging
import typing
import uuid
from collections.abc import Callable
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata, func_metadata
from mcp.types import CallToolRequestParams, CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from mcp.types import Tool as MCPTool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

import plugyard
from plugyard.core import health, tool_search
from plugyard.core.calls import ProgressReporter
from plugyard.core.content import RawResult, declares_content, structured_model_of
from plugyard.core.errors import InputRequired, ToolResultError, UnknownTool
from plugyard.core.host import PluginHost
from plugyard.core.llm import use_sampler
from plugyard.core.tools import Tool
from plugyard.mcp_server._sdk import (
    connection_of,
    keep_sdk_spans,
    lowlevel_server,
    request_context_of,
    wrap_request_handler,
)
from plugyard.mcp_server.client_channel import LazyClientChannel
from plugyard.mcp_server.content import raw_result, structured_result, tool_result
from plugyard.mcp_server.features import FeatureServer
from plugyard.mcp_server.hosts import is_loopback
from plugyard.mcp_server.http_lane import HttpLane
from plugyard.mcp_server.lane import LaneChannel
from plugyard.mcp_server.session_lane import SessionLane

log = logging.getLogger("plugyard.mcp")

CALL_ID_META = "plugyard/call_id"
HEALTH_PATH = "/healthz"

INSTRUCTIONS = (
    "plugyard serves tools from installed plugins. Every call is recorded; each result's "
    f"_meta['{CALL_ID_META}'] identifies the call."
)


def _annotations(tool: Tool) -> ToolAnnotations | None:
    hints = {
        "read_only_hint": tool.read_only,
        "destructive_hint": tool.destructive,
        "idempotent_hint": tool.idempotent,
        "open_world_hint": tool.open_world,
    }
    if all(v is None for v in hints.values()) and tool.title is None:
        return None
    return ToolAnnotations(title=tool.title, **hints)


def _output_metadata(tool: Tool) -> FuncMetadata | None:
    skip = [tool.context_param] if tool.context_param else []
    structured = tool.structured_output
    if structured is None and _is_plain_text(_return_annotation(tool)):
        # plugyard content blocks, and text, are what the model reads, not data: no schema (the SDK
        # does so for its own content types) unless the tool asks for structure.
        structured = False
    try:
        return func_metadata(tool.fn, skip_names=skip, structured_output=structured)
    except Exception as exc:  # noqa: BLE001 - a plugin's signature the SDK cannot take: the tool still serves
        # Its results are sent as unstructured content.
        log.warning("tool %r of plugin %r: no output schema (%s)", tool.name, tool.plugin, exc)
        return None


class _NoArguments(ArgModelBase):
    pass


# Conversion for tools whose return type has no schema: content blocks only, as the SDK does.
_UNSTRUCTURED = FuncMetadata(arg_model=_NoArguments)


def _is_plain_text(annotation: Any) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation is str or declares_content(annotation)


def _return_annotation(tool: Tool) -> Any:
    try:
        return typing.get_type_hints(tool.fn, include_extras=True).get("return")
    except (NameError, TypeError, AttributeError, SyntaxError):
        return None  # unresolvable annotations: no declared return type


def _structured_metadata(tool: Tool) -> FuncMetadata | None:
    """For ``Annotated[plugyard.ToolResult, Model]``: the SDK's metadata of a function returning ``Model``."""
    model = structured_model_of(_return_annotation(tool))
    if model is None:
        return None

    def shape() -> Any: ...

    shape.__annotations__["return"] = model
    shape.__name__ = tool.name
    return func_metadata(shape, structured_output=True)


class PlugyardServer(FeatureServer):
    """An ``MCPServer`` whose tools, resources and prompts are the host's plugins'."""

    def __init__(self, host: PluginHost, **kwargs: Any) -> None:
        kwargs.setdefault("instructions", INSTRUCTIONS)
        super().__init__(name=host.config.server.name, version=plugyard.__version__, **kwargs)
        self._adopt(host)
        # stdio and in-memory transports carry one client per server: that connection is the session.
        self._connection_id = str(uuid.uuid4())
        # Load balancers probe this; like every custom route it is outside MCP authentication.
        self._health_check = health.SharedCheck()
        self.custom_route(HEALTH_PATH, methods=["GET"], include_in_schema=False)(self._healthz)
        self._install_features()

    def streamable_http_app(self, **kwargs: Any) -> Starlette:
        """The SDK's app; with SSE answers, a lane in front of its request handler: the HTTP lane in stateless
        mode, the session lane with sessions."""
        app: Starlette = super().streamable_http_app(**kwargs)
        manager = self.session_manager
        if manager.json_response:
            return app
        security = manager.security_settings
        if manager.stateless:
            lane: Callable[[Any], Any] = lambda handler: HttpLane(self, handler, security)  # noqa: E731
        else:
            retry_ms = kwargs.get("retry_interval")
            lane = lambda handler: SessionLane(self, handler, manager, security, retry_ms)  # noqa: E731
        if not wrap_request_handler(manager, lane):
            log.warning("the SDK's request handler moved: every HTTP request goes to the SDK")
        return app

    def use_host(self, host: PluginHost) -> None:
        super().use_host(host)
        self._adopt(host)

    def _adopt(self, host: PluginHost) -> None:
        """What serving ``host`` needs, at start and after a live reload."""
        self.host = host
        keep_sdk_spans(self, host.config.telemetry.enabled)
        # The lanes (lane.py, http_lane.py) answer past the SDK, so past its span per request: off when it is kept.
        self.lanes_open = not host.config.telemetry.enabled
        # Read once: it may consult the OS user database, which costs more than the whole call path.
        self._default_user = host.config.default_user
        self._index_tools()
        # Converted inside the pipeline, before the after hooks: a result that fits no schema is recorded
        # as the failure its client sees (docs/architecture.md, "A tool call's journey").
        host.pipeline.convert_result = self._convert_result

    def _convert_result(self, tool: Tool, value: Any) -> Any:
        if self._generation != self.host.tools.generation:
            self._index_tools()
        if isinstance(value, RawResult):
            return raw_result(value)  # forwarded as it is
        if tool.output_schema is not None and isinstance(value, dict):
            return structured_result(value)  # a tool registered with its output_schema
        return tool_result(value, self._outputs.get(tool.name) or _UNSTRUCTURED, self._structured.get(tool.name))

    def _index_tools(self) -> None:
        """What tools/list shows and how results convert, computed once per registry state."""
        self._generation = self.host.tools.generation
        self._outputs: dict[str, FuncMetadata | None] = {}
        self._structured: dict[str, FuncMetadata | None] = {}
        self._listed: list[MCPTool] = []
        for tool in self.host.tools:
            meta = None
            if tool.output_schema is None:  # a tool registered with its output_schema has no entry
                meta = self._outputs[tool.name] = _output_metadata(tool)
            structured = _structured_metadata(tool)
            self._structured[tool.name] = structured
            schema_of = structured or meta
            output_schema = tool.output_schema
            if output_schema is None and schema_of is not None:
                output_schema = schema_of.output_schema
            self._listed.append(
                MCPTool(
                    name=tool.name,
                    title=tool.title,
                    description=tool.description,
                    input_schema=tool.input_schema,
                    output_schema=output_schema,
                    annotations=_annotations(tool),
                    _meta={"plugyard/plugin": tool.plugin},
                )
            )

    async def _healthz(self, request: Request) -> JSONResponse:
        report = await self._health_check(self.host)
        # Paths, URLs and error messages only to a caller on this machine (probes need the status alone).
        body = report.as_dict() if request.client is not None and is_loopback(request.client.host) else report.public()
        return JSONResponse(body, status_code=200 if report.healthy else 503)

    async def list_tools(self) -> list[MCPTool]:
        host = self.host
        if self._generation != host.tools.generation:
            self._index_tools()  # a plugin re-registered its tools
        listed = self._listed
        searching = host.tool_search_on()
        if searching or host.config.server.rank_tools:
            # What is listed, in which order, is the core's decision; this only applies it.
            by_name = {t.name: t for t in self._listed}
            listed = [by_name[t.name] for t in host.tools_for(self._user_id()) if t.name in by_name]
            if searching:
                listed.append(_PROXY_ENTRY)
        return [*listed, *await super().list_tools()]

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        tool = self.host.tools.get(name)
        if tool is None and name == tool_search.PROXY_TOOL:
            return tool_search.PROXY_INPUT_SCHEMA
        return tool.input_schema if tool is not None else self.sdk_tool_input_schema(name)

    def _session_id(self, context: Context[Any, Any] | None) -> str | None:
        request_context = request_context_of(context)
        return None if request_context is None else self._request_session_id(request_context)

    def _request_session_id(self, request_context: ServerRequestContext[Any, Any]) -> str | None:
        headers = getattr(request_context.request, "headers", None)
        if headers is None:
            return self._connection_id
        # Streamable HTTP: the client's session, or none at all in stateless mode.
        session_id: str | None = headers.get("mcp-session-id")
        return session_id

    def _user_id(self) -> str:
        token = get_access_token()
        if token is not None:
            return token.subject or token.client_id
        return self._default_user

    async def handle_tools_call(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult | InputRequiredResult:
        # The SDK's own handler builds a ``Context`` model for every call; a plugin tool needs one only
        # when it talks to its client (log, sample, elicit), so it is built then.
        host = self.host
        if not host.serves_tool(params.name):
            return await self.sdk_handle_tools_call(ctx, params)

        def context() -> Context[Any, Any]:
            return self.tool_context(ctx, params)

        result: CallToolResult | InputRequiredResult = await self._call_plugin_tool(
            host, params.name, params.arguments or {}, ctx, context
        )
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        host = self.host
        if not host.serves_tool(name):
            return await super().call_tool(name, arguments, context)
        request_context = request_context_of(context)
        if context is None or request_context is None:
            return await self._call_plugin_tool(host, name, arguments, None, _no_context)
        return await self._call_plugin_tool(host, name, arguments, request_context, lambda: context)

    async def _call_plugin_tool(
        self,
        host: PluginHost,
        name: str,
        arguments: dict[str, Any],
        request_context: ServerRequestContext[Any, Any] | None,
        context: Callable[[], Context[Any, Any]],
    ) -> Any:
        progress = None
        channel: LazyClientChannel | None = None
        session_id = None
        if request_context is not None:
            session = request_context.session
            progress = session.report_progress
            channel = LazyClientChannel(context, lambda: connection_of(session).state)
            session_id = self._request_session_id(request_context)
        return await self._run_plugin_tool(host, name, arguments, progress, channel, session_id)

    def server_info_stamp(self) -> dict[str, Any]:
        """The ``serverInfo`` the SDK stamps on a 2026-07-28 result (a fresh copy each time)."""
        stamp: dict[str, Any] = lowlevel_server(self).server_info_stamp
        return stamp

    @property
    def connection_id(self) -> str:
        """The session id of this server's stdio connection (HTTP sessions have their own)."""
        return self._connection_id

    async def call_plugin_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        progress: ProgressReporter | None,
        channel: LaneChannel,
        session_id: str | None,
    ) -> CallToolResult | InputRequiredResult:
        """A call on a lane (``lane.py``, ``http_lane.py``): the same journey as one the SDK dispatched."""
        result: CallToolResult | InputRequiredResult = await self._run_plugin_tool(
            self.host, name, arguments, progress, channel, session_id
        )
        return result

    async def _run_plugin_tool(
        self,
        host: PluginHost,
        name: str,
        arguments: dict[str, Any],
        progress: ProgressReporter | None,
        channel: LazyClientChannel | LaneChannel | None,
        session_id: str | None,
    ) -> Any:
        # One host state for the whole call, even if a live reload switches hosts meanwhile.
        outputs, structured = self._outputs, self._structured
        try:
            # A tool that needs a language model (the assistant) may reach the client's through sampling:
            # the channel is the sampler (both protocol versions; nothing looked up until a model is wanted).
            with host.in_use(), use_sampler(channel):
                outcome = await host.pipeline.call(
                    name,
                    arguments,
                    user_id=self._user_id(),
                    session_id=session_id,
                    progress=progress,
                    client=channel,
                )
        except UnknownTool as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
        meta = {CALL_ID_META: outcome.call.call_id}
        if channel is not None and channel.pending and isinstance(_cause(outcome.error), InputRequired):
            # The tool asked its client; it runs again with the answer (see docs/architecture.md, "Input required").
            return channel.input_required()
        if not outcome.success:
            if isinstance(outcome.error, ToolResultError):
                return raw_result(outcome.error.result, meta)  # the tool's own error result, as it is
            return CallToolResult(content=[TextContent(type="text", text=outcome.message)], is_error=True, _meta=meta)
        name = outcome.call.tool_name  # through call_tool: the tool it ran
        result = outcome.converted
        if result is None:  # a pipeline without our conversion (cannot fail: it was checked)
            result = tool_result(outcome.result, outputs.get(name) or _UNSTRUCTURED, structured.get(name))
        if isinstance(result, CallToolResult):
            merged = {**(result.meta or {}), **meta}
            result.meta = merged  # the result is ours alone; copying it would cost more than the call
        return result


_PROXY_ENTRY = MCPTool(
    name=tool_search.PROXY_TOOL,
    description=tool_search.PROXY_DESCRIPTION,
    input_schema=tool_search.PROXY_INPUT_SCHEMA,
    _meta={"plugyard/plugin": "plugyard"},
)


def _no_context() -> Context[Any, Any]:
    raise AssertionError("a call made outside a request has no client channel")


def _cause(error: BaseException | None) -> BaseException | None:
    return error.__cause__ if error is not None and error.__cause__ is not None else error
