"""What a listing of upstream servers becomes in plugyard: tools, resources, templates and prompts
registered through the public ``register`` callables, under ``<prefix>_<name>``.

A name that is not valid (``^[a-zA-Z0-9_-]{1,64}$``), or that two servers would both serve, is not
registered; the reason is kept in each server's ``problems`` (shown by /healthz and
``plugyard upstream list``) and logged.
"""

from __future__ import annotations

import base64
import inspect
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import mcp.types as mt

import plugyard
from plugyard import PROMPT_NAME, TOOL_NAME, PluginError, RawResult, ToolContext

from .connection import Upstream

log = logging.getLogger("plugyard.upstream")

NAMES = {"tool": TOOL_NAME, "prompt": PROMPT_NAME}
"""What plugyard serves a name of each kind under (its own rules, checked before a name is claimed)."""
_RESERVED = ":/?#[]@!$&'()*+,;="
_VARIABLE = re.compile(r"\{(\+?)([A-Za-z_][A-Za-z0-9_]*)\}")


def public_name(upstream: Upstream, name: str) -> str:
    prefix = upstream.settings.prefix_for(upstream.name)
    return f"{prefix}_{name}" if prefix else name


def _claim(owners: dict[str, tuple[Upstream, str]], upstream: Upstream, name: str, kind: str) -> str | None:
    """The public name of ``upstream``'s ``name``, or None (with the problem noted) when it cannot be served."""
    public = public_name(upstream, name)
    rule = NAMES[kind]
    if not rule.fullmatch(public):
        _problem(upstream, f"{kind} {name!r}: {public!r} is not a valid name ({rule.pattern}); skipped")
        return None
    other = owners.get(public)
    if other is not None:
        first, first_name = other
        message = (
            f"{kind} name {public!r} would be served by upstream {first.name!r} ({kind} {first_name!r}) and by "
            f"upstream {upstream.name!r} ({kind} {name!r}); kept {first.name!r}'s: set a different prefix for one"
        )
        _problem(first, message)
        _problem(upstream, message)
        return None
    owners[public] = (upstream, name)
    return public


def _problem(upstream: Upstream, message: str) -> None:
    if message not in upstream.problems:
        upstream.problems.append(message)
        log.error("upstream %r: %s", upstream.name, message)


def _register(upstream: Upstream, kind: str, name: str, build: Callable[..., None], *args: Any) -> None:
    try:
        build(upstream, *args)
    except PluginError as exc:  # one odd item of one server must not take the others down
        _problem(upstream, f"{kind} {name!r} cannot be served: {exc}")


def register_tools(upstreams: Iterable[Upstream], register: Callable[..., None]) -> None:
    owners: dict[str, tuple[Upstream, str]] = {}
    for upstream in upstreams:
        capabilities: dict[str, list[str]] = {}
        for capability, names in upstream.settings.capabilities.items():
            for name in names:
                capabilities.setdefault(name, []).append(capability)
        for tool in upstream.listing.tools:
            public = _claim(owners, upstream, tool.name, "tool")
            if public is None:
                continue
            caps = capabilities.get(tool.name, []) + capabilities.get(public, [])
            _register(upstream, "tool", tool.name, _tool, tool, public, caps, register)


def _tool(upstream: Upstream, tool: mt.Tool, public: str, caps: list[str], register: Callable[..., None]) -> None:
    upstream_name = tool.name

    async def call(arguments: dict[str, Any], ctx: ToolContext) -> RawResult:
        result = await upstream.call_tool(upstream_name, arguments, ctx)
        if isinstance(result, dict):  # the raw lane: the server's JSON, blocks as they travel
            return RawResult(
                content=result.get("content") or (),
                structured=result.get("structuredContent"),
                is_error=bool(result.get("isError")),
                meta=result.get("_meta"),
            )
        return RawResult(
            content=result.content,
            structured=result.structured_content,
            is_error=bool(result.is_error),
            meta=result.meta,
        )

    annotations = tool.annotations
    register(
        call,
        name=public,
        title=tool.title or (annotations.title if annotations else None),
        description=tool.description or "",
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        timeout=upstream.settings.timeout,
        capabilities=caps,
        read_only=annotations.read_only_hint if annotations else None,
        destructive=annotations.destructive_hint if annotations else None,
        idempotent=annotations.idempotent_hint if annotations else None,
        open_world=annotations.open_world_hint if annotations else None,
        source=upstream.name,
    )


def _completers(
    upstream: Upstream, ref: mt.PromptReference | mt.ResourceTemplateReference, names: list[str]
) -> dict[str, Callable[..., Any]]:
    """Argument completion asked of the server, when it offers it."""
    if not upstream.listing.completes:
        return {}

    def completer(name: str) -> Callable[..., Any]:
        async def complete(value: str, given: dict[str, str]) -> list[str]:
            return await upstream.complete(ref, name, value, given)

        return complete

    return {name: completer(name) for name in names}


def _signature(names: Iterable[tuple[str, bool]]) -> inspect.Signature:
    params = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if required else None)
        for name, required in names
    ]
    return inspect.Signature(params)


