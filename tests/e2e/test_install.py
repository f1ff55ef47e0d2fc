"""`plugyard install CLIENT` merges plugyard into a desktop client's configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env

pytestmark = pytest.mark.e2e


def plugyard(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(tmp_path, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"))
    return subprocess.run(
        [sys.executable, "-m", "plugyard", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def claude_config(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"


def test_install_adds_plugyard_and_keeps_what_is_there(tmp_path):
    path = claude_config(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"mcpServers": {"other": {"command": "x"}}, "theme": "dark"}), encoding="utf-8")
    dry = plugyard(tmp_path, "install", "claude-desktop", "--dry-run")
    assert dry.returncode == 0 and '+    "plugyard": {' in dry.stdout
    assert json.loads(path.read_text())["mcpServers"].keys() == {"other"}
    done = plugyard(tmp_path, "install", "claude-desktop")
    assert done.returncode == 0, done.stderr
    config = json.loads(path.read_text())
    assert config["theme"] == "dark" and config["mcpServers"]["other"] == {"command": "x"}
    entry = config["mcpServers"]["plugyard"]
    assert Path(entry["command"]).is_absolute() and entry["args"][-1] == "serve"
    backups = list(path.parent.glob("claude_desktop_config.json.*.bak"))
    assert len(backups) == 1 and "plugyard" not in backups[0].read_text()


def test_install_into_a_client_with_no_configuration_creates_it(tmp_path):
    # Run from a folder with a plugins.toml (a checkout's, say): the client does not get that one.
    (tmp_path / "plugins.toml").write_text("[plugins.notes]\nroot = 'docs'\n", encoding="utf-8")
    done = plugyard(tmp_path, "install", "cursor")
    assert done.returncode == 0, done.stderr
    entry = json.loads((tmp_path / "home" / ".cursor" / "mcp.json").read_text())["mcpServers"]["plugyard"]
    own = tmp_path / "home" / ".config" / "plugyard" / "plugins.toml"
    assert entry["args"][-3:] == ["--config", str(own), "serve"]
    assert own.read_text().startswith("# plugyard's configuration for the desktop clients")
    assert f"created {own}" in done.stdout
    # The user's own file is theirs: a second install never rewrites it.
    own.write_text("[tools]\ntimeout = 10\n", encoding="utf-8")
    assert plugyard(tmp_path, "install", "claude-desktop").returncode == 0
    assert own.read_text() == "[tools]\ntimeout = 10\n"


def test_install_with_config_pins_that_file(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text("[tools]\ntimeout = 10\n", encoding="utf-8")
    done = plugyard(tmp_path, "--config", str(mine), "install", "cursor")
    assert done.returncode == 0, done.stderr
    entry = json.loads((tmp_path / "home" / ".cursor" / "mcp.json").read_text())["mcpServers"]["plugyard"]
    assert entry["args"][-3:] == ["--config", str(mine.resolve()), "serve"]
    assert not (tmp_path / "home" / ".config" / "plugyard").exists()


def test_installing_again_the_same_way_is_unchanged_and_writes_nothing(tmp_path):
    assert plugyard(tmp_path, "install", "claude-desktop").returncode == 0
    path = claude_config(tmp_path)
    written, stamp = path.read_text(), path.stat().st_mtime_ns
    again = plugyard(tmp_path, "install", "claude-desktop")
    assert again.returncode == 0 and again.stdout.startswith(f"unchanged: {path} already starts server 'plugyard'")
    assert path.read_text() == written and path.stat().st_mtime_ns == stamp
    assert list(path.parent.glob("*.bak")) == []
    dry = plugyard(tmp_path, "install", "claude-desktop", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("unchanged:")
    changed = plugyard(tmp_path, "install", "claude-desktop", "--env", "PLUGYARD_USER=ada")
    assert changed.returncode == 0 and changed.stdout.startswith("updated server 'plugyard'")
    assert len(list(path.parent.glob("*.bak"))) == 1


def test_a_vscode_file_with_comments_is_read(tmp_path):
    target = tmp_path / "mcp.json"
    jsonc = """{
  // servers VS Code starts
  "servers": {
    "other": {"type": "stdio", "command": "other-server",},  /* keep me */
  },
}
"""
    target.write_text(jsonc, encoding="utf-8")
    done = plugyard(tmp_path, "install", "vscode", "--file", str(target))
    assert done.returncode == 0, done.stderr
    servers = json.loads(target.read_text())["servers"]
    assert servers["other"] == {"type": "stdio", "command": "other-server"} and "plugyard" in servers
    assert "had comments; the new file is plain JSON (the backup keeps them)" in done.stderr
    [backup] = tmp_path.glob("mcp.json.*.bak")
    assert backup.read_text() == jsonc
    assert plugyard(tmp_path, "install", "vscode", "--file", str(target)).stdout.startswith("unchanged:")


def test_vscode_uses_its_own_schema(tmp_path):
    target = tmp_path / "mcp.json"
    done = plugyard(tmp_path, "install", "vscode", "--file", str(target), "--env", "PLUGYARD_USER=ada")
    assert done.returncode == 0, done.stderr
    entry = json.loads(target.read_text())["servers"]["plugyard"]
    assert entry["type"] == "stdio" and entry["env"] == {"PLUGYARD_USER": "ada"}


def test_an_invalid_configuration_file_is_left_alone(tmp_path):
    path = claude_config(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    result = plugyard(tmp_path, "install", "claude-desktop")
    assert result.returncode == 3 and "is not valid JSON" in result.stderr
    assert path.read_text() == "{not json"
