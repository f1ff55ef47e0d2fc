"""One upstream MCP server: connected with the MCP SDK's client, supervised, restarted with backoff.

``Upstream.run()`` lives as a host background task: connect, list what the server offers, report the
change, then watch (list_changed notifications re-list; a failed ping or a call that finds the
connection closed ends it); on any failure it waits (``restart_delay``, doubled up to
``max_restart_delay``) and connects again. Meanwhile calls get ``UpstreamUnavailable`` naming the server.
``stop()`` leaves the client's context, which ends a stdio server's process (stdin closed, then
SIGTERM/SIGKILL to its process group: ``pipes.py``, the stdio transport, as the SDK's own does).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TextIO

import anyio
import httpx2
import mcp.types as mt
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from plugyard import PlugyardError, ToolContext

from . import pipes, relay
from .settings import ServerSettings, UpstreamSettings

log = logging.getLogger("plugyard.upstream")

LIST_PAGES = 100
"""Pages of a listing followed before giving up (a paginator that never ends cannot hang a start)."""


class UpstreamUnavailable(PlugyardError):
    """The upstream server of a tool is not connected (starting, restarting, or it failed)."""


def describe(exc: BaseException) -> str:
    """One line for an error, the innermost of exception groups (the SDK's task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Listing:
    """What a server offered at its last listing."""

    def __init__(self) -> None:
        self.tools: list[mt.Tool] = []
        self.resources: list[mt.Resource] = []
        self.templates: list[mt.ResourceTemplate] = []
        self.prompts: list[mt.Prompt] = []
        self.completes = False
        """The server offers argument completion (completion/complete)."""


class Upstream:
    """The supervisor of one server (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        settings: ServerSettings,
        plugin: UpstreamSettings,
        on_change: Callable[[Upstream], Awaitable[None]],
    ) -> None:
        self.name = name
        self.settings = settings
        self._plugin = plugin
        self._on_change = on_change
        self.state = "stopped"
        self.last_error: str | None = None
        self.problems: list[str] = []
        """Tools, resources or prompts of this server that could not be served, and why."""
        self.restarts = 0
        self.connected_at: float | None = None
        self.listing = Listing()
        self.client: Client | None = None
        self._lost = anyio.Event()
        self._relist = anyio.Event()
        self._attempted = anyio.Event()
        self._stopped = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._served = False
        self._calls: list[ToolContext] = []
        """Contexts of the calls in flight: where the server's log messages go."""
        self._raw: pipes.RawRequests | None = None
        """A stdio server's raw lane for ``tools/call`` (pipes.py), while connected."""
        self._stamp: Callable[[dict[str, Any]], None] | None = None
        """What the SDK client adds to each request of this connection (2026-07-28: the ``_meta`` envelope)."""

    # -- the supervisor ---------------------------------------------------------------------

    async def run(self) -> None:
        delay = self._plugin.restart_delay
        try:
            with anyio.CancelScope() as self._scope:
                while True:
                    self.state = "starting" if self.restarts == 0 else "restarting"
                    self._served = False
                    try:
                        await self._session()
                    except anyio.get_cancelled_exc_class():
                        raise
                    except Exception as exc:  # noqa: BLE001 - whatever ends a session, the server is restarted
                        self.last_error = describe(exc)
                    served = time.time() - self.connected_at if self._served and self.connected_at else 0.0
                    if served >= self._plugin.max_restart_delay:
                        # It served a while: this failure starts the backoff afresh (a crash loop keeps doubling).
                        delay = self._plugin.restart_delay
                    log.warning("upstream %r: %s; restarting in %.2g s", self.name, self.last_error, delay)
                    self.client = None
                    self.state = "restarting"
                    self._attempted.set()
                    await anyio.sleep(delay)
                    delay = min(delay * 2, self._plugin.max_restart_delay)
                    self.restarts += 1
        finally:
            self.client = None
            self.state = "stopped"
            self._attempted.set()
            self._stopped.set()

    async def _session(self) -> None:
        self._lost = anyio.Event()
        self._relist = anyio.Event()
        # The handshake and every request are bounded by the client's read timeout (the server's timeout).
        async with self._connect() as client:
            await self._after_connect(client)
            await self._list(client)
            self.client = client
            self.state = "ready"
            self._served = True
            self.connected_at = time.time()
            self._attempted.set()
            await self._on_change(self)
            async with anyio.create_task_group() as tg:
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    tg.start_soon(self._listen_changes, client)
                await self._watch(client)
                tg.cancel_scope.cancel()
            self.client = None  # calls from now on are told at once, not after the transport closed
            self.state = "restarting"
        raise UpstreamUnavailable(self.last_error or "the connection was lost")

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Client]:
        options: dict[str, Any] = {
            "cache": None,  # a list_changed must reach the server, not a cached listing
            "message_handler": self._on_message,
            "logging_callback": self._on_log,
            "log_level": "debug",
            "read_timeout_seconds": self.settings.timeout,
            "mode": self.settings.protocol,
            "sampling_callback": relay.sampling(self.name, self._current_call),
            "elicitation_callback": relay.elicitation(self.name, self._current_call),
        }
        settings = self.settings
        if settings.command is not None:
            params = StdioServerParameters(
                command=settings.command,
                args=list(settings.args),
                env=settings.resolved_env(self.name),
                cwd=settings.cwd,
            )
            # The pipes on the event loop (pipes.py); the SDK's own transport where a loop cannot wait on pipes.
            if not pipes.supported():
                async with Client(stdio_client(params, errlog=errlog()), **options) as client:
                    yield client
                return
            async with pipes.stdio_pipes(params, errlog(), self.name) as streams:
                async with Client(_given(streams), **options) as client:
                    self._raw = streams[0].raw
                    self._stamp = _stamp_of(client)
                    try:
                        yield client
                    finally:
                        self._raw = self._stamp = None
            return
        assert settings.url is not None
        headers = settings.resolved_headers(self.name)
        refused: list[str] = []

        async def note(response: httpx2.Response) -> None:
            # The SDK reports an HTTP refusal as a bare protocol error: keep the status to say why.
            if response.status_code >= 400:
                refused.append(f"HTTP {response.status_code} {response.reason_phrase} from {settings.url}")

        hooks = {"response": [note]}
        async with httpx2.AsyncClient(headers=headers, timeout=settings.timeout, event_hooks=hooks) as http:
            try:
                async with Client(streamable_http_client(settings.url, http_client=http), **options) as client:
                    yield client
            except Exception as exc:
                if refused:
                    raise UpstreamUnavailable(f"{refused[-1]} ({describe(exc)})") from None
                raise

    async def _after_connect(self, client: Client) -> None:
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS and client.server_capabilities.logging is not None:
            # Handshake-era servers send log messages only once a level is set.
            with contextlib.suppress(MCPError), warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)  # deprecated at 2026-07-28, needed before
                await client.set_logging_level("debug")

    async def _list(self, client: Client) -> None:
        capabilities = client.server_capabilities
        listing = Listing()
        if capabilities.tools is not None:
            listing.tools = await _pages(lambda cursor: client.list_tools(cursor=cursor), "tools")
        if capabilities.resources is not None:
            listing.resources = await _pages(lambda cursor: client.list_resources(cursor=cursor), "resources")
            listing.templates = await _pages(
                lambda cursor: client.list_resource_templates(cursor=cursor), "resource_templates"
            )
        if capabilities.prompts is not None:
            listing.prompts = await _pages(lambda cursor: client.list_prompts(cursor=cursor), "prompts")
        listing.completes = capabilities.completions is not None
        self.listing = listing

    async def _watch(self, client: Client) -> None:
        """Until the connection is lost: re-list on list_changed, ping every ``ping_interval``."""
        while True:
            with anyio.move_on_after(self._plugin.ping_interval):
                async with anyio.create_task_group() as tg:

                    async def wake(event: anyio.Event) -> None:
                        await event.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(wake, self._lost)
                    tg.start_soon(wake, self._relist)
            if self._lost.is_set():
                return
            if self._relist.is_set():
                self._relist = anyio.Event()
                with anyio.fail_after(self.settings.timeout):
                    await self._list(client)
                await self._on_change(self)
                continue
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                continue  # no ping at 2026-07-28: the list-changed stream ending, or a call, tells
            try:
                with anyio.fail_after(self.settings.timeout):
                    # The session's ping: Client.send_ping is marked deprecated whatever was negotiated
                    # (MCPDeprecationWarning on every ping), though ping is valid on a 2025-11-25 session.
                    await client.session.send_ping()
            except (MCPError, TimeoutError, OSError) as exc:
                self.last_error = f"it stopped answering pings: {describe(exc)}"
                return

    async def _listen_changes(self, client: Client) -> None:
        """On 2026-07-28 connections list changes come through ``subscriptions/listen``."""
        try:
            async with client.listen(
                tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
            ) as changes:
                async for _ in changes:
                    self._relist.set()
        except MCPError as exc:  # not offered
            if exc.code != mt.CONNECTION_CLOSED:
                log.debug("upstream %r: no list-changed stream (%s)", self.name, describe(exc))
                return
            self.last_error = f"the connection closed: {describe(exc)}"
        except (RuntimeError, TimeoutError) as exc:  # SubscriptionLost: the connection went with it
            self.last_error = f"the connection was lost: {describe(exc)}"
        else:
            self.last_error = "the server ended the connection"
        self._lost.set()

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, mt.ToolListChangedNotification | mt.ResourceListChangedNotification):
            self._relist.set()
        elif isinstance(message, mt.PromptListChangedNotification):
            self._relist.set()
        elif isinstance(message, Exception):
            log.debug("upstream %r: transport error %s", self.name, describe(message))

    async def _on_log(self, params: mt.LoggingMessageNotificationParams) -> None:
        if not self._calls:
            log.info("upstream %r [%s]: %s", self.name, params.level, params.data)
            return
        # The server does not say which request a message belongs to: the latest call in flight hears it.
        with contextlib.suppress(Exception):
            await self._calls[-1].log(params.level, params.data, logger=params.logger or self.name)

    def _current_call(self) -> ToolContext | None:
        return self._calls[-1] if self._calls else None

    async def wait_attempted(self) -> None:
        """Until the first connection attempt ended (served or failed), at most the server's timeout."""
        with anyio.move_on_after(self.settings.timeout):
            await self._attempted.wait()

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            with anyio.move_on_after(10):
                await self._stopped.wait()

    # -- what the plugin's tools, resources and prompts call -----------------------------------

    def _connected(self) -> Client:
        client = self.client
        if client is None:
            why = f" (last error: {self.last_error})" if self.last_error else ""
            raise UpstreamUnavailable(f"upstream server {self.name!r} is {self.state}{why}; try again shortly")
        return client

    def _closed(self, exc: MCPError) -> UpstreamUnavailable:
        self.last_error = f"the connection closed: {exc}"
        self._lost.set()
        return UpstreamUnavailable(
            f"upstream server {self.name!r} closed the connection during the call; it is being restarted"
        )

    async def call_tool(
        self, name: str, arguments: dict[str, Any], ctx: ToolContext | None
    ) -> mt.CallToolResult | dict[str, Any]:
        """The server's answer: a ``CallToolResult``, or on the raw lane its JSON object as the server wrote it."""
        client = self._connected()
        raw, stamp = self._raw, self._stamp
        if raw is not None and stamp is not None:
            result = await self._call_raw(raw, stamp, name, arguments, ctx)
            if result.get("resultType", "complete") == "complete":
                return result
            # The server needs input first (2026-07-28 rounds): the SDK's client runs the rounds. Asking
            # again from the start is what a round is (the server holds nothing between them).

        async def report(progress: float, total: float | None, message: str | None) -> None:
            if ctx is not None:
                await ctx.report_progress(progress, total, message)

        if ctx is not None:
            self._calls.append(ctx)
        try:
            return await client.call_tool(name, arguments, progress_callback=report)
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                raise self._closed(exc) from None
            raise UpstreamError(f"upstream server {self.name!r} refused tool {name!r}: {exc}") from None
        finally:
            if ctx is not None:
                self._calls.remove(ctx)

    async def _call_raw(
        self,
        raw: pipes.RawRequests,
        stamp: Callable[[dict[str, Any]], None],
        name: str,
        arguments: dict[str, Any],
        ctx: ToolContext | None,
    ) -> dict[str, Any]:
        """``tools/call`` past the SDK client's models (pipes.py ``RawRequests``): what reaches plugyard's
        client is the server's own answer, so nothing is parsed into models and dumped again. The request
        carries what the SDK's client would add to it (``stamp``)."""
        progress = None
        if ctx is not None:
            progress = ctx.report_progress
            self._calls.append(ctx)
        data: dict[str, Any] = {"method": "tools/call", "params": {"name": name, "arguments": arguments}}
        stamp(data)
        try:
            return await raw.request("tools/call", data["params"], progress=progress)
        except pipes.RawClosed as exc:
            raise self._closed(MCPError(mt.CONNECTION_CLOSED, str(exc))) from None
        except pipes.RawError as exc:
            raise UpstreamError(f"upstream server {self.name!r} refused tool {name!r}: {exc}") from None
        finally:
            if ctx is not None:
                self._calls.remove(ctx)

    async def read_resource(self, uri: str) -> mt.ReadResourceResult:
        try:
            return await self._connected().read_resource(uri)
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                raise self._closed(exc) from None
            raise UpstreamError(f"upstream server {self.name!r} could not read {uri!r}: {exc}") from None

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> mt.GetPromptResult:
        try:
            return await self._connected().get_prompt(name, arguments)
        except MCPError as exc:
            if exc.code == mt.CONNECTION_CLOSED:
                raise self._closed(exc) from None
            raise UpstreamError(f"upstream server {self.name!r} could not render prompt {name!r}: {exc}") from None

    async def complete(
        self, ref: mt.PromptReference | mt.ResourceTemplateReference, name: str, value: str, given: dict[str, str]
    ) -> list[str]:
        """The server's completions for argument ``name`` (none while it is not connected)."""
        client = self.client
        if client is None:
            return []
        try:
            result = await client.complete(ref, {"name": name, "value": value}, dict(given) or None)
        except MCPError as exc:
            log.debug("upstream %r: completion refused: %s", self.name, exc)
            return []
        return list(result.completion.values)

    def report(self) -> dict[str, Any]:
        """This server's state for ``/healthz``, ``plugyard upstream list``."""
        return {
            "transport": self.settings.transport,
            "state": self.state,
            "tools": len(self.listing.tools),
            "resources": len(self.listing.resources) + len(self.listing.templates),
            "prompts": len(self.listing.prompts),
            "restarts": self.restarts,
            "last_error": self.last_error,
            "problems": list(self.problems),
        }


class UpstreamError(PlugyardError):
    """The upstream server answered a request with a protocol error."""


def _stamp_of(client: Client) -> Callable[[dict[str, Any]], None] | None:
    """What ``client``'s session adds to a request it sends (the protocol version's envelope), or None
    where this SDK keeps it elsewhere: then every call goes through the SDK's client, as before."""
    stamp = getattr(client.session, "_stamp", None)  # the SDK has no public spelling of it (mcp 2.3)
    if not callable(stamp):
        return None

    def apply(data: dict[str, Any]) -> None:
        stamp(data, {})

    return apply


@contextlib.asynccontextmanager
async def _given(streams: tuple[Any, Any]) -> AsyncIterator[tuple[Any, Any]]:
    """Streams already open, as the transport ``Client`` enters (they close with their own context)."""
    yield streams


async def _pages(fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES):
        page = await fetch(cursor)
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            break
    return items


def errlog() -> TextIO:
    """Where a stdio server's stderr goes: plugyard's own (fd 2), which never carries protocol."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr
