"""``plugyard call TOOL key=value...``: one tool call through the same pipeline as the server."""

from __future__ import annotations

import difflib
import json
import os
import sys
from typing import Any

import anyio
import click

from plugyard.cli.context import EXIT_TOOL_FAILED, EXIT_USAGE, CliState, CommandError, guard
from plugyard.core.content import RawResult
from plugyard.core.errors import InvalidArguments, PlugyardError
from plugyard.core.host import PluginHost

_STRUCTURED = frozenset({"integer", "number", "boolean", "array", "object", "null"})


def _types(schema: Any, defs: dict[str, Any]) -> set[str]:
    """The JSON types a (sub)schema admits; empty when it does not say."""
    if not isinstance(schema, dict):
        return set()
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _types(defs.get(ref.removeprefix("#/$defs/")), defs) or {"object"}
    kind = schema.get("type")
    found = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    if "enum" in schema or "const" in schema:
        values = [*schema.get("enum", ()), *([schema["const"]] if "const" in schema else [])]
        found |= {"string" if isinstance(v, str) else "number" for v in values}
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            found |= _types(option, defs)
    return found


def _value(raw: str, schema: Any, defs: dict[str, Any]) -> Any:
    """``raw`` as the tool's schema wants it: a string field stays the text typed (``expression=42``
    is the string "42"); JSON only where the field takes numbers, booleans, lists or objects."""
    types = _types(schema, defs)
    if "string" in types and not (raw == "null" and "null" in types):
        return raw
    if types and not types & _STRUCTURED:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _arguments(arguments: tuple[str, ...], json_args: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if json_args is not None:
        try:
            parsed = json.loads(json_args)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--json")
        args.update(parsed)
    properties = schema.get("properties") or {}
    defs = schema.get("$defs") or {}
    for item in arguments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="ARGUMENTS")
        args[key] = _value(value, properties.get(key), defs)
    return args


def _unknown_tool(host: PluginHost, name: str) -> click.UsageError:
    known = sorted(t.name for t in host.tools)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return click.UsageError(f"unknown tool {name!r}{hint} (`plugyard tools` lists every tool)")


@click.command("call")
@click.argument("tool")
@click.argument("arguments", nargs=-1)
@click.option("--json", "json_args", default=None, help="All arguments as one JSON object instead of key=value.")
@click.option("--user", default=None, help="User id to record the call under.")
@click.pass_obj
def call_cmd(state: CliState, tool: str, arguments: tuple[str, ...], json_args: str | None, user: str | None) -> None:
    """Run one tool through the same pipeline as the server (the call is recorded).

    Arguments are key=value, read by the tool's input schema: a text field takes the value as
    typed (expression=42 is the text "42"); a number, boolean, list or object field takes it as
    JSON (count=3, tags='["a","b"]').
    """
    host = guard(state.host)
    found = host.tools.get(tool)
    # A tool may also be registered once its plugin has started (a server it relays, say): look again then.
    args = _arguments(arguments, json_args, found.input_schema) if found is not None else None

    async def go() -> Any:
        async with host.running():
            nonlocal args
            if args is None:
                started = host.tools.get(tool)
                if started is None:
                    raise _unknown_tool(host, tool)
                args = _arguments(arguments, json_args, started.input_schema)
            kwargs: dict[str, Any] = {"session_id": f"cli-{os.getpid()}"}
            if user:
                kwargs["user_id"] = user
            return await host.call_tool(tool, args, **kwargs)

    try:
        outcome = anyio.run(go)
    except PlugyardError as exc:
        raise CommandError(str(exc)) from None
    if outcome.success:
        result = outcome.result
        if isinstance(result, RawResult):  # a relayed MCP result: its structured content, else its text
            result = dict(result.structured) if result.structured is not None else result.text()
        if isinstance(result, str):
            click.echo(result)
        else:
            import pydantic_core

            click.echo(pydantic_core.to_json(result, indent=2).decode())
        return
    click.echo(f"error ({outcome.error_type}): {outcome.message}", err=True)
    # Arguments the tool's schema refuses (a wrong type, an unknown or missing one) are the caller's usage error.
    sys.exit(EXIT_USAGE if outcome.error_type == InvalidArguments.kind else EXIT_TOOL_FAILED)
