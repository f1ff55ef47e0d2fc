"""``plugyard install CLIENT``: plugyard added to a desktop MCP client's configuration (``clients``)."""

from __future__ import annotations

from pathlib import Path

import click

from plugyard.cli.adopt import apply_adopt, plan_adopt
from plugyard.cli.clients import CLIENTS, apply_install, ensure_user_config, plan_install, user_config_file
from plugyard.cli.context import CliState, guard
from plugyard.core.config import load_config, parse_config
from plugyard.core.host import PluginHost


@click.command("install")
@click.argument("client", type=click.Choice(list(CLIENTS)))
@click.option("--name", default="plugyard", show_default=True, help="The server's name in the client.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The client's configuration file (default: where the client keeps it).",
)
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="Environment for the server.")
@click.option("--dry-run", is_flag=True, help="Print the change; write nothing.")
@click.option(
    "--adopt",
    is_flag=True,
    help="Also move the client's other MCP servers into plugins.toml, served (and recorded) through plugyard.",
)
@click.pass_obj
def install(
    state: CliState,
    client: str,
    name: str,
    path: Path | None,
    env_pairs: tuple[str, ...],
    dry_run: bool,
    adopt: bool,
) -> None:
    """Add plugyard to a desktop MCP client's configuration (merged, with a backup)."""
    env = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    # Without --config, clients get a configuration of the user's own, never the folder's plugins.toml
    # (from a checkout that would be plugyard's own, with its docs as the user's notes).
    config_file = guard(lambda: state.config.source) if state.config_path else user_config_file()
    if adopt:
        if env:
            raise click.UsageError("--env and --adopt cannot be combined: set the environment in plugins.toml")
        _adopt(client, name=name, config_file=config_file or user_config_file(), path=path, dry_run=dry_run)
        return
    plan = guard(lambda: plan_install(client, name=name, config_file=config_file, path=path, env=env or None))
    creates = config_file is not None and not config_file.exists()
    if plan.unchanged:
        click.echo(f"unchanged: {plan.path} already starts server {name!r} this way; nothing written")
        return
    if dry_run:
        click.echo(plan.diff())
        if creates:
            click.echo(f"would also create {config_file}, plugyard's configuration for this client", err=True)
        return
    if creates and config_file is not None and ensure_user_config(config_file):
        click.echo(f"created {config_file} (plugyard's settings for the clients you install it into)")
    backup = apply_install(plan)
    verb = "updated" if plan.replaces else "added"
    click.echo(f"{verb} server {name!r} in {plan.path}" + (f" (previous file kept as {backup})" if backup else ""))
    if plan.had_comments:
        click.echo(f"note: {plan.path} had comments; the new file is plain JSON (the backup keeps them)", err=True)
    click.echo(f"restart {client} to pick it up")


def _adopt(client: str, *, name: str, config_file: Path, path: Path | None, dry_run: bool) -> None:
    if not dry_run:
        ensure_user_config(config_file)
    # A dry run before the user's configuration exists reads what it would be (the defaults), never the folder's.
    config = guard(lambda: load_config(config_file) if config_file.exists() else parse_config({}, config_file))
    host = guard(lambda: PluginHost(config, strict=False).load())
    plan = guard(lambda: plan_adopt(host, client, name=name, config_file=config_file, path=path))
    for server, why in plan.skipped.items():
        click.echo(f"kept in {client}: {server!r} ({why})", err=True)
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    if dry_run:
        click.echo(plan.diff(), nl=False)
        if not config_file.exists():
            click.echo(f"would create {config_file} (with commented defaults) before adding these", err=True)
        return
    config_backup, client_backup = apply_adopt(plan)
    moved = ", ".join(repr(n) for n in plan.adopted) or "no server"
    click.echo(
        f"adopted {moved} into {config_file}" + (f" (previous file kept as {config_backup})" if config_backup else "")
    )
    click.echo(
        f"{client} now starts {name!r} for them: {plan.client.path}"
        + (f" (previous file kept as {client_backup})" if client_backup else "")
    )
    click.echo(f"restart {client} to pick it up")
