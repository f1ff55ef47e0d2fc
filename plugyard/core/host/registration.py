"""What a loaded plugin declares: its settings (validated against its model) and what its
registration hooks register (stamped with its name; clashes name both plugins).

A plugin's registrations are collected first and added only when every hook of it succeeded, so a
plugin that fails halfway leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy
import pydantic

from plugyard.core.config import Config, setting_problem
from plugyard.core.errors import ConfigError, PluginError
from plugyard.core.intents import RegisteredClassifier
from plugyard.core.prompts import Prompt, build_prompt
from plugyard.core.resources import Resource, build_resource
from plugyard.core.schema_tools import build_schema_tool
from plugyard.core.tools import Tool, build_tool
from plugyard.core.workflows import RegisteredWorkflow, Workflow, build_graph

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost
    from plugyard.core.host.discovery import PluginInfo

log = logging.getLogger("plugyard.host")


class Refused(Exception):
    """A plugin's declarations cannot be used; the message says why (the host drops the plugin)."""


def impl_of(pm: pluggy.PluginManager, hook_name: str, plugin: str) -> pluggy.HookImpl | None:
    caller: pluggy.HookCaller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():
        if impl.plugin_name == plugin:
            return impl
    return None


def invoke(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it asks for, by name."""
    return impl.function(*[kwargs[arg] for arg in impl.argnames])


def bind(impl: pluggy.HookImpl) -> Callable[..., Any]:
    fn = impl.function
    argnames = impl.argnames

    def call(**kwargs: Any) -> Any:
        return fn(*[kwargs[arg] for arg in argnames])

    return call


def validate_settings(config: Config, name: str, impl: pluggy.HookImpl | None) -> Any:
    """The plugin's ``[plugins.<name>]`` table validated against the model it declares (None when
    it declares none). Raises ``Refused`` when the plugin's declaration is broken (the plugin is
    dropped) and ``ConfigError`` when the user's table is wrong (loading stops)."""
    table = dict(config.plugins.settings.get(name, {}))
    where = str(config.source) if config.source is not None else "configuration"
    if impl is None:
        if table:
            # The user's own file is wrong, not the plugin: stop, as for any other bad setting.
            raise ConfigError(
                f"{where}: [plugins.{name}] sets {', '.join(sorted(table))}, but plugin {name!r} has no settings; "
                "remove the table"
            )
        return None
    try:
        model = invoke(impl)
    except Exception as exc:
        raise Refused(f"plugin_settings raised {type(exc).__name__}: {exc}") from exc
    if model is None:
        return None
    if not (inspect.isclass(model) and issubclass(model, pydantic.BaseModel)):
        raise Refused(f"plugin_settings must return a pydantic model class, got {model!r}")
    if model.model_config.get("extra") is None:
        model = pydantic.create_model(model.__name__, __base__=model, __config__=None)
        model.model_config["extra"] = "forbid"
        model.model_rebuild(force=True)
    try:
        return model.model_validate(table, context={"base_dir": config.base_dir})
    except pydantic.ValidationError as exc:
        # The plugin is fine; the user's settings for it are not. Serving without it would turn
        # every one of its tools into "unknown tool": stop and say which key breaks which rule.
        problems = "; ".join(
            setting_problem(
                f"plugins.{name}", ".".join(str(p) for p in e["loc"]), e, ", ".join(fields_at(model, e["loc"][:-1]))
            )
            for e in exc.errors(include_url=False)
        )
        raise ConfigError(f"{where}: {problems}") from None


def fields_at(model: Any, loc: Sequence[Any]) -> list[str]:
    """The keys of the table at ``loc`` inside ``model`` (``servers.typo`` in an upstream's settings: a
    server's keys, not the plugin's), so an unknown key is answered with its own table's keys; [] when the
    path leads to no model."""
    kind: Any = model
    for part in loc:
        kind = _required(kind)
        if inspect.isclass(kind) and issubclass(kind, pydantic.BaseModel):
            field = kind.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return []
            kind = field.annotation
        elif typing.get_origin(kind) in (dict, list, tuple, Mapping, Sequence):
            # A table of tables (``servers``) or a list: the part is a key or an index; go to the value's type.
            args = typing.get_args(kind)
            kind = args[-1] if args else None
        else:
            return []
    kind = _required(kind)
    return list(kind.model_fields) if inspect.isclass(kind) and issubclass(kind, pydantic.BaseModel) else []


