"""Resources and resource templates that plugins register, and argument completion.

A resource is a function that returns its contents: ``str`` (text), ``bytes`` (binary), or
anything JSON-serialisable (sent as ``application/json`` text). A URI with ``{name}`` variables
is a template: the function's parameters are the variables, filled from the URI a client reads.
A parameter annotated ``plugyard.ResourceContext`` receives who is reading (the caller's user id
and session), so a resource can show each user only their own data.
Names and URIs are owned by the first plugin that registers them; a clash names both plugins.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio.to_thread
import pydantic_core

from plugyard.core.errors import PluginError, ResourceNotFound

_VARIABLE = re.compile(r"\{([+]?)([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

Completer = Callable[..., Any] | Sequence[str]
"""Completion for one argument: a list of choices (filtered by the typed prefix), or a function
``(value: str, arguments: dict[str, str]) -> Iterable[str]`` (sync or async; it may accept just ``value``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceContext:
    """Handed to a resource function that declares a parameter annotated ``ResourceContext``:
    who is reading. The parameter is filled by plugyard and is not a URI variable."""

    user_id: str
    session_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Contents:
    """A read resource: ``text`` or ``data`` (bytes), with its MIME type."""

    uri: str
    mime_type: str
    text: str | None = None
    data: bytes | None = None


@dataclasses.dataclass(slots=True)
class Resource:
    """A registered resource or, when ``variables`` is not empty, a resource template."""

    uri: str
    fn: Callable[..., Any]
    plugin: str
    name: str
    title: str | None = None
    description: str = ""
    mime_type: str | None = None
    variables: tuple[str, ...] = ()
    completers: Mapping[str, Completer] = dataclasses.field(default_factory=dict)
    context_param: str | None = None
    """The parameter that receives the reader's ``ResourceContext``, if any."""
    _pattern: re.Pattern[str] | None = None

    @property
    def is_template(self) -> bool:
        return bool(self.variables)

    def match(self, uri: str) -> dict[str, str] | None:
        if self._pattern is None:
            return {} if uri == self.uri else None
        found = self._pattern.fullmatch(uri)
        if found is None:
            return None
        return {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}


def _template_pattern(uri: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for found in _VARIABLE.finditer(uri):
        parts.append(re.escape(uri[last : found.start()]))
        reserved, name = found.groups()
        parts.append(f"(?P<{name}>{'.+' if reserved else '[^/?#]+'})")
        last = found.end()
    parts.append(re.escape(uri[last:]))
    return re.compile("".join(parts))


def build_resource(
    fn: Callable[..., Any],
    *,
    plugin: str,
    uri: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    complete: Mapping[str, Completer] | None = None,
) -> Resource:
    """Describe ``fn`` as the resource (or template) at ``uri``."""
    if not _SCHEME.match(uri):
        raise PluginError(plugin, f"resource URI {uri!r} needs a scheme, for example 'notes://{uri}'")
    if "{" in _VARIABLE.sub("", uri) or "}" in _VARIABLE.sub("", uri):
        raise PluginError(plugin, f"resource URI {uri!r}: only simple {{name}} and {{+name}} variables are supported")
    variables = tuple(m.group(2) for m in _VARIABLE.finditer(uri))
    if len(set(variables)) != len(variables):
        raise PluginError(plugin, f"resource URI {uri!r} repeats a variable")
    context_param = _context_param(fn)
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != context_param]
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    accepted = {p.name for p in params}
    if not required <= set(variables) or not set(variables) <= accepted:
        raise PluginError(
            plugin,
            f"resource {uri!r}: the function's parameters {sorted(accepted)} must be the URI's "
            f"variables {sorted(variables)}",
        )
    unknown = set(complete or {}) - set(variables)
    if unknown:
        raise PluginError(plugin, f"resource {uri!r}: completion for unknown variable(s) {sorted(unknown)}")
    return Resource(
        uri=uri,
        fn=fn,
        plugin=plugin,
        name=name or str(getattr(fn, "__name__", uri)),
        title=title,
        description=inspect.cleandoc(description or fn.__doc__ or ""),
        mime_type=mime_type,
        variables=variables,
        completers=dict(complete or {}),
        context_param=context_param,
        _pattern=_template_pattern(uri) if variables else None,
    )


def _context_param(fn: Callable[..., Any]) -> str | None:
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError, AttributeError, SyntaxError):
        # Unresolvable annotations: no parameter can be the context (it would need a resolvable hint).
        return None
    for name, hint in hints.items():
        args = typing.get_args(hint)
        if name != "return" and (hint is ResourceContext or (ResourceContext in args and type(None) in args)):
            return name
    return None


