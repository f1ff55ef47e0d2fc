"""Commands that plugins add to ``plugyard`` through the ``register_commands`` hook (llm's pattern).

They are looked up only when a command that is not built in is asked for, or ``--help`` lists them:
a host is loaded from the configuration (not started) and each loaded plugin adds its commands to a
group of its own, so a clash with a built-in command or another plugin's names both and is skipped.
A disabled or failed plugin's commands are absent; asking for one says which plugin it comes from.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Collection
from typing import Any

import click

from plugyard.cli.context import CommandError, state_of
from plugyard.core.errors import PlugyardError
from plugyard.core.host import PluginHost

log = logging.getLogger("plugyard.cli")
_FOUND = "plugyard.plugin_commands"


@dataclasses.dataclass(slots=True)
class PluginCommands:
    commands: dict[str, click.Command] = dataclasses.field(default_factory=dict)
    origin: dict[str, str] = dataclasses.field(default_factory=dict)
    """Command name -> the plugin that added it."""
    host: PluginHost | None = None
    error: str | None = None
    """Why no plugin could be asked (the configuration is invalid)."""


def plugin_commands(ctx: click.Context, builtin: Collection[str]) -> PluginCommands:
    """The plugins' commands for this invocation (looked up once)."""
    root = ctx.find_root()
    found = root.meta.get(_FOUND)
    if found is None:
        found = _discover(ctx, builtin)
        root.meta[_FOUND] = found
    assert isinstance(found, PluginCommands)
    return found


def _discover(ctx: click.Context, builtin: Collection[str]) -> PluginCommands:
    state = state_of(ctx)
    try:
        # Never strict here: a broken plugin must not take the other plugins' commands with it.
        host = PluginHost(state.config, strict=False).load()
    except PlugyardError as exc:
        return PluginCommands(error=str(exc))
    found = PluginCommands(host=host)
    for plugin, register in host.implementations("register_commands"):
        group = click.Group(plugin)
        try:
            register(cli=group)
        except Exception:
            log.exception("plugin %r: register_commands raised; its commands are left out", plugin)
            continue
        for name, command in group.commands.items():
            if name in builtin:
                log.error("plugin %r adds command %r, which plugyard has built in; skipped", plugin, name)
            elif name in found.commands:
                log.error(
                    "command %r is added by both plugin %r and plugin %r; %r's is skipped",
                    name,
                    found.origin[name],
                    plugin,
                    plugin,
                )
            else:
                found.commands[name] = command
                found.origin[name] = plugin
    return found


def explain_absent(found: PluginCommands, name: str) -> click.ClickException | None:
    """Why ``plugyard NAME`` is not there, when a disabled or failed plugin would add it."""
    if found.error is not None:
        return CommandError(found.error)
    host = found.host
    if host is None:
        return None
    for info in host.infos.values():
        if info.status == "loaded":
            continue
        try:
            plugin = host.plugin_object(info.name)
        except Exception:  # it cannot even be imported: nothing to learn from it
            log.debug("plugin %r cannot be imported to list its commands", info.name, exc_info=True)
            continue
        if name not in commands_of(plugin):
            continue
        where = f"`plugyard {name}` comes from the {info.name} plugin"
        if info.status == "disabled":
            return click.UsageError(f"{where}, which is disabled in plugins.toml ([plugins] disabled); enable it first")
        return CommandError(f"{where}, which failed to load: {info.error}")
    return None


def commands_of(plugin: object) -> set[str]:
    """The command names a plugin object (not registered with any host) would add."""
    register: Any = getattr(plugin, "register_commands", None)
    if register is None or not hasattr(register, "plugyard_impl"):
        return set()
    group = click.Group()
    try:
        if "cli" in inspect.signature(register).parameters:
            register(cli=group)
        else:
            register()
    except Exception:
        log.debug("register_commands of %r raised", plugin, exc_info=True)
        return set()
    return set(group.commands)


class PlugyardGroup(click.Group):
    """The ``plugyard`` group: its built-in commands, then those the plugins add."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        found = plugin_commands(ctx, self.commands)
        if found.error is not None:
            log.warning("plugin commands not listed: %s", found.error)
        return sorted({*self.commands, *found.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is not None:
            return command
        return plugin_commands(ctx, self.commands).commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            absent = explain_absent(plugin_commands(ctx, self.commands), name)
            if absent is not None:
                raise absent
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            # `plugyard serve --config x.toml`: click only says the subcommand has no such option.
            hint = _global_option_hint(self, ctx, exc)
            if hint is None:
                raise
            raise click.NoSuchOption(exc.option_name, message=hint, ctx=exc.ctx) from None


def _global_option_hint(group: click.Group, ctx: click.Context, exc: click.NoSuchOption) -> str | None:
    """For a global option given after a subcommand: say where it goes."""
    name = exc.option_name.partition("=")[0]
    for param in group.params:
        if isinstance(param, click.Option) and name in param.opts and not param.is_eager:  # not --help, --version
            break
    else:
        return None
    if exc.ctx is None or exc.ctx is ctx:
        return None
    value = "" if param.is_flag or param.count else f" {param.metavar or 'FILE'}"
    subcommand = exc.ctx.command_path.removeprefix(ctx.command_path).strip()
    return (
        f"No such option: {name} after `{subcommand}`; it is a global option and goes before the command: "
        f"plugyard {name}{value} {subcommand} ..."
    )