def _required(kind: Any) -> Any:
    """``X`` for ``X | None``; anything else as it is."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        given = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(given) == 1:
            return given[0]
    return kind


_SECRET_KEY = re.compile(r"secret|token|passw|pwd|api_?key|credential|auth|cookie|private", re.IGNORECASE)


def shown_settings(settings: Any) -> dict[str, Any] | None:
    """Validated settings as ``plugyard plugins`` shows them: JSON, secret-looking keys masked."""
    if not isinstance(settings, pydantic.BaseModel):
        return None
    shown = _masked(settings.model_dump(mode="json"))  # SecretStr values come out masked already
    return shown if isinstance(shown, dict) else None


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if _SECRET_KEY.search(str(k)) else _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


@dataclasses.dataclass(slots=True)
class Registrations:
    tools: list[Tool] = dataclasses.field(default_factory=list)
    classifiers: list[RegisteredClassifier] = dataclasses.field(default_factory=list)
    workflows: list[RegisteredWorkflow] = dataclasses.field(default_factory=list)
    resources: list[Resource] = dataclasses.field(default_factory=list)
    prompts: list[Prompt] = dataclasses.field(default_factory=list)


REREGISTERED = ("register_tools", "register_resources", "register_prompts")
"""The registration hooks ``PluginHost.reregister`` runs again."""


def collect(pm: pluggy.PluginManager, name: str, hooks: Sequence[str] | None = None) -> Registrations:
    """Run plugin ``name``'s registration hooks (``hooks``, else all); what they register, stamped with
    its name. Raises ``Refused`` when one raises or registers something invalid."""
    collector = _Collector(name)
    for hook_name, register in (
        ("register_tools", collector.tool),
        ("register_intent_classifiers", collector.classifier),
        ("register_workflows", collector.workflow),
        ("register_resources", collector.resource),
        ("register_prompts", collector.prompt),
    ):
        if hooks is not None and hook_name not in hooks:
            continue
        impl = impl_of(pm, hook_name, name)
        if impl is None:
            continue
        try:
            invoke(impl, register=register)
        except PluginError as exc:
            raise Refused(str(exc).removeprefix(f"plugin {name!r}: ")) from exc
        except Exception as exc:
            raise Refused(f"{hook_name} raised {type(exc).__name__}: {exc}") from exc
    return collector.found


class _Collector:
    """The ``register`` callables one plugin's registration hooks receive."""

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.found = Registrations()

    def tool(self, fn: Callable[..., Any], *, source: str | None = None, **options: Any) -> None:
        if "input_schema" in options:
            tool = build_schema_tool(fn, plugin=self.plugin, **options)
        else:
            tool = build_tool(fn, plugin=self.plugin, **options)
        tool.source = source
        self.found.tools.append(tool)

    def resource(self, fn: Callable[..., Any], **options: Any) -> None:
        self.found.resources.append(build_resource(fn, plugin=self.plugin, **options))

    def prompt(self, fn: Callable[..., Any], **options: Any) -> None:
        self.found.prompts.append(build_prompt(fn, plugin=self.plugin, **options))

    def classifier(
        self, classifier: Any, name_: str | None = None, weight: float = 1.0, fallback: bool = False, **kw: Any
    ) -> None:
        label = kw.pop("name", None) or name_ or getattr(classifier, "name", None) or type(classifier).__name__
        if kw:
            raise TypeError(f"unexpected options {sorted(kw)}")
        if not callable(getattr(classifier, "classify", None)):
            raise TypeError(f"intent classifier {label!r} has no classify() method")
        self.found.classifiers.append(
            RegisteredClassifier(
                name=str(label), plugin=self.plugin, classifier=classifier, weight=weight, fallback=fallback
            )
        )

    def workflow(self, workflow: Any) -> None:
        if inspect.isclass(workflow):
            workflow = workflow()
        if not isinstance(workflow, Workflow) or not workflow.name:
            raise TypeError(f"{workflow!r} is not a plugyard.Workflow with a name")
        build_graph(workflow, self.plugin)  # an invalid graph fails here, naming the plugin and the step
        self.found.workflows.append(
            RegisteredWorkflow(
                name=workflow.name, plugin=self.plugin, workflow=workflow, intents=tuple(workflow.intents)
            )
        )


def add(host: PluginHost, info: PluginInfo, found: Registrations) -> None:
    """Add one plugin's registrations to the host's registries; a clash skips the item (naming both
    plugins) and the plugin's other registrations still serve (strict mode makes it fatal)."""
    add_owned(host, info, found.tools, host.tools.add, info.tools, lambda t: t.name)
    host.classifiers.extend(found.classifiers)
    info.classifiers = [c.name for c in found.classifiers]
    for workflow in found.workflows:
        other = next((w.plugin for w in host.workflows if w.name == workflow.name), None)
        if other is not None:
            message = f"workflow {workflow.name!r} is registered by both plugin {other!r} and plugin {info.name!r}"
            log.error("%s", message)
            if host.strict:
                raise PluginError(info.name, message)
            continue
        host.workflows.append(workflow)
        info.workflows.append(workflow.name)
    add_owned(host, info, found.resources, host.resources.add, info.resources, lambda r: r.uri)
    add_owned(host, info, found.prompts, host.prompts.add, info.prompts, lambda p: p.name)


ERROR_SEPARATOR = "; "
"""Between the errors of one plugin in ``PluginInfo.error``."""


def replace(host: PluginHost, info: PluginInfo, found: Registrations) -> None:
    """Swap a plugin's tools, resources and prompts for ``found`` (``PluginHost.reregister``)."""
    for tool in host.tools.by_plugin(info.name):
        host.tools.remove(tool.name)
    host.resources.remove_plugin(info.name)
    host.prompts.remove_plugin(info.name)
    info.tools.clear()
    info.resources.clear()
    info.prompts.clear()
    # Clashes are found afresh; any other error (a startup hook's) stays.
    for clash in info.clashes:
        info.error = _without(info.error, clash)
    info.clashes.clear()
    add_owned(host, info, found.tools, host.tools.add, info.tools, lambda t: t.name)
    add_owned(host, info, found.resources, host.resources.add, info.resources, lambda r: r.uri)
    add_owned(host, info, found.prompts, host.prompts.add, info.prompts, lambda p: p.name)


def _without(error: str | None, part: str) -> str | None:
    """``error`` without one of the messages it was joined from (a message may hold the separator)."""
    if error is None or error == part:
        return None
    for joined in (part + ERROR_SEPARATOR, ERROR_SEPARATOR + part):
        if joined in error:
            return error.replace(joined, "", 1)
    return error


def add_owned(
    host: PluginHost,
    info: PluginInfo,
    items: Sequence[Any],
    add_one: Callable[[Any], None],
    names: list[str],
    name_of: Callable[[Any], str],
) -> None:
    for item in items:
        try:
            add_one(item)
        except PluginError as exc:
            log.error("%s", exc)
            info.clashes.append(str(exc))
            info.error = f"{info.error + ERROR_SEPARATOR if info.error else ''}{exc}"
            if host.strict:
                raise
            continue
        names.append(name_of(item))
