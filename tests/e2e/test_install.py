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
    (tmp_path / "plugins.toml").write_text("[tools]\ntimeout = 10\n", encoding="utf-8")
    done = plugyard(tmp_path, "install", "cursor")
    assert done.returncode == 0, done.stderr
    entry = json.loads((tmp_path / "home" / ".cursor" / "mcp.json").read_text())["mcpServers"]["plugyard"]
    assert entry["args"][-3:] == ["--config", str((tmp_path / "plugins.toml").resolve()), "serve"]


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