async def call_maybe_async(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Await ``fn``'s result when it is async; run a sync function in a worker thread."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
    if inspect.isawaitable(result):
        result = await result
    return result


async def complete_with(completer: Completer, value: str, arguments: Mapping[str, str]) -> list[str]:
    """The completions ``completer`` offers for ``value`` (at most 100, as MCP allows)."""
    if not callable(completer):
        choices: Iterable[Any] = [c for c in completer if str(c).startswith(value)]
    else:
        wants_arguments = len(inspect.signature(completer).parameters) >= 2
        args = (value, dict(arguments)) if wants_arguments else (value,)
        choices = await call_maybe_async(completer, *args) or ()
    return [str(c) for c in choices][:100]


class ResourceRegistry:
    """Resources by URI and templates in registration order. First registration owns a URI."""

    def __init__(self) -> None:
        self._static: dict[str, Resource] = {}
        self._templates: dict[str, Resource] = {}

    def add(self, resource: Resource) -> None:
        table = self._templates if resource.is_template else self._static
        existing = table.get(resource.uri)
        if existing is not None:
            raise PluginError(
                resource.plugin,
                f"resource {resource.uri!r} is registered by both plugin {existing.plugin!r} and plugin "
                f"{resource.plugin!r}; disable one of them in plugins.toml",
            )
        table[resource.uri] = resource

    def remove_plugin(self, plugin: str) -> None:
        for table in (self._static, self._templates):
            for uri in [u for u, r in table.items() if r.plugin == plugin]:
                del table[uri]

    @property
    def resources(self) -> list[Resource]:
        return list(self._static.values())

    @property
    def templates(self) -> list[Resource]:
        return list(self._templates.values())

    def __len__(self) -> int:
        return len(self._static) + len(self._templates)

    def template(self, uri_template: str) -> Resource | None:
        return self._templates.get(uri_template)

    def find(self, uri: str) -> tuple[Resource, dict[str, str]]:
        static = self._static.get(uri)
        if static is not None:
            return static, {}
        for template in self._templates.values():
            values = template.match(uri)
            if values is not None:
                return template, values
        raise ResourceNotFound(f"no resource matches {uri!r}")

    async def read(self, uri: str, context: ResourceContext | None = None) -> Contents:
        """Read ``uri`` for the reader ``context``. Raises ``ResourceNotFound``; whatever the function
        raises propagates. A resource that asks for the reader gets ``context`` (an error without one)."""
        resource, values = self.find(uri)
        kwargs: dict[str, Any] = dict(values)
        if resource.context_param is not None:
            if context is None:
                raise PluginError(resource.plugin, f"resource {uri!r} needs to know who reads it; no reader given")
            kwargs[resource.context_param] = context
        result = await call_maybe_async(resource.fn, **kwargs)
        if isinstance(result, bytes):
            return Contents(uri=uri, mime_type=resource.mime_type or "application/octet-stream", data=result)
        if isinstance(result, str):
            return Contents(uri=uri, mime_type=resource.mime_type or "text/plain", text=result)
        text = json.dumps(pydantic_core.to_jsonable_python(result), ensure_ascii=False, indent=2)
        return Contents(uri=uri, mime_type=resource.mime_type or "application/json", text=text)
