"""What README.md says, checked where a test can: the Quick start, the commands and options it lists,
the exit codes, the settings it names and their defaults, the desktop configuration it shows, and the
plugin example it teaches. (Its first two steps, creating the venv and installing, are what .ci/run
runs verbatim before this suite.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from plugyard.assistant.plugin import AssistantSettings
from plugyard.cli import context as cli_context
from plugyard.cli import main
from plugyard.core.config import ServerSettings, TelemetrySettings, ToolsSettings, parse_config
from plugyard.history.settings import HistorySettings
from plugyard.plugins.notes import NotesSettings
from tests.conftest import REPO, subprocess_env

README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def test_the_quick_start_serve_with_stdin_from_dev_null_exits_0_with_nothing_on_stdout(tmp_path):
    quick = blocks("sh")[0]
    serve_line = next(line for line in quick.splitlines() if line.endswith("plugyard serve"))
    step = serve_line.split("&&")[-1].strip()
    assert step == ".venv/bin/plugyard serve"
    # The checkout's own console script when the suite runs from its .venv; else the same entry point.
    script = Path(sys.executable).with_name("plugyard")
    command = [str(script), "serve"] if script.exists() else [sys.executable, "-m", "plugyard", "serve"]
    with open("/dev/null", "rb") as no_client:
        run = subprocess.run(
            command,
            cwd=REPO,  # "from a checkout of this repository"
            stdin=no_client,
            env=subprocess_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    # "It prints one line on stderr".
    [line] = run.stderr.strip().splitlines()
    assert re.fullmatch(r"plugyard serving \d+ tool\(s\) from \d+ plugin\(s\) on stdio", line), line


def test_the_desktop_configuration_shown_names_the_configuration_and_serve():
    [shown] = [b for b in blocks("json") if "mcpServers" in b]
    entry = json.loads(shown)["mcpServers"]["plugyard"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"][0] == "--config" and Path(entry["args"][1]).is_absolute() and entry["args"][2:] == ["serve"]
    # The shape `plugyard install` writes.
    from plugyard.cli.clients import plan_install

    written = json.loads(plan_install("claude-desktop", config_file=Path("/x/plugins.toml"), path=Path("/nope")).after)
    assert set(written["mcpServers"]["plugyard"]) == set(entry)
    assert written["mcpServers"]["plugyard"]["args"][0] == "--config"


def _command_rows() -> list[tuple[list[str], list[str]]]:
    rows = []
    for cell in re.findall(r"^\| `(plugyard [^`]+)`", section("What you can do"), re.M):
        first = cell.split("\\|")[0].split()
        words = [w for w in first[1:] if re.fullmatch(r"[a-z][a-z-]*", w)]
        path = []
        for word in words:  # subcommands stop at the first argument placeholder or option
            if first[1 + len(path)] != word:
                break
            path.append(word)
        rows.append((path, re.findall(r"--[a-z][a-z-]*", cell)))
    return rows


@pytest.mark.parametrize(("path", "options"), _command_rows(), ids=lambda v: " ".join(v) if v else "-")
def test_every_command_and_option_the_readme_lists_exists(path, options):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, f"`plugyard {' '.join(path)}` has no {option}"


def test_the_global_options_and_exit_codes_are_the_commands():
    assert "Global options: `--config FILE`" in README and "`--strict`" in README and "`-v`/`-vv`" in README
    help_text = CliRunner().invoke(main, ["--help"]).output
    assert "--config" in help_text and "--strict" in help_text and "-v, --verbose" in help_text
    codes = re.search(r"Exit codes: 0 success, 1 (.*?), 2 (.*?),\n?\s*3 (.*?)\.", README, re.S)
    assert codes is not None
    assert (cli_context.EXIT_TOOL_FAILED, cli_context.EXIT_USAGE, cli_context.EXIT_ERROR) == (1, 2, 3)
    assert codes.group(1) == "the tool call failed" and codes.group(2).startswith("usage error")


SETTINGS: dict[str, type[BaseModel]] = {
    "server": ServerSettings,
    "tools": ToolsSettings,
    "telemetry": TelemetrySettings,
    "plugins.history": HistorySettings,
    "history": HistorySettings,
    "plugins.notes": NotesSettings,
    "plugins.assistant": AssistantSettings,
}


def test_every_setting_the_readme_names_exists():
    named = set(re.findall(r"`\[([a-z_.]+)\] ([a-z_]+)", README))
    assert len(named) >= 10
    for table, key in named:
        if table in ("database", "plugins") or table.startswith("server."):
            continue  # [database] url, [plugins] disabled/modules, [server.auth_tokens] NAME: checked below
        model = SETTINGS[table]
        assert key in model.model_fields, f"README names [{table}] {key}, which {model.__name__} does not have"
    config = parse_config({"database": {"url": "sqlite+aiosqlite:///x.db"}, "plugins": {"disabled": ["a"]}})
    assert config.database_url.endswith("x.db") and config.plugins.disabled == ("a",)


def test_the_defaults_the_readme_states():
    server, tools, history = ServerSettings(), ToolsSettings(), HistorySettings()
    assert "bound to 127.0.0.1:8000, path `/mcp`" in README
    assert (server.host, server.port, server.path) == ("127.0.0.1", 8000, "/mcp")
    assert "`[server] shutdown_timeout`, 30 s" in README and server.shutdown_timeout == 30
    assert "`[server] resumable_events`, 10,000" in README and server.resumable_events == 10_000
    assert "`retry: 1000`" in README and server.sse_retry_ms == 1000
    assert "`[tools] max_argument_bytes` (1 MiB)" in README and tools.max_argument_bytes == 1 << 20
    assert "(at most `flush_interval`, 0.2 s" in README and history.flush_interval == 0.2


async def _forecast(module: Any) -> Any:
    from plugyard.core.host import PluginHost

    config = parse_config({"plugins": {"weather": {"units": "imperial"}}})
    host = PluginHost(config, entry_points=False, plugins={"weather": module}, strict=True).load()
    async with host.running():
        return await host.call_tool("forecast", {"city": "Oslo"})


@pytest.mark.anyio
async def test_the_plugin_example_works_as_written(tmp_path):
    [source] = [b for b in blocks("python") if b.startswith("# plugyard_weather.py")]
    path = tmp_path / "plugyard_weather.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("plugyard_weather", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outcome = await _forecast(module)
    assert outcome.success, outcome.error_message
    assert outcome.result == {"city": "Oslo", "units": "imperial", "forecast": "sunny"}
    [toml] = [b for b in blocks("toml") if "[project.entry-points.plugyard]" in b]
    assert 'weather = "plugyard_weather"' in toml
