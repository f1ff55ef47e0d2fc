"""``plugyard install CLIENT``: plugyard added to a desktop MCP client's configuration (``clients``)."""

from __future__ import annotations

from pathlib import Path

import click

from plugyard.cli.clients import CLIENTS, apply_install, plan_install
from plugyard.cli.context import CliState, guard


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
@click.pass_obj
def install(
    state: CliState, client: str, name: str, path: Path | None, env_pairs: tuple[str, ...], dry_run: bool
) -> None:
    """Add plugyard to a desktop MCP client's configuration (merged, with a backup)."""
    env = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    config_file = guard(lambda: state.config.source)
    plan = guard(lambda: plan_install(client, name=name, config_file=config_file, path=path, env=env or None))
    if dry_run:
        click.echo(plan.diff() or f"{plan.path} already has this configuration")
        return
    backup = apply_install(plan)
    verb = "updated" if plan.replaces else "added"
    click.echo(f"{verb} server {name!r} in {plan.path}" + (f" (previous file kept as {backup})" if backup else ""))
    click.echo(f"restart {client} to pick it up")
