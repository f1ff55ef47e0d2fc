"""`plugyard serve` with an upstream: stopping plugyard stops the servers it started (no orphans)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import subprocess_env
from tests.plugins.upstream.conftest import SERVER, alive

pytestmark = pytest.mark.e2e


def _send(process: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


def _answer(process: subprocess.Popen[str], request_id: int) -> dict[str, Any]:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"plugyard exited before answering request {request_id}")
        message = json.loads(line)
        if message.get("id") == request_id:
            return message  # type: ignore[no-any-return]


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT", "stdin closed"])
def test_stopping_plugyard_stops_its_stdio_upstreams(tmp_path: Path, stop: str) -> None:
    config = tmp_path / "plugins.toml"
    config.write_text(
        f"[plugins.upstream.servers.fx]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(SERVER))}]\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "plugyard", "--config", str(config), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
        _send(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
        _answer(process, 1)
        _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _send(
            process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fx_pid", "arguments": {}}}
        )
        answer = _answer(process, 2)
        pid = answer["result"]["structuredContent"]["result"]
        assert alive(pid)
        if stop == "stdin closed":
            assert process.stdin is not None
            process.stdin.close()
        else:
            process.send_signal(getattr(signal, stop))
        assert process.wait(20) == 0
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), f"the upstream {pid} outlived plugyard ({stop})"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "plugins.toml"
    config.write_text(
        f"[plugins.upstream.servers.fx]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(SERVER))}]\n",
        encoding="utf-8",
    )
    return config


def _plugyard(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugyard", "--config", str(_config(tmp_path)), *args],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )


def test_plugyard_call_reaches_an_upstream_tool_and_upstream_list_shows_it(tmp_path: Path) -> None:
    called = _plugyard(tmp_path, "call", "fx_add", "a=2", "b=5")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {"total": 7}
    refused = _plugyard(tmp_path, "call", "fx_refuse", "reason=nope")
    assert refused.returncode == 1 and "nope" in refused.stderr
    unstarted = _plugyard(tmp_path, "tools")
    assert "fx_add" not in unstarted.stdout and "add --started" in unstarted.stderr  # says what it leaves out
    started = _plugyard(tmp_path, "tools", "--started")
    assert started.returncode == 0 and "fx_add  (upstream)  Add a and b." in started.stdout
    assert "--started" not in started.stderr
    listed = _plugyard(tmp_path, "upstream", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    fx = json.loads(listed.stdout)["fx"]
    assert fx["state"] == "ready" and fx["tools"] == 10 and "add" in fx["names"]
