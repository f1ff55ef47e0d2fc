"""The ``plugyard`` command. It translates arguments into calls on the core; it decides nothing.

The kernel's commands live beside this module (serve, plugins, tools, call, install, new-plugin);
features add theirs through the ``register_commands`` hook (``plugyard db``, ``plugyard history``
and ``plugyard intents`` come from the history and intents plugins). Exit codes: see ``context``.
"""

from __future__ import annotations

import click

import plugyard
from plugyard.cli.call import call_cmd
from plugyard.cli.context import state_of
from plugyard.cli.extensions import PlugyardGroup
from plugyard.cli.install import install
from plugyard.cli.plugins import plugins_cmd
from plugyard.cli.scaffold import new_plugin
from plugyard.cli.serve import serve
from plugyard.cli.tools import tools_cmd


@click.group(cls=PlugyardGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(plugyard.__version__, prog_name="plugyard")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PLUGYARD_CONFIG",
    help="plugins.toml to use (default: ./plugins.toml if present).",
)
@click.option("--strict", is_flag=True, help="Fail when any plugin fails to load instead of skipping it.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, strict: bool, verbose: int) -> None:
    """plugyard: plugin tools served over MCP, every call recorded."""
    ctx.obj = state_of(ctx)


for _command in (serve, plugins_cmd, tools_cmd, call_cmd, new_plugin, install):
    main.add_command(_command)


if __name__ == "__main__":
    main()
