"""``plugyard plugins``: every discovered plugin, its origin, version, hooks, tools and load error."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from plugyard.cli.context import EXIT_ERROR, CliState, guard
from plugyard.cli.output import is_terminal, table
from plugyard.core.host import PluginHost, PluginInfo


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plugins_cmd(state: CliState, as_json: bool) -> None:
    """List every discovered plugin: origin, version, hooks, tools, and load errors."""
    host = guard(lambda: PluginHost(state.config, strict=False).load())
    infos = list(host.infos.values())
    states = _states(host)
    if as_json:
        click.echo(json.dumps([{**i.as_dict(), "state": states.get(i.name)} for i in infos], indent=2))
    elif is_terminal():
        _table(infos)
    else:
        _lines(infos)
    if not as_json:
        for name, shown in states.items():
            click.echo(f"{name} state: {json.dumps(shown, ensure_ascii=False)}")
    if state.strict and any(i.status == "failed" for i in infos):
        sys.exit(EXIT_ERROR)


def _states(host: PluginHost) -> dict[str, Any]:
    """Each plugin's ``plugin_state`` answer (the hook's own error when it raised)."""
    states: dict[str, Any] = {}
    for name, state_of in host.implementations("plugin_state"):
        try:
            shown = state_of(host=host)
        except Exception as exc:  # noqa: BLE001 - one plugin's broken report must not hide the listing
            shown = {"error": f"plugin_state raised {type(exc).__name__}: {exc}"}
        if shown is not None:
            states[name] = shown
    return states


def _table(infos: list[PluginInfo]) -> None:
    table(
        ["plugin", "version", "status", "origin", "from", "tools", "hooks"],
        [
            [i.name, i.version or "", i.status, i.origin, i.distribution or i.module or "", len(i.tools), len(i.hooks)]
            for i in infos
        ],
        right=[5, 6],
    )
    for info in infos:
        if info.settings:
            click.echo(f"{info.name} settings: {_settings_text(info.settings)}")
    for info in infos:
        if info.error:
            click.echo(click.style(f"{info.name}: {info.error}", fg="red"), err=True)


def _settings_text(settings: dict[str, Any]) -> str:
    """What a plugin runs with, defaults included: ``root=/home/me/notes, max_file_bytes=1000000``."""
    return ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in settings.items())


def _lines(infos: list[PluginInfo]) -> None:
    for info in infos:
        version = f" {info.version}" if info.version else ""
        where = info.distribution or info.module or ""
        click.echo(f"{info.name}{version}  [{info.status}]  {info.origin}: {where}")
        for label, names in (
            ("hooks", info.hooks),
            ("tools", info.tools),
            ("intent classifiers", info.classifiers),
            ("workflows", info.workflows),
        ):
            if names:
                click.echo(f"    {label}: {', '.join(names)}")
        if info.settings:
            click.echo(f"    settings: {_settings_text(info.settings)}")
        if info.error:
            click.echo(f"    error: {info.error}")
