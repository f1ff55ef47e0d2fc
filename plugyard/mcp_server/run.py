"""Run a PluginHost as an MCP server over stdio or streamable HTTP until told to stop.

Stopping (end of input on stdio, SIGINT, SIGTERM) always goes through the host's shutdown,
so the recorder flushes every call it accepted before the process exits.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any, Literal

import anyio
import anyio.abc
import uvicorn
from mcp.server.transport_security import TransportSecuritySettings

from plugyard.core.auth import TokenTable
from plugyard.core.errors import ConfigError
from plugyard.core.host import PluginHost
from plugyard.core.reload import HostReloader, ReloadOptions, start_reloading
from plugyard.mcp_server.auth import auth_options
from plugyard.mcp_server.events import MemoryEventStore, scope_sessions
from plugyard.mcp_server.hosts import HostCheck, is_loopback
from plugyard.mcp_server.listen import bind_sockets, closing, http_url
from plugyard.mcp_server.server import PlugyardServer
from plugyard.mcp_server.stdio import run_stdio

log = logging.getLogger("plugyard.serve")

Transport = Literal["stdio", "http"]


class _UvicornServer(uvicorn.Server):
    """uvicorn without its own signal handling: plugyard's stop path owns SIGINT/SIGTERM so
    that the history flush runs before the process exits. ``on_started`` runs once uvicorn
    listens, so "serving" is never said of a server that is not."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()

    def force(self) -> None:
        """A second signal: stop waiting, and cancel the requests still running (their calls are recorded
        as Cancelled as the session manager stops, in the lifespan shutdown that uvicorn would skip)."""
        self.force_exit = True
        for task in list(self.server_state.tasks):
            task.cancel()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        if self.force_exit:
            # uvicorn skips the lifespan when forced; ours stops the MCP session manager, whose tasks run the
            # calls: they must end (recorded) before the host's shutdown flushes the history.
            await self.lifespan.shutdown()


async def _watch_signals(
    on_signal: Callable[[], None],
    on_second_signal: Callable[[], None] | None = None,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        stopping = False
        async for signum in signals:
            name = signal.Signals(signum).name
            if not stopping:
                log.info("received %s; stopping", name)
                on_signal()
                stopping = True
                if on_second_signal is None:
                    return
            elif on_second_signal is not None:
                # An impatient operator: stop waiting for in-flight requests (the history still flushes).
                log.warning("received %s again; not waiting for in-flight requests", name)
                on_second_signal()
                return


async def serve(
    host: PluginHost,
    *,
    transport: Transport = "stdio",
    bind: str | None = None,
    port: int | None = None,
    stateless: bool | None = None,
    on_ready: Callable[[str], None] | None = None,
    reload: ReloadOptions | None = None,
) -> None:
    """Serve until end of input (stdio) or a signal; then shut the host down cleanly.

    With ``reload``, SIGHUP (and, with a watch interval, a change to the installed plugins or
    plugins.toml) switches to freshly discovered plugins; see ``plugyard.core.reload``."""
    settings = host.config.server
    bind = bind or settings.host
    port = settings.port if port is None else port
    tokens = TokenTable.from_config(host.config) if transport == "http" else TokenTable({})
    if transport == "http" and not is_loopback(bind) and not tokens:
        raise ConfigError(
            f"refusing to serve HTTP on {bind!r} without authentication; bind to 127.0.0.1 "
            "(behind a reverse proxy) or give users bearer tokens ([server.auth_tokens] or PLUGYARD_AUTH_TOKENS)"
        )
    # Bound before the host starts: a taken port fails at once, and port 0 gets its real number.
    sockets = bind_sockets(bind, port) if transport == "http" else []
    if sockets:
        port = int(sockets[0].getsockname()[1])
    server_options = auth_options(tokens, http_url(bind, port))
    reloader = HostReloader(reload.build if reload is not None else None)
    async with closing(sockets), reloader.running(host):
        server = PlugyardServer(host, **server_options)
        reloader.on_switch(lambda old, new: _switched(server, new))
        _freeze_startup_heap()
        async with anyio.create_task_group() as tg:
            if reload is not None:
                await start_reloading(tg, reloader, reload)
            if transport == "stdio":
                await tg.start(_watch_signals, tg.cancel_scope.cancel)
                if on_ready:
                    on_ready("stdio")
                await run_stdio(server)
                tg.cancel_scope.cancel()
                return
            stateless_http = settings.stateless_http if stateless is None else stateless
            resumable = not stateless_http and settings.resumable_events > 0
            security = _transport_security(bind, port, settings.allowed_hosts)
            app: Any = server.streamable_http_app(
                streamable_http_path=settings.path,
                stateless_http=stateless_http,
                retry_interval=settings.sse_retry_ms if resumable else None,
                host=bind,
                transport_security=security,
            )
            if security is not None:
                # Every path (``/healthz`` too) behind the Host check, ``name:*`` meaning a port only.
                app = HostCheck(app, security.allowed_hosts, security.allowed_origins)
            if resumable:
                scope_sessions(server.session_manager, MemoryEventStore(settings.resumable_events))
            # SIGTERM: stop accepting, let in-flight requests finish (at most shutdown_timeout), then
            # the lifespan ends and host.running() flushes the recorder; see _UvicornServer.
            config = uvicorn.Config(
                app,
                host=bind,
                port=port,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=settings.shutdown_timeout,
            )
            where = http_url(bind, port, settings.path)
            http = _UvicornServer(config, (lambda: on_ready(where)) if on_ready else None)

            def stop() -> None:
                http.should_exit = True

            def force() -> None:
                http.force()

            await tg.start(_watch_signals, stop, force)
            await http.serve(sockets=sockets)
            tg.cancel_scope.cancel()


def _freeze_startup_heap() -> None:
    """Keep what starting up built (modules, the plugins, the ORM, the router's state) out of every later
    garbage collection. Measured (bench/RESULTS.md, bench_serve.py --probe): a full collection of that heap
    stopped the event loop for 200-300 ms, every request in flight waiting behind it."""
    gc.collect()
    gc.freeze()


def _switched(server: PlugyardServer, new: PluginHost) -> None:
    server.use_host(new)
    # The old host's objects were frozen with the startup heap: let the collector reach them again.
    gc.unfreeze()


def _transport_security(bind: str, port: int, allowed: tuple[str, ...] = ()) -> TransportSecuritySettings | None:
    if not is_loopback(bind):
        if not allowed:
            log.warning("serving beyond loopback without [server] allowed_hosts: DNS-rebinding protection is off")
            return None
        hosts = list(allowed)
        origins = [f"{scheme}://{h}" for h in allowed for scheme in ("http", "https")]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )
    # DNS-rebinding protection: only loopback Host/Origin headers are accepted.
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = [f"http://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def ready_message(where: str, host: PluginHost, stream: Any = sys.stderr) -> None:
    loaded = [i for i in host.infos.values() if i.status == "loaded"]
    failed = [i for i in host.infos.values() if i.status == "failed"]
    print(
        f"plugyard serving {len(host.tools)} tool(s) from {len(loaded)} plugin(s) on {where}"
        + (f"; {len(failed)} plugin(s) failed to load (see `plugyard plugins`)" if failed else ""),
        file=stream,
        flush=True,
    )
