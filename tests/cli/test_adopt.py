"""The adoption plan for each client: which servers move, what plugins.toml gains, what the client keeps."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from plugyard.cli.adopt import apply_adopt, plan_adopt
from plugyard.cli.clients import InstallError
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.plugins.upstream import UpstreamPlugin


def _host(tmp_path: Path, upstream: object = None) -> PluginHost:
    plugins = {"upstream": UpstreamPlugin()} if upstream is None else upstream
    return PluginHost(parse_config({}, tmp_path / "plugins.toml"), entry_points=False, plugins=plugins).load()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("client", "key", "entries"),
    [
        (
            "vscode",
            "servers",
            {"a": {"type": "stdio", "command": "x", "args": ["-y"]}, "b": {"type": "http", "url": "https://h/mcp"}},
        ),
        ("cursor", "mcpServers", {"a": {"command": "x", "args": ["-y"]}, "b": {"url": "https://h/mcp"}}),
    ],
)
def test_each_client_hands_its_servers_over(tmp_path, client, key, entries):
    client_file = tmp_path / f"{client}.json"
    client_file.write_text(json.dumps({key: entries}), encoding="utf-8")
    config = tmp_path / "plugins.toml"
    plan = plan_adopt(_host(tmp_path), client, name="plugyard", config_file=config, path=client_file)
    assert plan.adopted == ["a", "b"] and plan.skipped == {} and plan.plugin == "upstream"
    assert f"{config} (after)" in plan.diff() and f"{client_file} (after)" in plan.diff()
    apply_adopt(plan)
    assert set(json.loads(client_file.read_text())[key]) == {"plugyard"}
    servers = tomllib.loads(config.read_text())["plugins"]["upstream"]["servers"]
    assert servers == {"a": {"command": "x", "args": ["-y"]}, "b": {"url": "https://h/mcp"}}


def test_without_a_plugin_that_adopts_nothing_changes(tmp_path):
    client_file = tmp_path / "c.json"
    client_file.write_text(json.dumps({"mcpServers": {"a": {"command": "x"}}}), encoding="utf-8")
    with pytest.raises(InstallError, match="no plugin adopts MCP servers"):
        plan_adopt(_host(tmp_path, {}), "cursor", name="plugyard", config_file=tmp_path / "p.toml", path=client_file)


def test_plugyard_itself_under_another_name_is_never_adopted(tmp_path):
    client_file = tmp_path / "c.json"
    entries = {
        "old": {"command": "/venv/bin/plugyard", "args": ["serve"]},
        "py": {"command": "python", "args": ["-m", "plugyard", "serve"]},
    }
    client_file.write_text(json.dumps({"mcpServers": entries}), encoding="utf-8")
    plan = plan_adopt(_host(tmp_path), "cursor", name="plugyard", config_file=tmp_path / "p.toml", path=client_file)
    assert plan.adopted == [] and set(plan.skipped) == {"old", "py"} and "plugyard itself" in plan.skipped["old"]
