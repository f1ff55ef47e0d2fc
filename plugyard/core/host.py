"""PluginHost: discovery, registration and the lifetime of the plugins.

One host per process (or per test), built by a factory; there is no global plugin manager.
Plugins come from entry points in the ``plugyard`` group, from modules named in
``plugins.toml`` ``[plugins] modules``, and from objects handed to the constructor. Each is
loaded on its own: one that fails to import, declares an unknown hook, has a hook with a
wrong signature or raises while registering is reported and skipped, and the rest load
(``strict=True`` makes the first failure fatal instead).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any, NoReturn

import anyio
import anyio.abc
import pluggy
import pydantic

from plugyard.core import hookspecs
from plugyard.core.builtins import add_builtins
from plugyard.core.calls import ToolOutcome
from plugyard.core.client import HostEvents, ListsChanged, ResourceUpdated
from plugyard.core.config import Config
from plugyard.core.errors import PluginError, PlugyardError, UnknownTool
from plugyard.core.intents import RegisteredClassifier
from plugyard.core.prompts import Prompt, PromptRegistry, build_prompt
from plugyard.core.resources import Resource, ResourceRegistry, build_resource
from plugyard.core.tools import Tool, ToolPipeline, ToolRegistry, build_tool
from plugyard.core.workflows import RegisteredWorkflow, Workflow, build_graph

log = logging.getLogger("plugyard.host")

ENTRY_POINT_GROUP = "plugyard"


@dataclasses.dataclass(slots=True)
class PluginInfo:
    """What ``plugyard plugins`` shows about one plugin."""

    name: str
    origin: str
    """``entry point``, ``plugins.toml`` or ``registered`` (handed to the host in code)."""
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"
    """``loaded``, ``failed`` or ``disabled``."""
    hooks: list[str] = dataclasses.field(default_factory=list)
    tools: list[str] = dataclasses.field(default_factory=list)
    classifiers: list[str] = dataclasses.field(default_factory=list)
    workflows: list[str] = dataclasses.field(default_factory=list)
    resources: list[str] = dataclasses.field(default_factory=list)
    prompts: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class _Candidate:
    info: PluginInfo
    load: Callable[[], object]


class PluginHost:
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
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loaded = False
        self._in_use = 0
        self._idle: anyio.Event | None = None
        self.pipeline = ToolPipeline(self.tools)

    # -- discovery -------------------------------------------------------------------------

    def load(self) -> PluginHost:
        """Discover, import and register every enabled plugin. Idempotent."""
        if self._loaded:
            return self
        self._loaded = True
        disabled = set(self.config.plugins.disabled)
        for candidate in self._candidates():
            info = candidate.info
            if info.name in self.infos:
                self._fail(info, f"a plugin named {info.name!r} is already loaded from {self.infos[info.name].origin}")
                self.infos.setdefault(f"{info.name} ({info.origin})", info)
                continue
            self.infos[info.name] = info
            if info.name in disabled:
                info.status = "disabled"
                self.pm.set_blocked(info.name)
                continue
            self._load_one(candidate)
        unknown_disabled = disabled - set(self.infos)
        if unknown_disabled:
            log.warning("plugins.toml disables plugins that were not found: %s", ", ".join(sorted(unknown_disabled)))
        for name in self._loaded_names():
            self._configure(name)
        for name in self._loaded_names():
            self._register(name)
        for name in sorted(set(self.config.plugins.settings) - set(self.infos)):
            log.warning("plugins.toml has settings for plugin %r, which was not found", name)
        add_builtins(self)
        self._build_pipeline()
        return self

    def _candidates(self) -> Iterable[_Candidate]:
        if self._use_entry_points:
            for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
                dist = ep.dist
                yield _Candidate(
                    PluginInfo(
                        name=ep.name,
                        origin="entry point",
                        module=ep.value,
                        distribution=dist.name if dist is not None else None,
                        version=dist.version if dist is not None else None,
                    ),
                    ep.load,
                )
        for spec in self.config.plugins.modules:
            yield self._module_candidate(spec)
        for name, obj in self._given:
            yield _Candidate(
                PluginInfo(name=name, origin="registered", module=getattr(obj, "__name__", type(obj).__name__)),
                functools.partial(_identity, obj),
            )

    def _module_candidate(self, spec: str) -> _Candidate:
        if spec.endswith(".py"):
            path = self.config.resolve_path(spec)
            name = path.stem

            def load_file() -> object:
                if not path.is_file():
                    raise FileNotFoundError(f"plugin file {str(path)!r} does not exist")
                module_spec = importlib.util.spec_from_file_location(f"plugyard_local_{name}", path)
                assert module_spec is not None and module_spec.loader is not None
                module = importlib.util.module_from_spec(module_spec)
                module_spec.loader.exec_module(module)
                return module

            return _Candidate(PluginInfo(name=name, origin="plugins.toml", module=str(path)), load_file)

        def load_module() -> object:
            base = str(self.config.base_dir)
            if base not in sys.path:
                sys.path.insert(0, base)
            return importlib.import_module(spec)

        return _Candidate(PluginInfo(name=spec, origin="plugins.toml", module=spec), load_module)

    def _load_one(self, candidate: _Candidate) -> None:
        info = candidate.info
        try:
            obj = candidate.load()
            if inspect.isclass(obj):
                obj = obj()
        except Exception as exc:
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
            known = ", ".join(sorted(n for n in dir(hookspecs) if _is_spec(getattr(hookspecs, n))))
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
        self._fail(self.infos[name], message)

    # -- registration ----------------------------------------------------------------------

    def _impl_of(self, hook_name: str, plugin: str) -> pluggy.HookImpl | None:
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == plugin:
                return impl
        return None

    @staticmethod
    def _invoke(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
        return impl.function(*[kwargs[arg] for arg in impl.argnames])

    def _configure(self, name: str) -> None:
        table = dict(self.config.plugins.settings.get(name, {}))
        impl = self._impl_of("plugin_settings", name)
        if impl is None:
            if table:
                self._drop(
                    name, f"plugins.toml has [plugins.{name}] settings {sorted(table)}, but the plugin declares none"
                )
            return
        try:
            model = self._invoke(impl)
        except Exception as exc:
            self._drop(name, f"plugin_settings raised {type(exc).__name__}: {exc}")
            return
        if model is None:
            return
        if not (inspect.isclass(model) and issubclass(model, pydantic.BaseModel)):
            self._drop(name, f"plugin_settings must return a pydantic model class, got {model!r}")
            return
        if model.model_config.get("extra") is None:
            model = pydantic.create_model(model.__name__, __base__=model, __config__=None)
            model.model_config["extra"] = "forbid"
            model.model_rebuild(force=True)
        try:
            self._settings[name] = model.model_validate(table, context={"base_dir": self.config.base_dir})
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"[plugins.{name}] {'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            self._drop(name, f"invalid settings: {problems}")

    def _register(self, name: str) -> None:
        info = self.infos[name]
        tools: list[Tool] = []
        classifiers: list[RegisteredClassifier] = []
        workflows: list[RegisteredWorkflow] = []
        resources: list[Resource] = []
        prompts: list[Prompt] = []

        def register_resource(fn: Callable[..., Any], **options: Any) -> None:
            resources.append(build_resource(fn, plugin=name, **options))

        def register_prompt(fn: Callable[..., Any], **options: Any) -> None:
            prompts.append(build_prompt(fn, plugin=name, **options))

        def register_tool(fn: Callable[..., Any], **options: Any) -> None:
            tools.append(build_tool(fn, plugin=name, **options))

        def register_classifier(
            classifier: Any, name_: str | None = None, weight: float = 1.0, fallback: bool = False, **kw: Any
        ) -> None:
            label = kw.pop("name", None) or name_ or getattr(classifier, "name", None) or type(classifier).__name__
            if kw:
                raise TypeError(f"unexpected options {sorted(kw)}")
            if not callable(getattr(classifier, "classify", None)):
                raise TypeError(f"intent classifier {label!r} has no classify() method")
            classifiers.append(
                RegisteredClassifier(
                    name=str(label), plugin=name, classifier=classifier, weight=weight, fallback=fallback
                )
            )

        def register_workflow(workflow: Any) -> None:
            if inspect.isclass(workflow):
                workflow = workflow()
            if not isinstance(workflow, Workflow) or not workflow.name:
                raise TypeError(f"{workflow!r} is not a plugyard.Workflow with a name")
            build_graph(workflow, name)  # an invalid graph fails here, naming the plugin and the step
            workflows.append(
                RegisteredWorkflow(name=workflow.name, plugin=name, workflow=workflow, intents=tuple(workflow.intents))
            )

        for hook_name, register in (
            ("register_tools", register_tool),
            ("register_intent_classifiers", register_classifier),
            ("register_workflows", register_workflow),
            ("register_resources", register_resource),
            ("register_prompts", register_prompt),
        ):
            impl = self._impl_of(hook_name, name)
            if impl is None:
                continue
            try:
                self._invoke(impl, register=register)
            except PluginError as exc:
                self._drop(name, str(exc).removeprefix(f"plugin {name!r}: "))
                return
            except Exception as exc:
                self._drop(name, f"{hook_name} raised {type(exc).__name__}: {exc}")
                return
        self._add_owned(info, tools, self.tools.add, info.tools, lambda t: t.name)
        self.classifiers.extend(classifiers)
        info.classifiers = [c.name for c in classifiers]
        for workflow in workflows:
            if any(w.name == workflow.name for w in self.workflows):
                other = next(w.plugin for w in self.workflows if w.name == workflow.name)
                message = f"workflow {workflow.name!r} is registered by both plugin {other!r} and plugin {name!r}"
                log.error("%s", message)
                if self.strict:
                    raise PluginError(name, message)
                continue
            self.workflows.append(workflow)
            info.workflows.append(workflow.name)
        self._add_owned(info, resources, self.resources.add, info.resources, lambda r: r.uri)
        self._add_owned(info, prompts, self.prompts.add, info.prompts, lambda p: p.name)

    def _add_owned(
        self,
        info: PluginInfo,
        items: Sequence[Any],
        add: Callable[[Any], None],
        names: list[str],
        name_of: Callable[[Any], str],
    ) -> None:
        for item in items:
            try:
                add(item)
            except PluginError as exc:
                # A clash skips the item; the plugin's other registrations still serve.
                log.error("%s", exc)
                info.error = f"{info.error + '; ' if info.error else ''}{exc}"
                if self.strict:
                    raise
                continue
            names.append(name_of(item))

    def _hook_callers(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        # pluggy calls implementations last-registered first; so do we.
        callers: list[tuple[str, Callable[..., Any]]] = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            callers.append((impl.plugin_name, _bind(impl)))
        return callers

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

    # -- what plugins may use --------------------------------------------------------------

    def settings_for(self, plugin: str) -> Any:
        """The validated settings of ``plugin`` (None when it declares none)."""
        return self._settings.get(plugin)

    def get_plugin(self, name: str) -> object | None:
        return self.pm.get_plugin(name)

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell every client subscribed to ``uri`` that its contents changed."""
        await self.events.publish(ResourceUpdated(uri))

    async def notify_lists_changed(self) -> None:
        """Tell connected clients to list tools, prompts and resources again."""
        await self.events.publish(ListsChanged())

    def in_use(self) -> _InUse:
        """Mark a request (a tool call, a resource read) as using this host until the block ends: a
        live reload shuts a replaced host down only once none is left (see ``wait_idle``)."""
        return _InUse(self)

    def _release(self) -> None:
        self._in_use -= 1
        if self._in_use == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no request holds ``in_use()``."""
        while self._in_use:
            self._idle = anyio.Event()
            await self._idle.wait()

    def start_background(self, fn: Callable[[], Coroutine[Any, Any, Any]], *, name: str | None = None) -> None:
        """Run ``fn()`` until the host stops. Only valid while the host is running."""
        if self._task_group is None:
            raise RuntimeError("start_background() is only available while the host is running")
        self._task_group.start_soon(fn, name=name)

    # -- lifetime --------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PluginHost]:
        """Load the plugins, run ``startup`` hooks, and on exit ``shutdown`` hooks (shielded)."""
        self.load()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    await self._lifetime_hook("startup")
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._lifetime_hook("shutdown")
                    self._task_group = None
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The task group is ours, not the caller's: hand back the one error that happened.
            raise_single(group)

    async def _lifetime_hook(self, hook_name: str) -> None:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                result = self._invoke(impl, host=self)
                if inspect.isawaitable(result):
                    await result
            except PlugyardError:
                # A deliberate refusal (for example a database schema behind): the host cannot run.
                raise
            except Exception as exc:
                message = f"{hook_name} raised {type(exc).__name__}: {exc}"
                log.exception("plugin %r: %s", impl.plugin_name, message)
                info = self.infos.get(impl.plugin_name)
                if info is not None:
                    info.error = f"{info.error + '; ' if info.error else ''}{message}"
                if self.strict:
                    raise PluginError(impl.plugin_name, message) from exc

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

    def tools_for(self, user_id: str) -> list[Tool]:
        """The tools to list for ``user_id``: every tool in registration order; with ``[server]
        rank_tools``, in the ``rank_tools`` hook's order, ``pinned_tools`` first, at most
        ``max_listed_tools`` (pinned ones are never cut)."""
        tools = list(self.tools)
        server = self.config.server
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


class _InUse:
    """``PluginHost.in_use()``: a plain context manager (every call enters one; a generator-based
    one cost several times as much)."""

    __slots__ = ("_host",)

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    def __enter__(self) -> PluginHost:
        self._host._in_use += 1
        return self._host

    def __exit__(self, *_exc: object) -> None:
        self._host._release()


def raise_single(group: BaseExceptionGroup[Any]) -> NoReturn:
    """Re-raise a task group's only error as itself (a group of several stays a group)."""
    if len(group.exceptions) == 1:
        raise group.exceptions[0] from group.exceptions[0].__cause__
    raise group


def _identity(obj: object) -> object:
    return obj


def _bind(impl: pluggy.HookImpl) -> Callable[..., Any]:
    fn = impl.function
    argnames = impl.argnames

    def call(**kwargs: Any) -> Any:
        return fn(*[kwargs[arg] for arg in argnames])

    return call


def _is_spec(obj: object) -> bool:
    return callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")
