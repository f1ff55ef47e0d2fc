"""PluginHost: discovery, registration and the lifetime of the plugins.

One host per process (or per test), built by a factory; there is no global plugin manager.
Plugins come from entry points in the ``plugyard`` group, from modules named in
``plugins.toml`` ``[plugins] modules``, and from objects handed to the constructor
(``discovery``). Each is loaded on its own: one that fails to import, declares an unknown hook,
has a hook with a wrong signature or raises while registering is reported and skipped, and the
rest load (``strict=True`` makes the first failure fatal instead). Settings in plugins.toml that
the plugin's model refuses are the user's error, not the plugin's: loading stops with a
ConfigError. Its settings and registrations
are ``registration``'s; ``startup``/``shutdown`` and the requests holding a host are ``lifetime``'s.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

import anyio
import anyio.abc
import pluggy

from plugyard.core import hookspecs, tool_search
from plugyard.core.builtins import add_builtins
from plugyard.core.calls import ToolOutcome
from plugyard.core.client import HostEvents, ListsChanged, ResourceUpdated
from plugyard.core.config import Config
from plugyard.core.errors import ConfigError, PluginError, UnknownTool
from plugyard.core.host import registration
from plugyard.core.host.discovery import ENTRY_POINT_GROUP, Candidate, PluginInfo, candidates, hook_names, instantiate
from plugyard.core.host.lifetime import Lifetime, raise_single
from plugyard.core.intents import RegisteredClassifier
from plugyard.core.prompts import PromptRegistry
from plugyard.core.resources import ResourceRegistry
from plugyard.core.tools import Tool, ToolPipeline, ToolRegistry
from plugyard.core.workflows import RegisteredWorkflow

__all__ = ["ENTRY_POINT_GROUP", "PluginHost", "PluginInfo", "raise_single"]

log = logging.getLogger("plugyard.host")


class PluginHost(Lifetime):
    """Discovers plugins, collects what they register, runs their lifetime hooks and tool calls."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        strict: bool = False,
        entry_points: bool = True,
        plugins: Mapping[str, object] | Sequence[tuple[str, object]] = (),
    ) -> None:
        self.config = config or Config()
        self.strict = strict
        self._use_entry_points = entry_points
        self._given = list(plugins.items()) if isinstance(plugins, Mapping) else list(plugins)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.tools = ToolRegistry()
        self.classifiers: list[RegisteredClassifier] = []
        self.workflows: list[RegisteredWorkflow] = []
        self.resources = ResourceRegistry()
        self.prompts = PromptRegistry()
        self.events = HostEvents()
        self._settings: dict[str, Any] = {}
        self._loaders: dict[str, Callable[[], object]] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loaded = False
        self.in_flight = 0
        self._idle: anyio.Event | None = None
        self.pipeline = ToolPipeline(self.tools)

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> PluginHost:
        """Discover, import and register every enabled plugin. Idempotent."""
        if self._loaded:
            return self
        self._loaded = True
        disabled = set(self.config.plugins.disabled)
        for candidate in candidates(self.config, entry_points=self._use_entry_points, given=self._given):
            info = candidate.info
            if info.name in self.infos:
                self._fail(info, f"a plugin named {info.name!r} is already loaded from {self.infos[info.name].origin}")
                self.infos.setdefault(f"{info.name} ({info.origin})", info)
                continue
            self.infos[info.name] = info
            self._loaders[info.name] = candidate.load
            if info.name in disabled:
                info.status = "disabled"
                self.pm.set_blocked(info.name)
                continue
            self._load_one(candidate)
        unknown_disabled = disabled - set(self.infos)
        if unknown_disabled:
            log.warning("plugins.toml disables plugins that were not found: %s", ", ".join(sorted(unknown_disabled)))
        for name in self._loaded_names():
            try:
                impl = registration.impl_of(self.pm, "plugin_settings", name)
                settings = registration.validate_settings(self.config, name, impl)
            except registration.Refused as exc:
                self._drop(name, str(exc))
                continue
            if settings is not None:
                self._settings[name] = settings
                self.infos[name].settings = registration.shown_settings(settings)
        for name in self._loaded_names():
            try:
                found = registration.collect(self.pm, name)
            except registration.Refused as exc:
                self._drop(name, str(exc))
                continue
            registration.add(self, self.infos[name], found)
        self._check_tables()
        add_builtins(self)
        self._build_pipeline()
        return self

    def _check_tables(self) -> None:
        """A ``[plugins.<name>]`` table naming no plugin found or installed (a typo, an uninstalled plugin) is
        validated by nothing: an error with ``--strict``, else a warning with the closest names. (A host built
        with only some plugins may be given a table for another installed one, as the test kit does.)"""
        installed = {ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        known = sorted(set(self.infos) | installed)
        for name in sorted(set(self.config.plugins.settings) - set(known)):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean [plugins.{close[0]}]?" if close else ""
            where = f"{self.config.source}: " if self.config.source is not None else ""
            message = f"{where}[plugins.{name}] names no plugin found or installed{hint}"
            message += f" (the plugins are: {', '.join(known)})"
            if self.strict:
                raise ConfigError(message)
            log.warning("%s; its settings are ignored (--strict makes this an error)", message)

    def _load_one(self, candidate: Candidate) -> None:
        info = candidate.info
        try:
            obj = instantiate(candidate.load)
        except Exception as exc:  # noqa: BLE001 - a plugin that fails to import is reported and skipped
            self._fail(info, f"failed to import: {type(exc).__name__}: {exc}")
            return
        if info.version is None and isinstance(obj, ModuleType):
            info.version = getattr(obj, "__version__", None)
        try:
            self.pm.register(obj, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._fail(info, f"invalid hook implementation: {exc}")
            return
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=info.name)
            known = ", ".join(hook_names())
            self._fail(info, f"implements a hook plugyard does not have ({exc}); the hooks are: {known}")
            return
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(obj) or ())

    def _fail(self, info: PluginInfo, message: str) -> None:
        info.status = "failed"
        info.error = message
        log.error("plugin %r skipped: %s", info.name, message)
        if self.strict:
            raise PluginError(info.name, message)

    def _loaded_names(self) -> list[str]:
        return [name for name, info in self.infos.items() if info.status == "loaded"]

    def _drop(self, name: str, message: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self._settings.pop(name, None)
        self._fail(self.infos[name], message)

    def _hook_callers(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        # pluggy calls implementations last-registered first; so do we.
        return [(impl.plugin_name, registration.bind(impl)) for impl in reversed(self._impls(hook_name))]

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        impls: list[pluggy.HookImpl] = getattr(self.pm.hook, hook_name).get_hookimpls()
        return impls

    def _build_pipeline(self) -> None:
        timeouts = {name: o.timeout for name, o in self.config.tools.overrides.items() if o.timeout is not None}
        for name in sorted(set(timeouts) - {t.name for t in self.tools}):
            log.warning("plugins.toml sets a timeout for tool %r, which no plugin registered", name)
        pipeline_class = ToolPipeline
        if self.config.telemetry.enabled:
            # Chosen once here so that a call pays nothing for telemetry when it is off.
            from plugyard.core.telemetry import TracedToolPipeline

            pipeline_class = TracedToolPipeline
        self.pipeline = pipeline_class(
            self.tools,
            before=self._hook_callers("before_tool_call"),
            after=self._hook_callers("after_tool_call"),
            default_timeout=self.config.tools.timeout,
            max_argument_bytes=self.config.tools.max_argument_bytes,
            timeouts=timeouts,
            settings=self._settings,
            events=self.events,
        )

    # -- what plugins and adapters may use -------------------------------------------------

    def settings_for(self, plugin: str) -> Any:
        """The validated settings of ``plugin`` (None when it declares none)."""
        return self._settings.get(plugin)

    def name_of(self, plugin: object) -> str:
        """The name this host loaded ``plugin`` (a plugin object, e.g. ``self`` in a class-based
        plugin) under: plugins never hard-code their own name."""
        name = self.pm.get_name(plugin)
        if name is None:
            raise LookupError(f"{plugin!r} is not a plugin of this host")
        return name

    def get_plugin(self, name: str) -> object | None:
        return self.pm.get_plugin(name)

    def implementations(self, hook_name: str) -> Iterator[tuple[str, Callable[..., Any]]]:
        """Every loaded plugin's implementation of ``hook_name``, in load order, as (plugin name,
        a function taking the hook's arguments by keyword): for callers that ask plugin by plugin
        (the command line's ``register_commands``, the health check)."""
        for impl in self._impls(hook_name):
            yield impl.plugin_name, registration.bind(impl)

    def plugin_object(self, name: str) -> object:
        """Import plugin ``name`` afresh (instantiated, if a class) without registering it, even when
        it is disabled or failed to load: to say what it would offer. Raises what importing raises."""
        load = self._loaders.get(name)
        if load is None:
            raise LookupError(f"no plugin named {name!r} was found")
        return instantiate(load)

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell every client subscribed to ``uri`` that its contents changed."""
        await self.events.publish(ResourceUpdated(uri))

    async def reregister(self, plugin: str) -> None:
        """Run plugin ``plugin``'s ``register_tools``, ``register_resources`` and ``register_prompts``
        again and replace what it registered before with what they register now (a plugin whose tools
        change while it serves: the upstream plugin when its server's list changes); then tell clients
        the lists changed. A hook that raises leaves the previous registrations in place and raises
        ``PluginError``; a name another plugin owns is skipped and logged, naming both."""
        info = self.infos.get(plugin)
        if info is None or info.status != "loaded":
            raise LookupError(f"no loaded plugin named {plugin!r}")
        try:
            found = registration.collect(self.pm, plugin, hooks=registration.REREGISTERED)
        except registration.Refused as exc:
            raise PluginError(plugin, f"re-registering failed: {exc}") from exc
        registration.replace(self, info, found)
        await self.notify_lists_changed()

    async def notify_lists_changed(self) -> None:
        """Tell connected clients to list tools, prompts and resources again."""
        await self.events.publish(ListsChanged())

    def choose_tool(self, capability: str, *, user_id: str, intent: str | None = None) -> Tool:
        """The tool to call for ``capability``: the ``choose_tool`` hook's answer, else the first
        registered. Raises ``UnknownTool`` when no tool declares the capability."""
        candidates = self.tools.with_capability(capability)
        if not candidates:
            raise UnknownTool(f"no tool declares capability {capability!r}; install or enable a plugin that does")
        try:
            chosen = self.pm.hook.choose_tool(
                capability=capability, candidates=candidates, user_id=user_id, intent=intent
            )
        except Exception:
            log.exception("choose_tool failed for capability %r; using the first registered tool", capability)
            chosen = None
        if chosen is None or chosen not in candidates:
            return candidates[0]
        return chosen  # type: ignore[no-any-return]

    def tool_search_on(self) -> bool:
        """Whether tools/list shows only the pinned and discovery tools and ``call_tool``
        (``[server] tool_search``; see ``core/tool_search.py``)."""
        return tool_search.search_on(self.config.server, self.tools)

    def serves_tool(self, name: str) -> bool:
        """Whether ``name`` is a tool call the pipeline takes: a registered tool, or ``call_tool``."""
        return name in self.tools or name == tool_search.PROXY_TOOL

    def tools_for(self, user_id: str) -> list[Tool]:
        """The tools to list for ``user_id``: every tool in registration order; with tool search on,
        the pinned and discovery tools only (the adapter adds ``call_tool``); with ``[server]
        rank_tools``, in the ``rank_tools`` hook's order, ``pinned_tools`` first, at most
        ``max_listed_tools`` (pinned ones are never cut)."""
        server = self.config.server
        if self.tool_search_on():
            return tool_search.listed_when_searching(server, self.tools)
        tools = list(self.tools)
        if not server.rank_tools:
            return tools
        try:
            ranked = self.pm.hook.rank_tools(tools=tools, user_id=user_id)
        except Exception:
            log.exception("rank_tools failed; listing tools in registration order")
            ranked = None
        if ranked is not None:
            known = {t.name for t in tools}
            ordered = list({t.name: t for t in ranked if t.name in known}.values())
            seen = {t.name for t in ordered}
            # A ranking that forgot some tools still lists them, after the ranked ones.
            tools = ordered + [t for t in tools if t.name not in seen]
        by_name = {t.name: t for t in tools}
        pinned = [by_name[n] for n in dict.fromkeys(server.pinned_tools) if n in by_name]
        pinned_names = {t.name for t in pinned}
        rest = [t for t in tools if t.name not in pinned_names]
        if server.max_listed_tools is not None:
            rest = rest[: max(0, server.max_listed_tools - len(pinned))]
        return pinned + rest

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None, **context: Any) -> ToolOutcome:
        """Run one call through the pipeline; ``user_id`` defaults to the configured user."""
        context.setdefault("user_id", self.config.default_user)
        return await self.pipeline.call(name, arguments, **context)
