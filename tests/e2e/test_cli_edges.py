"""The edges a newcomer hits in plugins.toml and on the command line: a misspelled plugin table, an unknown key
in a nested table, a global option after the subcommand, the README's exit codes. Each is one line on stderr
and the documented exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.e2e.test_cli import plugyard

pytestmark = pytest.mark.e2e


@pytest.fixture
def config(tmp_path: Path, db_path: Path) -> str:
    return str(write_config(tmp_path / "plugins.toml", db_path))


def _config_with(tmp_path: Path, db_path: Path, extra: str) -> str:
    return str(write_config(tmp_path / "plugins.toml", db_path, extra=extra))


def test_a_misspelled_plugin_table_warns_with_the_closest_name(tmp_path, db_path):
    config = _config_with(tmp_path, db_path, '[plugins.histroy]\ndurability = "journal"\n')
    run = plugyard(tmp_path, "--config", config, "tools")
    assert run.returncode == 0, run.stderr
    assert "[plugins.histroy] names no plugin found or installed; did you mean [plugins.history]?" in run.stderr
    assert "--strict makes this an error" in run.stderr


def test_a_misspelled_plugin_table_is_exit_3_with_strict_naming_the_plugins_found(tmp_path, db_path):
    config = _config_with(tmp_path, db_path, '[plugins.histroy]\ndurability = "journal"\n')
    for command in (["tools"], ["serve"], ["call", "add", "a=1", "b=2"]):
        run = plugyard(tmp_path, "--strict", "--config", config, *command)
        assert run.returncode == 3, run.stderr
        assert "Traceback" not in run.stderr
        [line] = run.stderr.strip().splitlines()
        assert line.startswith(f"Error: {config}: [plugins.histroy] names no plugin found or installed")
        assert "did you mean [plugins.history]?" in line and "history" in line.split("the plugins are:")[1]


def test_a_disabled_plugins_table_is_no_typo(tmp_path, db_path):
    # A table for a plugin that is installed but disabled names a plugin that was found: no warning.
    config = _config_with(tmp_path, db_path, '[plugins.notes]\nroot = "somewhere"\n')
    Path(config).write_text(Path(config).read_text().replace("[plugins]\n", '[plugins]\ndisabled = ["notes"]\n'))
    run = plugyard(tmp_path, "--strict", "--config", config, "tools")
    assert run.returncode == 0, run.stderr
    assert "names no plugin" not in run.stderr


def test_an_unknown_key_in_an_upstream_server_lists_the_server_tables_keys(tmp_path, db_path):
    config = _config_with(tmp_path, db_path, '[plugins.upstream.servers.typo]\ncomand = "x"\n')
    run = plugyard(tmp_path, "--config", config, "tools")
    assert run.returncode == 3, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert "servers.typo.comand: unknown key (the keys are: command, args, env, cwd, url, headers," in line
    assert "restart_delay" not in line


@pytest.mark.parametrize(
    ("args", "option", "hint"),
    [
        (("serve", "--config", "x.toml"), "--config", "plugyard --config FILE serve ..."),
        (("tools", "--config=x.toml"), "--config", "plugyard --config FILE tools ..."),
        (("history", "stats", "--strict"), "--strict", "plugyard --strict history stats ..."),
    ],
)
def test_a_global_option_after_the_subcommand_says_it_goes_before(tmp_path, config, args, option, hint):
    run = plugyard(tmp_path, *args)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: No such option: {option} after `")
    assert "is a global option and goes before the command" in last and last.endswith(hint)


@pytest.mark.parametrize("option", ["--bogus", "--version"])
def test_an_option_no_command_has_keeps_clicks_own_message(tmp_path, config, option):
    # --version is the group's too, but `plugyard --version serve` means nothing more: no hint.
    run = plugyard(tmp_path, "--config", config, "serve", option)
    assert run.returncode == 2 and f"No such option '{option}'" in run.stderr and "global" not in run.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("call", "add", "a=1", "b=abc"), "b: Input should be a valid integer"),
        (("call", "add", "a=1", "b=2", "bogus=1"), "bogus: Extra inputs are not permitted"),
        (("call", "add", "b=1"), "a: Field required"),
        (("new-plugin", "bad name"), "Invalid value for NAME: 'bad name' is invalid"),
        (("db", "upgrade", "nosuchrev"), "Can't locate revision identified by 'nosuchrev'; the revisions are 0001"),
        (("db", "downgrade", "nosuchrev"), "Invalid value for REVISION: Can't locate revision"),
        (("db", "upgrade", "+99"), "Invalid value for REVISION: Relative revision +99"),
    ],
)
def test_a_bad_argument_is_a_usage_error_exit_2(tmp_path, config, args, says):
    if args[:2] == ("db", "downgrade"):
        assert plugyard(tmp_path, "--config", config, "db", "upgrade").returncode == 0  # a database to downgrade
    run = plugyard(tmp_path, "--config", config, *args)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and says in run.stderr
    assert not (tmp_path / "plugyard-bad name").exists()


def test_a_tool_that_fails_is_still_exit_1(tmp_path, config):
    run = plugyard(tmp_path, "--config", config, "call", "explode", "message=bad day")
    assert run.returncode == 1 and "RuntimeError: bad day" in run.stderr


def test_an_unreachable_database_is_the_same_line_for_serve_and_history(tmp_path):
    from tests.conftest import subprocess_env

    env = subprocess_env(tmp_path, PLUGYARD_DATABASE_URL="postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/x")
    lines = []
    for command in (["serve"], ["history", "stats"], ["db", "current"]):
        run = plugyard(tmp_path, *command, env=env)
        assert run.returncode == 3, run.stderr
        lines.append(run.stderr.strip().splitlines()[-1])
    # The same words, the driver's own message inside the brackets (serve's uvloop words a refusal differently).
    said = [(line.partition(" (")[0], line.rpartition(")")[2]) for line in lines]
    assert said[0] == said[1] == said[2] and "(ConnectionRefusedError: " in lines[0]
    assert lines[0].startswith("Error: the history database postgresql+asyncpg://postgres:***@127.0.0.1:1/x cannot be")
    assert "check [database] url / PLUGYARD_DATABASE_URL" in lines[0] and "s3cret" not in lines[0]
