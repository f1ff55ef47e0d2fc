"""Plugins add commands to `plugyard` through `register_commands`: they run like built-in ones, a clash
names both sides, and a disabled or failed plugin's command is absent with a message naming the plugin."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from plugyard.cli import main

GREETER = '''
import click
from pydantic import BaseModel

from plugyard import hookimpl


class Settings(BaseModel):
    greeting: str = "hello"


@hookimpl
def plugin_settings():
    return Settings


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    @click.argument("who")
    @click.pass_obj
    def greet(state, who):
        """Greet someone with the configured greeting."""
        greeting = state.config.plugins.settings.get("greeter", {}).get("greeting", "hello")
        click.echo(f"{greeting} {who} (from {state.config.source.name})")

    @cli.command("wave")
    def wave():
        """Wave (only the greeter has this one)."""
        click.echo("o/")

    @cli.command("serve")
    def fake_serve():
        """A plugin's serve: plugyard's own wins."""
        click.echo("fake serve")
'''

RIVAL = '''
import click

from plugyard import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    def greet():
        """Another greet."""
        click.echo("rival")

    @cli.group("rival")
    def rival():
        """The rival's own group."""

    @rival.command("status")
    def status():
        """Say it is fine."""
        click.echo("rival is fine")
'''

CRASHY = """
from pathlib import Path

from plugyard import hookimpl

Path(__file__).with_name("crashy-imported").touch()


@hookimpl
def register_commands(cli):
    raise RuntimeError("no commands today")
"""


@pytest.fixture
def project(tmp_path: Path):
    for name, source in (("greeter", GREETER), ("rival", RIVAL), ("crashy", CRASHY)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")

    def write(settings: str = "", disabled: tuple[str, ...] = ()) -> Path:
        toml = tmp_path / "plugins.toml"
        toml.write_text(
            f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "h.db"}"\n\n'
            f'[plugins]\nmodules = ["greeter.py", "rival.py", "crashy.py"]\ndisabled = {list(disabled)!r}\n'
            f"{settings}\n".replace("'", '"'),
            encoding="utf-8",
        )
        return toml

    return write


def plugyard(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_a_plugins_command_runs_with_the_chosen_configuration(project):
    result = plugyard(project('[plugins.greeter]\ngreeting = "hi"'), "greet", "ada")
    assert (result.exit_code, result.stdout) == (0, "hi ada (from plugins.toml)\n")
    assert plugyard(project(), "rival", "status").stdout == "rival is fine\n"


def test_help_lists_the_plugins_commands_beside_the_built_in_ones(project):
    listed = plugyard(project(), "--help").stdout
    for name in ("greet", "rival", "serve", "call", "history", "db", "intents"):
        assert f"  {name} " in listed, name


def test_a_clash_keeps_the_built_in_or_the_first_plugin_and_names_both(project, caplog):
    with caplog.at_level(logging.ERROR, logger="plugyard.cli"):
        assert plugyard(project(), "greet", "ada").stdout == "hello ada (from plugins.toml)\n"
        serve_help = plugyard(project(), "serve", "--help").stdout
    assert "Serve every enabled plugin's tools over MCP" in serve_help
    messages = [r.getMessage() for r in caplog.records if r.name == "plugyard.cli"]
    assert "plugin 'greeter' adds command 'serve', which plugyard has built in; skipped" in messages
    assert "command 'greet' is added by both plugin 'greeter' and plugin 'rival'; 'rival''s is skipped" in messages


def test_a_plugin_whose_register_commands_raises_loses_only_its_own_commands(project, caplog):
    with caplog.at_level(logging.ERROR, logger="plugyard.cli"):
        result = plugyard(project(), "greet", "bo")
    assert result.exit_code == 0
    assert any("plugin 'crashy': register_commands raised" in r.getMessage() for r in caplog.records)


def test_a_disabled_plugins_command_is_absent_and_says_where_it_comes_from(project):
    result = plugyard(project(disabled=("greeter",)), "wave")
    assert result.exit_code == 2
    assert "`plugyard wave` comes from the greeter plugin, which is disabled in plugins.toml" in result.stderr
    # Another plugin's command of the same name is there once the greeter's is not.
    assert plugyard(project(disabled=("greeter",)), "greet").stdout == "rival\n"


def test_a_failed_plugins_command_is_absent_and_says_why(project, tmp_path):
    config = project()
    broken = GREETER + textwrap.dedent(
        """
        @hookimpl
        def register_tools(register):
            raise RuntimeError("no tools today")
        """
    )
    (tmp_path / "greeter.py").write_text(textwrap.dedent(broken), encoding="utf-8")
    result = plugyard(config, "wave")
    assert result.exit_code == 3
    assert "`plugyard wave` comes from the greeter plugin, which failed to load: " in result.stderr
    assert "RuntimeError: no tools today" in result.stderr


def test_a_bad_setting_stops_every_command_naming_table_key_and_rule(project):
    result = plugyard(project("[plugins.greeter]\ngreeting = 3"), "wave")
    assert result.exit_code == 3
    assert result.stderr.strip().endswith("[plugins.greeter] greeting: Input should be a valid string (got 3)")


@pytest.mark.parametrize("command", [("history", "stats"), ("db", "current")])
def test_the_history_commands_go_with_the_history_plugin(project, command):
    result = plugyard(project(disabled=("history",)), *command)
    assert result.exit_code == 2
    assert f"`plugyard {command[0]}` comes from the history plugin, which is disabled in plugins.toml" in result.stderr


def test_an_unknown_command_is_still_a_usage_error(project):
    result = plugyard(project(), "nope")
    assert result.exit_code == 2 and "No such command 'nope'" in result.stderr


def test_built_in_commands_import_no_plugin(project, tmp_path):
    config = project()
    result = plugyard(config, "install", "cursor", "--dry-run", "--file", str(tmp_path / "mcp.json"))
    assert result.exit_code == 0 and not (tmp_path / "crashy-imported").exists()
    plugyard(config, "greet", "ada")
    assert (tmp_path / "crashy-imported").exists()


def test_a_broken_configuration_is_exit_3_for_a_plugins_command(tmp_path):
    toml = tmp_path / "plugins.toml"
    toml.write_text("[nonsense]\n", encoding="utf-8")
    result = plugyard(toml, "history", "stats")
    assert result.exit_code == 3 and "unknown section(s) ['nonsense']" in result.stderr
