"""`plugyard install CLIENT --adopt`: a client's servers move into plugins.toml as upstreams."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.e2e.test_install import claude_config, plugyard

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).parents[1] / "fixtures" / "claude_desktop_config.json"


@pytest.fixture
def client_file(tmp_path: Path) -> Path:
    path = claude_config(tmp_path)
    path.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, path)
    return path


def test_adopt_moves_the_clients_servers_into_plugins_toml_and_leaves_plugyard(tmp_path, client_file):
    own = tmp_path / "plugins.toml"
    own.write_text("# my settings\n[tools]\ntimeout = 10\n", encoding="utf-8")
    dry = plugyard(tmp_path, "--config", str(own), "install", "claude-desktop", "--adopt", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert '-    "files": {' in dry.stdout and '+    "plugyard": {' in dry.stdout
    assert "+[plugins.upstream.servers.files]" in dry.stdout
    assert "kept in claude-desktop: 'old-sse' (a legacy SSE server" in dry.stderr
    assert "note: 'search': headers.Authorization moved as written" in dry.stderr and "'github'" not in dry.stderr
    assert client_file.read_text() == FIXTURE.read_text() and own.read_text().startswith("# my settings")

    done = plugyard(tmp_path, "--config", str(own), "install", "claude-desktop", "--adopt")
    assert done.returncode == 0, done.stderr
    client = json.loads(client_file.read_text())
    assert set(client["mcpServers"]) == {"plugyard", "old-sse"} and client["globalShortcut"] == "Ctrl+Space"
    text = own.read_text()
    assert text.startswith("# my settings\n[tools]\ntimeout = 10\n")
    servers = tomllib.loads(text)["plugins"]["upstream"]["servers"]
    assert servers["files"] == json.loads(FIXTURE.read_text())["mcpServers"]["files"]
    assert servers["github"]["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "env:GITHUB_TOKEN"}
    assert servers["search"] == {"url": "https://search.example/mcp", "headers": {"Authorization": "Bearer abc"}}
    assert [p.read_text() for p in client_file.parent.glob("*.bak")] == [FIXTURE.read_text()]
    assert [p.read_text() for p in tmp_path.glob("plugins.toml.*.bak")] == ["# my settings\n[tools]\ntimeout = 10\n"]

    listed = plugyard(tmp_path, "--config", str(own), "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    [upstream] = [p for p in json.loads(listed.stdout) if p["name"] == "upstream"]
    assert set(upstream["settings"]["servers"]) == {"files", "github", "search"}

    again = plugyard(tmp_path, "--config", str(own), "install", "claude-desktop", "--adopt")
    assert again.returncode == 0, again.stderr
    assert "adopted no server" in again.stdout and tomllib.loads(own.read_text()) == tomllib.loads(text)


def test_adopt_refuses_a_plugins_toml_it_would_break_and_changes_nothing(tmp_path, client_file):
    own = tmp_path / "plugins.toml"
    own.write_text('[plugins.upstream]\nservers = { x = { url = "http://h/mcp" } }\n', encoding="utf-8")
    done = plugyard(tmp_path, "--config", str(own), "install", "claude-desktop", "--adopt")
    assert done.returncode == 3 and "would make it invalid TOML" in done.stderr
    assert client_file.read_text() == FIXTURE.read_text()


def test_a_dry_run_before_the_users_configuration_exists_reads_the_defaults_not_the_folders(tmp_path, client_file):
    # The folder's plugins.toml (a checkout's, say) disables the upstream plugin; the user has no
    # configuration yet, so what adopting would do is read from the defaults the real run writes.
    (tmp_path / "plugins.toml").write_text('[plugins]\ndisabled = ["upstream"]\n', encoding="utf-8")
    dry = plugyard(tmp_path, "install", "claude-desktop", "--adopt", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "+[plugins.upstream.servers.files]" in dry.stdout, dry.stdout + dry.stderr
    assert client_file.read_text() == FIXTURE.read_text()
