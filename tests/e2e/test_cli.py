"""The `plugyard` command as a user runs it: plugins, tools, call and db, as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from plugyard.history import migrate
from tests.conftest import rows, subprocess_env, write_config
from tests.core.test_host import BROKEN, GOOD, install_distribution

pytestmark = pytest.mark.e2e


def plugyard(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugyard", *args],
        env=env or subprocess_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def site_env(tmp_path: Path) -> dict[str, str]:
    """A separately installed third-party distribution, and a broken one, on the path."""
    site = tmp_path / "site"
    site.mkdir()
    install_distribution(site, "plugyard-shout", "2.0.1", {"shout_plugin": GOOD}, {"shout": "shout_plugin"})
    install_distribution(
        site, "plugyard-broken", "0.0.1", {"broken_mod": BROKEN["register_raises"]}, {"broken": "broken_mod"}
    )
    return subprocess_env(tmp_path, PYTHONPATH=str(site))


def test_plugins_lists_origins_versions_hooks_tools_and_errors(tmp_path, db_path, site_env):
    config = write_config(tmp_path / "plugins.toml", db_path)
    result = plugyard(tmp_path, "--config", str(config), "plugins", "--json", env=site_env)
    assert result.returncode == 0, result.stderr
    infos = {p["name"]: p for p in json.loads(result.stdout)}
    assert infos["shout"] | {} == infos["shout"]
    assert (infos["shout"]["origin"], infos["shout"]["distribution"], infos["shout"]["version"]) == (
        "entry point",
        "plugyard-shout",
        "2.0.1",
    )
    assert infos["shout"]["tools"] == ["shout"] and infos["shout"]["hooks"] == ["register_tools"]
    assert infos["broken"]["status"] == "failed"
    assert "register_tools raised RuntimeError: cannot reach my backend" in infos["broken"]["error"]
    assert infos["sample_plugin"]["origin"] == "plugins.toml"
    assert set(infos["history"]["hooks"]) == {
        "after_tool_call",
        "choose_tool",
        "health",
        "plugin_settings",
        "register_commands",
        "rank_tools",
        "register_resources",
        "register_tools",
        "shutdown",
        "startup",
    }
    for first_party in ("notes", "diagnose", "calculator"):
        assert infos[first_party]["status"] == "loaded" and infos[first_party]["origin"] == "entry point"


def test_plugins_text_output_and_strict_exit_code(tmp_path, db_path, site_env):
    config = write_config(tmp_path / "plugins.toml", db_path)
    text = plugyard(tmp_path, "--config", str(config), "plugins", env=site_env)
    assert "shout 2.0.1  [loaded]  entry point: plugyard-shout" in text.stdout
    assert "error: register_tools raised RuntimeError" in text.stdout
    strict = plugyard(tmp_path, "--config", str(config), "--strict", "plugins", env=site_env)
    assert strict.returncode == 3


@pytest.mark.anyio
async def test_a_broken_plugin_is_reported_while_the_others_serve(tmp_path, db_path, site_env):
    config = write_config(tmp_path / "plugins.toml", db_path, extra='disabled = ["notes"]')
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(config), "serve"],
        env=site_env,
        cwd=str(tmp_path),
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        shouted = await client.call_tool("shout", {"text": "third party"})
    assert "shout" in names and "add" in names
    assert "search_notes" not in names  # disabled in plugins.toml
    assert shouted.content[0].text == "THIRD PARTY"
    assert rows(db_path)[0]["plugin_name"] == "shout"


def test_call_runs_a_tool_through_the_pipeline_and_records_it(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    ok = plugyard(tmp_path, "--config", str(config), "call", "add", "a=2", "b=40")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "42"
    structured = plugyard(tmp_path, "--config", str(config), "call", "add_many", "values=[1,2,3]")
    assert json.loads(structured.stdout) == {"total": 6, "terms": 3}
    failed = plugyard(tmp_path, "--config", str(config), "call", "explode", "message=bad day")
    expected = "error (RuntimeError): tool 'explode' of plugin 'sample_plugin' failed: RuntimeError: bad day"
    assert failed.returncode == 1 and expected in failed.stderr
    invalid = plugyard(tmp_path, "--config", str(config), "call", "add", "a=two")
    assert invalid.returncode == 2 and "invalid arguments for tool 'add'" in invalid.stderr  # a usage error
    unknown = plugyard(tmp_path, "--config", str(config), "call", "nope")
    assert unknown.returncode == 2 and "unknown tool 'nope'" in unknown.stderr  # a usage error
    typo = plugyard(tmp_path, "--config", str(config), "call", "ad", "a=1")
    assert typo.returncode == 2 and "unknown tool 'ad'; did you mean 'add'" in typo.stderr
    usage = plugyard(tmp_path, "--config", str(config), "call", "add", "oops")
    assert usage.returncode == 2 and "'oops' is not key=value" in usage.stderr
    recorded = rows(db_path)
    assert [(r["tool_name"], r["success"]) for r in recorded] == [
        ("add", 1),
        ("add_many", 1),
        ("explode", 0),
        ("add", 0),
    ]
    assert recorded[0]["session_id"].startswith("cli-")


def test_db_upgrade_current_and_downgrade(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    before = plugyard(tmp_path, "--config", str(config), "db", "current")
    assert before.returncode == 3 and "does not exist" in before.stderr and not db_path.exists()
    up = plugyard(tmp_path, "--config", str(config), "db", "upgrade")
    assert up.returncode == 0 and f"is at revision {migrate.head()}" in up.stdout
    assert "up to date" in plugyard(tmp_path, "--config", str(config), "db", "current").stdout
    down = plugyard(tmp_path, "--config", str(config), "db", "downgrade", "base")
    assert down.returncode == 0 and "is at revision base" in down.stdout


def test_the_database_url_can_come_from_the_environment(tmp_path):
    other = tmp_path / "elsewhere.db"
    env = subprocess_env(tmp_path, PLUGYARD_DATABASE_URL=f"sqlite+aiosqlite:///{other}")
    result = plugyard(tmp_path, "db", "upgrade", env=env)
    assert result.returncode == 0 and str(other) in result.stdout


def test_without_any_config_the_database_lives_in_the_data_directory(tmp_path):
    result = plugyard(tmp_path, "call", "calculate", "expression=6*7")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"] == 42
    assert len(rows(tmp_path / "data" / "plugyard.db")) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[server\n", "not valid TOML"),
        ("[servers]\nport = 1\n", "unknown section(s) ['servers']"),
        ("[server]\nport = 'eighty'\n", "plugins.toml: [server] port: Input should be a valid integer"),
        ("[database]\nurl = 'mysql://x'\n", "plugyard supports sqlite+aiosqlite, postgresql+asyncpg"),
    ],
)
def test_a_bad_configuration_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "plugins.toml").write_text(content, encoding="utf-8")
    result = plugyard(tmp_path, "call", "calculate", "expression=1")
    assert result.returncode == 3
    assert message in result.stderr


def test_call_reads_key_value_by_the_tools_schema(tmp_path):
    # A text field keeps what was typed, even when it looks like JSON.
    number_text = plugyard(tmp_path, "call", "calculate", "expression=42")
    assert number_text.returncode == 0, number_text.stderr
    assert json.loads(number_text.stdout)["expression"] == "42"
    # Numbers where the schema wants numbers, text where it wants text.
    converted = plugyard(tmp_path, "call", "convert_units", "value=3", "from_unit=km", "to_unit=m")
    assert converted.returncode == 0, converted.stderr
    assert json.loads(converted.stdout)["result"] == 3000
    listed = plugyard(tmp_path, "call", "search_notes", "query=true", "limit=1")
    assert listed.returncode == 0, listed.stderr  # "true" searched as text; limit read as a number


def test_values_follow_the_schema_types(tmp_path):
    from plugyard.cli.call import _value

    defs = {"Point": {"type": "object"}}
    assert _value("42", {"type": "string"}, defs) == "42"
    assert _value("42", {"type": "integer"}, defs) == 42
    assert _value("[1, 2]", {"type": "array"}, defs) == [1, 2]
    assert _value("null", {"anyOf": [{"type": "string"}, {"type": "null"}]}, defs) is None
    assert _value("null", {"type": "string"}, defs) == "null"
    assert _value('{"x": 1}', {"$ref": "#/$defs/Point"}, defs) == {"x": 1}
    assert _value("true", {"enum": ["true", "false"]}, defs) == "true"
    assert _value("3", None, defs) == 3  # a key the schema does not name: JSON when it parses
    assert _value("plain words", {"type": "integer"}, defs) == "plain words"  # refused by validation, named


@pytest.mark.parametrize(
    "command",
    [
        ["db", "current"],
        ["db", "downgrade", "base"],
        ["history", "stats"],
        ["history", "failures"],
        ["history", "export"],
        ["history", "cleanup", "--dry-run"],
        ["history", "report", "--html", "report.html"],
    ],
)
def test_commands_that_read_never_create_a_database(tmp_path, command):
    typo = tmp_path / "no-such-folder" / "histroy.db"
    config = tmp_path / "plugins.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{typo}"\n', encoding="utf-8")
    result = plugyard(tmp_path, "--config", str(config), *command)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        f"Error: the history database '{typo}' does not exist (its folder does not exist either); check "
        "[database] url in plugins.toml or PLUGYARD_DATABASE_URL (a server creates it on its first start; "
        "`plugyard db upgrade` does too)"
    )
    assert not typo.parent.exists() and not (tmp_path / "report.html").exists()


def test_plugins_says_where_the_default_notes_folder_is(tmp_path):
    folder = tmp_path / "data" / "notes"
    text = plugyard(tmp_path, "plugins")
    assert text.returncode == 0, text.stderr
    notes = text.stdout[text.stdout.index("\nnotes ") :]
    assert f'    settings: root="{folder}", extensions=[".md", ".txt", ".rst", ".org"]' in notes
    listed = {p["name"]: p for p in json.loads(plugyard(tmp_path, "plugins", "--json").stdout)}
    assert listed["notes"]["settings"]["root"] == str(folder)
    assert not folder.exists()  # made on first use, not by listing
