"""``plugyard tools``: every tool the enabled plugins register."""

from __future__ import annotations

import json

import anyio
import click

from plugyard.cli.context import CliState, guard
from plugyard.cli.output import is_terminal, table


@click.command("tools")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with input schemas.")
@click.option(
    "--started",
    is_flag=True,
    help="Start the plugins first: also the tools registered once started (an upstream server's).",
)
@click.pass_obj
def tools_cmd(state: CliState, as_json: bool, started: bool) -> None:
    """List every tool the enabled plugins register."""
    host = guard(state.host)
    if started:

        async def start() -> None:
            async with host.running():
                pass

        guard(lambda: anyio.run(start))
    else:
        # On stderr: what a script reads from stdout stays the list alone.
        click.echo(
            "note: tools a plugin registers once started (an upstream server's) are not listed; add --started",
            err=True,
        )
    tools = sorted(host.tools, key=lambda t: t.name)
    if as_json:
        data = [
            {"name": t.name, "plugin": t.plugin, "description": t.description, "input_schema": t.input_schema}
            for t in tools
        ]
        click.echo(json.dumps(data, indent=2))
        return
    summaries = [t.description.splitlines()[0] if t.description else "" for t in tools]
    if is_terminal():
        table(["tool", "plugin", "description"], [[t.name, t.plugin, d] for t, d in zip(tools, summaries, strict=True)])
        return
    for tool, summary in zip(tools, summaries, strict=True):
        click.echo(f"{tool.name}  ({tool.plugin})  {summary}")
