"""The `plugyard` command behaves as a modern CLI: help everywhere, JSON for scripts, tables and progress
bars on a terminal only, exit codes that mean something, and the HTML report."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from plugyard.cli import main
from plugyard.history.migrate import pending_revisions
from tests.conftest import subprocess_env, write_config
from tests.e2e.test_cli import plugyard

pytestmark = pytest.mark.e2e


def commands(
    group: click.Group = main, path: tuple[str, ...] = (), ctx: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command, the plugins' included (``db``, ``history`` and ``intents`` come from plugins)."""
    ctx = ctx or click.Context(main)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name), ctx)


def on_terminal(tmp_path: Path, *args: str, stream: str) -> tuple[int, str]:
    """Run plugyard with ``stream`` (stdout or stderr) on a pseudo-terminal; returns (exit code, its text)."""
    master, slave = pty.openpty()
    other = "stderr" if stream == "stdout" else "stdout"
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugyard", *args],
        env=subprocess_env(tmp_path, COLUMNS="160"),
        cwd=tmp_path,
        **{stream: slave, other: subprocess.DEVNULL},  # type: ignore[arg-type]
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("plugyard wrote nothing to the terminal for 120 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def config(tmp_path: Path, db_path: Path) -> str:
    return str(write_config(tmp_path / "plugins.toml", db_path))


def test_every_command_and_option_has_help():
    runner = CliRunner()
    for path, command in commands():
        assert command.help, f"`plugyard {' '.join(path)}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                assert param.help, f"`plugyard {' '.join(path)}` option {param.opts} has no help text"
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output, path


def test_every_listing_command_has_json_output():
    listing = {("plugins",), ("tools",), ("history", "stats"), ("history", "failures"), ("db", "current")}
    found = {path for path, command in commands() if any("--json" in getattr(p, "opts", ()) for p in command.params)}
    assert listing <= found


def test_json_output_parses_for_scripts(tmp_path, config):
    assert plugyard(tmp_path, "--config", config, "call", "add", "a=1", "b=2").returncode == 0
    tools = json.loads(plugyard(tmp_path, "--config", config, "tools", "--json").stdout)
    assert {"name": "add", "plugin": "sample_plugin"}.items() <= next(t for t in tools if t["name"] == "add").items()
    [stats] = json.loads(plugyard(tmp_path, "--config", config, "history", "stats", "--json").stdout)
    assert (stats["tool_name"], stats["calls"]) == ("add", 1)
    assert json.loads(plugyard(tmp_path, "--config", config, "history", "failures", "--json").stdout) == []
    current = json.loads(plugyard(tmp_path, "--config", config, "db", "current", "--json").stdout)
    assert current["at_head"] is True and current["revision"] == current["head"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--no-such-option",), 2),
        (("tools", "extra-argument"), 2),
        (("history", "report"), 2),  # --html is required
        (("history", "stats", "--days", "0"), 2),
        (("--config", "missing.toml", "tools"), 3),
        (("--config", "broken.toml", "history", "stats"), 3),
        (("call", "explode"), 1),
    ],
)
def test_exit_codes_mean_what_the_cli_documents(tmp_path, config, args, code):
    (tmp_path / "broken.toml").write_text("[database\n")
    args = args if args[0] == "--config" else ("--config", config, *args)
    result = plugyard(tmp_path, *args)
    assert result.returncode == code, result.stderr


def test_tools_are_a_table_on_a_terminal_and_plain_lines_in_a_pipe(tmp_path, config):
    code, shown = on_terminal(tmp_path, "--config", config, "tools", stream="stdout")
    assert code == 0
    header = next(line for line in shown.splitlines() if "description" in line)
    assert "\x1b[1m" in header and "tool" in header and "plugin" in header  # bold
    assert any(line.startswith("add ") and "sample_plugin" in line for line in shown.splitlines())
    piped = plugyard(tmp_path, "--config", config, "tools")
    assert "\x1b[" not in piped.stdout
    assert any(line.startswith("add  (sample_plugin)") for line in piped.stdout.splitlines())


def test_export_shows_a_progress_bar_on_a_terminal_only(tmp_path, config):
    for n in range(3):
        assert plugyard(tmp_path, "--config", config, "call", "add", f"a={n}").returncode == 0
    out = tmp_path / "calls.jsonl"
    code, shown = on_terminal(tmp_path, "--config", config, "history", "export", "-o", str(out), stream="stderr")
    assert code == 0 and "exporting" in shown and "3/3" in shown
    assert len(out.read_text().splitlines()) == 3
    piped = plugyard(tmp_path, "--config", config, "history", "export", "-o", str(out))
    assert piped.stderr.strip() == f"exported 3 call(s) to {out}"


def test_history_report_writes_one_page(tmp_path, config):
    assert plugyard(tmp_path, "--config", config, "call", "add", "a=1").returncode == 0
    page = tmp_path / "out" / "report.html"
    result = plugyard(tmp_path, "--config", config, "history", "report", "--html", str(page), "--days", "7")
    assert result.returncode == 0, result.stderr
    assert f"wrote {page}: 1 call(s) of 1 tool(s)" in result.stderr
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="chart-latency"' in text and "default-src 'none'" in text


def test_migrations_run_one_revision_at_a_time():
    history = [("0001", None, "a"), ("0002", "0001", "b"), ("0003", "0002", "c")]
    assert pending_revisions(None, "head", history) == ["0001", "0002", "0003"]
    assert pending_revisions("0001", "head", history) == ["0002", "0003"]
    assert pending_revisions("0001", "0002", history) == ["0002"]
    assert pending_revisions("0003", "head", history) == []
    assert pending_revisions(None, "+1", history) is None
