"""Existing MCP servers mounted as plugins: ``[plugins.upstream.servers.NAME]`` in plugins.toml.

Each server is connected with the MCP SDK's client (stdio, on the plugin's transport ``pipes.py``, or
streamable HTTP) and supervised (``connection.py``); what it offers is registered as this plugin's,
under ``<prefix>_<name>`` (``mounting.py``), so every call goes through plugyard's pipeline and is
recorded with the server's name as its ``source``. A server's list_changed re-registers this plugin's
tools (``host.reregister``). Written on the public face only, as a third party would.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio

from plugyard import PluginError, data_dir, hookimpl

from . import mounting, state
from .connection import Upstream, UpstreamUnavailable
from .settings import ServerSettings, UpstreamSettings

__all__ = ["ServerSettings", "UpstreamPlugin", "UpstreamSettings", "UpstreamUnavailable"]

log = logging.getLogger("plugyard.upstream")

PUBLISH_SECONDS = 1.0
"""How often a running server refreshes the state file ``plugyard plugins`` reads."""


class UpstreamPlugin:
    """One instance per host: its servers are its own."""

    def __init__(self) -> None:
        self.upstreams: dict[str, Upstream] = {}
        self._host: Any = None
        self._name = ""

    @hookimpl
    def plugin_settings(self) -> type[UpstreamSettings]:
        return UpstreamSettings

    @hookimpl
    def register_tools(self, register: Any) -> None:
        mounting.register_tools(self._live(), register)

    @hookimpl
    def register_resources(self, register: Any) -> None:
        mounting.register_resources(self._live(), register)

    @hookimpl
    def register_prompts(self, register: Any) -> None:
        mounting.register_prompts(self._live(), register)

    def _live(self) -> list[Upstream]:
        return list(self.upstreams.values())

    @hookimpl
    def startup(self, host: Any) -> object:
        return self._start(host)

    async def _start(self, host: Any) -> None:
        self._host = host
        self._name = host.name_of(self)
        settings: UpstreamSettings = host.settings_for(self._name) or UpstreamSettings()
        for name, server in settings.servers.items():
            upstream = Upstream(name, server, settings, self._changed)
            self.upstreams[name] = upstream
            host.start_background(upstream.run, name=f"upstream {name}")
        if self.upstreams:
            host.start_background(self._publish, name="upstream state")
        # Serve with what answers at start (a client lists tools once); the rest joins when it connects.
        async with anyio.create_task_group() as tg:
            for upstream in self.upstreams.values():
                tg.start_soon(upstream.wait_attempted)

    async def _changed(self, upstream: Upstream) -> None:
        # Every server's tools, resources and prompts are registered again: their problems are found afresh
        # (whatever order the host runs the three registration hooks in).
        before = {name: list(each.problems) for name, each in self.upstreams.items()}
        for each in self.upstreams.values():
            each.problems.clear()
        try:
            await self._host.reregister(self._name)
        except Exception as exc:  # noqa: BLE001 - a listing plugyard cannot serve must not restart a working server
            for name, problems in before.items():  # the registrations before stay, and so do their problems
                self.upstreams[name].problems[:0] = problems
            message = str(exc) if isinstance(exc, PluginError) else f"re-registering raised {type(exc).__name__}: {exc}"
            upstream.problems.append(message)
            log.error("upstream %r: %s", upstream.name, message)

    @hookimpl
    def shutdown(self, host: Any) -> object:
        return self._stop()

    async def _stop(self) -> None:
        async with anyio.create_task_group() as tg:
            for upstream in self.upstreams.values():
                tg.start_soon(upstream.stop)

    @hookimpl
    def health(self, host: Any) -> dict[str, Any] | None:
        if not self.upstreams:
            return None
        # A server that is down does not stop plugyard serving every other tool: reported, not judged.
        return {"healthy": True, "upstreams": {name: u.report() for name, u in self.upstreams.items()}}

    @hookimpl
    def adopt_servers(self, servers: Any, current: Any) -> dict[str, Any]:
        from .adopt import adopt

        configured = current.get("servers") if isinstance(current, dict) else None
        return adopt(servers, set(configured) if isinstance(configured, dict) else set())

    def _state_file(self, name: str) -> Path:
        return data_dir() / f"{name}-state.json"

    async def _publish(self) -> None:
        """Keep ``<data dir>/<plugin>-state.json`` current for ``plugyard plugins`` (which starts nothing)."""
        path = self._state_file(self._name)
        shown: dict[str, Any] | None = None
        try:
            while True:
                now = {name: u.report() for name, u in self.upstreams.items()}
                if now != shown:
                    shown = now
                    state.write(path, now)
                await anyio.sleep(PUBLISH_SECONDS)
        finally:  # cancelled after shutdown stopped the servers: their last state is "stopped"
            state.write(path, {name: {**u.report(), "state": "stopped"} for name, u in self.upstreams.items()})

    @hookimpl
    def plugin_state(self, host: Any) -> dict[str, Any] | None:
        settings = host.settings_for(host.name_of(self))
        if not isinstance(settings, UpstreamSettings) or not settings.servers:
            return None
        return state.read(self._state_file(host.name_of(self)), list(settings.servers))

    @hookimpl
    def register_commands(self, cli: Any) -> None:
        from .cli import add_commands

        add_commands(cli)
