from __future__ import annotations

import pytest

from plugyard.core.config import load_config, parse_config
from plugyard.core.errors import ConfigError


def test_defaults_need_no_file(tmp_path):
    config = load_config()
    assert config.source is None
    assert config.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'plugyard.db'}"
    assert config.tools.timeout == 30 and config.server.host == "127.0.0.1"


def test_plugins_toml_in_the_working_directory_is_found(tmp_path):
    (tmp_path / "plugins.toml").write_text("[tools]\ntimeout = 5\n[tools.add]\ntimeout = 1\n", encoding="utf-8")
    config = load_config()
    assert config.tools.timeout == 5 and config.tools.overrides["add"].timeout == 1


def test_a_relative_sqlite_path_is_relative_to_the_file(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "plugins.toml").write_text('[database]\nurl = "sqlite+aiosqlite:///dev.db"\n', encoding="utf-8")
    config = load_config(folder / "plugins.toml")
    assert config.database_url == f"sqlite+aiosqlite:///{folder / 'dev.db'}"


def test_the_environment_overrides_the_database_and_the_file(tmp_path, monkeypatch):
    (tmp_path / "other.toml").write_text("[server]\nport = 9000\n", encoding="utf-8")
    monkeypatch.setenv("PLUGYARD_CONFIG", str(tmp_path / "other.toml"))
    monkeypatch.setenv("PLUGYARD_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/x")
    monkeypatch.setenv("PLUGYARD_USER", "ada")
    config = load_config()
    assert config.server.port == 9000
    assert config.database_url.startswith("postgresql+asyncpg://")
    assert config.default_user == "ada"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"plugins": {"notes": "yes"}}, "settings go in [plugins.notes]"),
        ({"tools": {"add": 3}}, "[tools] add must be a table"),
        ({"tools": {"add": {"timeout": -1}}}, "[tools.add] timeout: Input should be greater than 0 (got -1)"),
        ({"history": 3}, "history = ... is not a table; its settings go in [plugins.history]"),
        ({"history": {"batch_size": 3}, "plugins": {"history": {}}}, "both [history] and [plugins.history] are set"),
    ],
)
def test_mistakes_are_errors_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert message in str(info.value)


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_a_refused_setting_names_the_file_then_the_table_key_and_value(tmp_path):
    path = tmp_path / "srv2.toml"
    path.write_text('[server]\nport = "x"\nhost = 3\n[tools.calculate]\ntimeout = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: [server] host: Input should be a valid string (got 3); "
        "[server] port: Input should be a valid integer, unable to parse string as an integer (got 'x'); "
        "[tools.calculate] timeout: Input should be greater than 0 (got -1)"
    )
