"""``plugyard call TOOL key=value...``: one tool call through the same pipeline as the server."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import click

from plugyard.cli.context import EXIT_TOOL_FAILED, CliState, CommandError, guard
from plugyard.core.errors import PlugyardError


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _arguments(arguments: tuple[str, ...], json_args: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if json_args is not None:
        try:
            parsed = json.loads(json_args)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--json")
        args.update(parsed)
    for item in arguments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="ARGUMENTS")
        args[key] = _parse_value(value)
    return args


@click.command("call")
@click.argument("tool")
@click.argument("arguments", nargs=-1)
@click.option("--json", "json_args", default=None, help="All arguments as one JSON object instead of key=value.")
@click.option("--user", default=None, help="User id to record the call under.")
@click.pass_obj
def call_cmd(state: CliState, tool: str, arguments: tuple[str, ...], json_args: str | None, user: str | None) -> None:
    """Run one tool through the same pipeline as the server (the call is recorded).

    Arguments are key=value; a value that parses as JSON (numbers, true, lists...) is used as such.
    """
    args = _arguments(arguments, json_args)
    host = guard(state.host)

    async def go() -> Any:
        async with host.running():
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
        if isinstance(result, str):
            click.echo(result)
        else:
            import pydantic_core

            click.echo(pydantic_core.to_json(result, indent=2).decode())
        return
    click.echo(f"error ({outcome.error_type}): {outcome.message}", err=True)
    sys.exit(EXIT_TOOL_FAILED)
