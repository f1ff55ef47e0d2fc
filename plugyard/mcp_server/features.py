"""The MCP features beyond tools, for the host's plugins: resources, prompts, completion,
``logging/setLevel``, resource subscriptions and list-changed notifications.

Translation only: what exists and what it returns is the core's (``host.resources``,
``host.prompts``, ``host.events``). The SDK's own registrations (none by default) still serve
after the plugins'.

Notifications, by protocol version:

- 2026-07-28: change events ride ``subscriptions/listen`` streams (the SDK's subscription bus):
  ``tools/prompts/resources list_changed`` and ``resources/updated`` for the URIs a stream asked for.
- 2025-11-25 handshake sessions: ``resources/subscribe`` / ``unsubscribe`` are answered and remembered
  per connection; list-changed notifications go to every connected session, ``resources/updated`` to
  the sessions subscribed to that URI. The initialize result advertises ``listChanged`` and
  ``subscribe`` because both are implemented.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared import subscriptions as events
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    EmptyResult,
    GetPromptResult,
    InputRequiredResult,
    PromptReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp.types import Prompt as MCPPrompt
from mcp.types import PromptArgument as MCPPromptArgument
from mcp.types import Resource as MCPResource
from mcp.types import ResourceTemplate as MCPResourceTemplate
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import AnyUrl

from plugyard.core.client import HostEvent, ListsChanged, ResourceUpdated
from plugyard.core.errors import PromptArgumentsInvalid, PromptNotFound, ResourceNotFound
from plugyard.core.host import PluginHost
from plugyard.core.resources import ResourceContext, complete_with
from plugyard.mcp_server._sdk import SdkServer, connection_of
from plugyard.mcp_server.client_channel import LOG_LEVEL_STATE
from plugyard.mcp_server.content import prompt_message

log = logging.getLogger("plugyard.mcp")

PLUGIN_META = "plugyard/plugin"
SUBSCRIBED = "plugyard/subscriptions"
_TRACKED = "plugyard/tracked"


class FeatureServer(SdkServer):
    """Resources, prompts, completion, logging level and notifications from a ``PluginHost``."""

    host: PluginHost

    def _install_features(self) -> None:
        low = self.lowlevel
        low.add_request_handler("completion/complete", CompleteRequestParams, self._handle_complete)
        low.add_request_handler("logging/setLevel", SetLevelRequestParams, self._handle_set_level)
        low.add_request_handler("resources/subscribe", SubscribeRequestParams, self._handle_subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._handle_unsubscribe)
        # Handshake-era listChanged flags are advertised only when asked for: they are implemented.
        self.advertise_list_changed()
        self.middleware.append(self._track_connection)
        self._connections: dict[Connection, None] = {}
        self._stop_listening = self.host.events.subscribe(self._on_host_event)

    def use_host(self, host: PluginHost) -> None:
        """Serve ``host`` from now on (a live reload). Requests already running keep the host they
        started with; connections, their subscriptions and log levels carry over."""
        self._stop_listening()
        self.host = host
        self._stop_listening = host.events.subscribe(self._on_host_event)

    def _user_id(self) -> str:
        return self.host.config.default_user

    def _session_id(self, context: Context[Any, Any] | None) -> str | None:
        return None

    def _reader(self, context: Context[Any, Any] | None) -> ResourceContext:
        """Who reads a resource: the same user and session a tool call of this request would record."""
        return ResourceContext(user_id=self._user_id(), session_id=self._session_id(context))

    # -- handshake-era sessions ---------------------------------------------------------------

    async def _track_connection(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "initialize" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            connection = connection_of(ctx.session)
            if not connection.state.get(_TRACKED):
                connection.state[_TRACKED] = True
                self._connections[connection] = None
                connection.exit_stack.callback(self._connections.pop, connection, None)
        return result

    def _legacy_connections(self) -> list[Connection]:
        return list(self._connections)

    async def _handle_set_level(
        self, ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        connection_of(ctx.session).state[LOG_LEVEL_STATE] = params.level
        return EmptyResult()

    async def _handle_subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        connection_of(ctx.session).state.setdefault(SUBSCRIBED, set()).add(str(params.uri))
        return EmptyResult()

    async def _handle_unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        connection_of(ctx.session).state.setdefault(SUBSCRIBED, set()).discard(str(params.uri))
        return EmptyResult()

    async def _on_host_event(self, event: HostEvent) -> None:
        if isinstance(event, ResourceUpdated):
            await self.subscription_bus.publish(events.ResourceUpdated(uri=event.uri))
            for connection in self._legacy_connections():
                if event.uri in connection.state.get(SUBSCRIBED, ()):
                    await connection.send_resource_updated(event.uri)
        elif isinstance(event, ListsChanged):
            for sdk_event in (events.ToolsListChanged(), events.PromptsListChanged(), events.ResourcesListChanged()):
                await self.subscription_bus.publish(sdk_event)
            for connection in self._legacy_connections():
                await connection.send_tool_list_changed()
                await connection.send_prompt_list_changed()
                await connection.send_resource_list_changed()

    # -- resources ----------------------------------------------------------------------------

    async def list_resources(self) -> list[MCPResource]:
        mine = [
            MCPResource(
                uri=r.uri,
                name=r.name,
                title=r.title,
                description=r.description or None,
                mime_type=r.mime_type,
                _meta={PLUGIN_META: r.plugin},
            )
            for r in self.host.resources.resources
        ]
        return [*mine, *await super().list_resources()]

    async def list_resource_templates(self) -> list[MCPResourceTemplate]:
        mine = [
            MCPResourceTemplate(
                uri_template=r.uri,
                name=r.name,
                title=r.title,
                description=r.description or None,
                mime_type=r.mime_type,
                _meta={PLUGIN_META: r.plugin},
            )
            for r in self.host.resources.templates
        ]
        return [*mine, *await super().list_resource_templates()]

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        text = str(uri)
        host = self.host
        try:
            resource, _ = host.resources.find(text)
        except ResourceNotFound:
            return await super().read_resource(uri, context)
        try:
            with host.in_use():
                contents = await host.resources.read(text, self._reader(context))
        except Exception as exc:
            log.warning("resource %r of plugin %r failed: %s: %s", text, resource.plugin, type(exc).__name__, exc)
            raise ResourceError(
                f"resource {text!r} of plugin {resource.plugin!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        body: str | bytes = contents.data if contents.data is not None else contents.text or ""
        return [ReadResourceContents(content=body, mime_type=contents.mime_type, meta={PLUGIN_META: resource.plugin})]

    # -- prompts ------------------------------------------------------------------------------

    async def list_prompts(self) -> list[MCPPrompt]:
        mine = [
            MCPPrompt(
                name=p.name,
                title=p.title,
                description=p.description or None,
                arguments=[
                    MCPPromptArgument(name=a.name, description=a.description, required=a.required) for a in p.arguments
                ],
                _meta={PLUGIN_META: p.plugin},
            )
            for p in self.host.prompts
        ]
        return [*mine, *await super().list_prompts()]

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        host = self.host
        prompt = host.prompts.get(name)
        if prompt is None:
            if self.sdk_has_prompt(name):
                return await super().get_prompt(name, arguments, context)
            try:
                self.host.prompts.require(name)
            except PromptNotFound as exc:
                raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        assert prompt is not None
        try:
            with host.in_use():
                messages = await prompt.render(arguments)
        except PromptArgumentsInvalid as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        except Exception as exc:
            log.warning("prompt %r of plugin %r failed: %s: %s", name, prompt.plugin, type(exc).__name__, exc)
            raise MCPError(
                code=INTERNAL_ERROR, message=f"prompt {name!r} of plugin {prompt.plugin!r} failed: {exc}"
            ) from exc
        return GetPromptResult(description=prompt.description or None, messages=[prompt_message(m) for m in messages])

    # -- completion ---------------------------------------------------------------------------

    async def _handle_complete(
        self, ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams
    ) -> CompleteResult:
        ref = params.ref
        completers: Any = {}
        if isinstance(ref, PromptReference):
            prompt = self.host.prompts.get(ref.name)
            completers = prompt.completers if prompt is not None else {}
        else:
            template = self.host.resources.template(ref.uri)
            completers = template.completers if template is not None else {}
        completer = completers.get(params.argument.name)
        if completer is None:
            return CompleteResult(completion=Completion(values=[]))
        given = (params.context.arguments if params.context is not None else None) or {}
        try:
            values = await complete_with(completer, params.argument.value, given)
        except Exception as exc:
            log.warning("completion for %r failed: %s: %s", params.argument.name, type(exc).__name__, exc)
            raise MCPError(code=INTERNAL_ERROR, message=f"completion for {params.argument.name!r} failed") from exc
        return CompleteResult(completion=Completion(values=values, total=len(values), has_more=False))
