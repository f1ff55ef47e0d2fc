"""``plugyard upstream list``: each configured upstream server connected once, and what it offers."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import click

from plugyard import PlugyardError

from .connection import Upstream
from .settings import UpstreamSettings

EXIT_DOWN = 1


def add_commands(cli: click.Group) -> None:
    cli.add_command(upstream_group)


@click.group("upstream")
def upstream_group() -> None:
    """The MCP servers mounted as upstreams ([plugins.upstream.servers.NAME] in plugins.toml)."""


def _settings() -> UpstreamSettings:
    from . import UpstreamPlugin

    try:
        host = click.get_current_context().obj.host()
    except PlugyardError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    for name in host.infos:
        if isinstance(host.get_plugin(name), UpstreamPlugin):
            settings = host.settings_for(name)
            return settings if isinstance(settings, UpstreamSettings) else UpstreamSettings()
    return UpstreamSettings()


async def _probe(settings: UpstreamSettings) -> dict[str, dict[str, Any]]:
    async def unchanged(_: Upstream) -> None:
        return None

    upstreams = [Upstream(name, server, settings, unchanged) for name, server in settings.servers.items()]
    async with anyio.create_task_group() as tg:
        for upstream in upstreams:
            tg.start_soon(upstream.run)
        for upstream in upstreams:
            await upstream.wait_attempted()
        reports = {u.name: {**u.report(), "names": [t.name for t in u.listing.tools]} for u in upstreams}
        for upstream in upstreams:
            await upstream.stop()
    return reports


@upstream_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def upstream_list(as_json: bool) -> None:
    """Connect to every configured upstream once: its state, tools and last error. Exit 1 when one is down."""
    settings = _settings()
    reports = anyio.run(_probe, settings)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    elif not reports:
        click.echo("no upstream servers: add [plugins.upstream.servers.NAME] to plugins.toml")
    for name, report in reports.items() if not as_json else ():
        server = settings.servers[name]
        where = server.url or " ".join([server.command or "", *server.args])
        prefix = server.prefix_for(name)
        click.echo(f"{name}  [{report['state']}]  {report['transport']}: {where}")
        click.echo(
            f"    tools ({report['tools']}, as {prefix + '_' if prefix else ''}<name>): {', '.join(report['names'])}"
        )
        if report["resources"] or report["prompts"]:
            click.echo(f"    resources: {report['resources']}, prompts: {report['prompts']}")
        if report["last_error"] and report["state"] != "ready":
            click.echo(f"    last error: {report['last_error']}")
        for problem in report["problems"]:
            click.echo(f"    problem: {problem}")
    if any(r["state"] != "ready" for r in reports.values()):
        sys.exit(EXIT_DOWN)