def _contents(result: mt.ReadResourceResult) -> str | bytes:
    if not result.contents:
        return ""
    first = result.contents[0]  # plugyard serves one body per read; the first is what most servers send
    if isinstance(first, mt.BlobResourceContents):
        return base64.b64decode(first.blob)
    return first.text


def _uri_free(uris: dict[str, Upstream], upstream: Upstream, uri: str) -> bool:
    other = uris.setdefault(uri, upstream)
    if other is upstream:
        return True
    message = (
        f"resource {uri!r} is offered by upstream {other.name!r} and by upstream {upstream.name!r}; "
        f"kept {other.name!r}'s"
    )
    _problem(other, message)
    _problem(upstream, message)
    return False


def register_resources(upstreams: Iterable[Upstream], register: Callable[..., None]) -> None:
    # A resource is known by its URI; its name is a label (any text), shown with the server's prefix.
    uris: dict[str, Upstream] = {}
    for upstream in upstreams:
        for resource in upstream.listing.resources:
            if _uri_free(uris, upstream, str(resource.uri)):
                public = public_name(upstream, resource.name)
                _register(upstream, "resource", str(resource.uri), _static, resource, public, register)
        for template in upstream.listing.templates:
            if _uri_free(uris, upstream, template.uri_template):
                public = public_name(upstream, template.name)
                _register(upstream, "resource template", template.uri_template, _template, template, public, register)


def _static(upstream: Upstream, resource: mt.Resource, public: str, register: Callable[..., None]) -> None:
    uri = str(resource.uri)

    async def read() -> str | bytes:
        return _contents(await upstream.read_resource(uri))

    register(
        read, uri=uri, name=public, title=resource.title, description=resource.description, mime_type=resource.mime_type
    )


def _template(upstream: Upstream, template: mt.ResourceTemplate, public: str, register: Callable[..., None]) -> None:
    uri_template = template.uri_template
    variables = [m.group(2) for m in _VARIABLE.finditer(uri_template)]

    async def read(**values: str) -> str | bytes:
        # plugyard hands the values decoded: encoded again (RFC 6570: all but unreserved for {x}, reserved
        # characters kept for {+x}), the upstream gets the URI the client asked for.
        uri = _VARIABLE.sub(
            lambda m: urllib.parse.quote(values[m.group(2)], safe=_RESERVED if m.group(1) else ""), uri_template
        )
        return _contents(await upstream.read_resource(uri))

    read.__signature__ = _signature((v, True) for v in variables)  # type: ignore[attr-defined]
    ref = mt.ResourceTemplateReference(type="ref/resource", uri=uri_template)
    register(
        read,
        complete=_completers(upstream, ref, variables),
        uri=uri_template,
        name=public,
        title=template.title,
        description=template.description,
        mime_type=template.mime_type,
    )


def register_prompts(upstreams: Iterable[Upstream], register: Callable[..., None]) -> None:
    owners: dict[str, tuple[Upstream, str]] = {}
    for upstream in upstreams:
        for prompt in upstream.listing.prompts:
            public = _claim(owners, upstream, prompt.name, "prompt")
            if public is not None:
                _register(upstream, "prompt", prompt.name, _prompt, prompt, public, register)


def _prompt(upstream: Upstream, prompt: mt.Prompt, public: str, register: Callable[..., None]) -> None:
    upstream_name = prompt.name
    arguments = list(prompt.arguments or [])
    for argument in arguments:
        if not argument.name.isidentifier():
            raise PluginError(upstream.name, f"prompt argument {argument.name!r} is not a name plugyard can pass")

    async def render(**given: str | None) -> list[plugyard.PromptMessage]:
        result = await upstream.get_prompt(upstream_name, {k: v for k, v in given.items() if v is not None})
        return [plugyard.PromptMessage(role=m.role, content=block(m.content)) for m in result.messages]

    render.__signature__ = _signature((a.name, bool(a.required)) for a in arguments)  # type: ignore[attr-defined]
    ref = mt.PromptReference(type="ref/prompt", name=upstream_name)
    register(
        render,
        complete=_completers(upstream, ref, [a.name for a in arguments]),
        name=public,
        title=prompt.title,
        description=prompt.description or "",
        arguments={a.name: a.description for a in arguments if a.description},
    )


def block(content: Any) -> Any:
    """An MCP content block as plugyard's (prompts carry plugyard's content types)."""
    if isinstance(content, mt.TextContent):
        return content.text
    if isinstance(content, mt.ImageContent):
        return plugyard.Image(data=base64.b64decode(content.data), mime_type=content.mime_type)
    if isinstance(content, mt.AudioContent):
        return plugyard.Audio(data=base64.b64decode(content.data), mime_type=content.mime_type)
    if isinstance(content, mt.EmbeddedResource):
        inner = content.resource
        if isinstance(inner, mt.BlobResourceContents):
            return plugyard.EmbeddedResource(
                uri=str(inner.uri), blob=base64.b64decode(inner.blob), mime_type=inner.mime_type
            )
        return plugyard.EmbeddedResource(uri=str(inner.uri), text=inner.text, mime_type=inner.mime_type)
    if isinstance(content, mt.ResourceLink):
        return plugyard.ResourceLink(
            uri=str(content.uri),
            name=content.name,
            title=content.title,
            description=content.description,
            mime_type=content.mime_type,
        )
    return str(content)
