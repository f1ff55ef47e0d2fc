"""stdout discipline on stdio: nothing but JSON-RPC reaches stdout, even when a plugin prints or logs at
import and inside a tool (in Python, through the logging module, and from a child process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, subprocess_env, write_config

pytestmark = [pytest.mark.e2e]

NOISY = """
import logging
import subprocess
import sys
from plugyard import hookimpl

print("NOISE: printed at import")
logging.getLogger("noisy").warning("NOISE: logged at import")
logging.warning("NOISE: root logger at import")

def chatty() -> str:
    \"\"\"Prints, logs and runs a child process that writes to its stdout.\"\"\"
    print("NOISE: printed in a tool")
    sys.stdout.write("NOISE: written to sys.stdout\\n")
    sys.stdout.flush()
    logging.getLogger("noisy").warning("NOISE: logged in a tool")
    subprocess.run([sys.executable, "-c", "print('NOISE: from a child process')"], check=True)
    return "done"

async def chatty_async() -> str:
    \"\"\"Prints on the event loop.\"\"\"
    print("NOISE: printed in an async tool")
    return "done"

@hookimpl
def register_tools(register):
    print("NOISE: printed at registration")
    register(chatty)
    register(chatty_async)
"""


def test_only_json_rpc_reaches_stdout_when_a_plugin_prints_and_logs(tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "noisy.py").write_text(NOISY, encoding="utf-8")
    config = write_config(tmp_path / "plugins.toml", db_path, modules=[str(FIXTURES / "sample_plugin.py"), "noisy"])
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "chatty", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "chatty_async", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1}}},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "plugyard", "--config", str(config), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
    proc.stdin.flush()
    lines: list[str] = []
    answers: dict[int, dict[str, Any]] = {}
    # End of input cancels calls in flight, so stdin stays open until every call has answered.
    while not {2, 3, 4} <= set(answers):
        line = proc.stdout.readline()
        assert line, "the server closed stdout early"
        lines.append(line)
        assert line.startswith("{"), line
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        if "id" in message:
            answers[message["id"]] = message
    proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.stderr
    stderr = proc.stderr.read()
    assert proc.wait(60) == 0, stderr
    proc.stdout.close()
    proc.stderr.close()
    stdout = "".join(lines) + rest
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in stdout.splitlines())
    assert answers[2]["result"]["content"] == [{"type": "text", "text": "done"}]
    assert answers[3]["result"]["content"] == [{"type": "text", "text": "done"}]
    assert answers[4]["result"]["structuredContent"] == {"result": 1}
    assert "NOISE" not in stdout
    # The noise is not lost: it went to stderr.
    for noise in (
        "printed at import",
        "logged at import",
        "printed in a tool",
        "logged in a tool",
        "from a child process",
    ):
        assert f"NOISE: {noise}" in stderr, noise
