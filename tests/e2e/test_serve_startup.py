"""`plugyard serve` starting up at the edges a newcomer hits first: no client on stdin, a port
that is taken or out of range, an IPv6 bind. Each ends with one line on stderr and the README's
exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env, write_config

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    return write_config(tmp_path / "plugins.toml", db_path)


def _plugyard(config_file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "plugyard", "--config", str(config_file), *args]


@pytest.mark.parametrize("stdin", ["/dev/null", "closed", "empty file"])
def test_stdio_without_a_client_leaves_quietly(config_file, tmp_path, stdin):
    command = _plugyard(config_file, "serve")
    if stdin == "closed":
        # `plugyard serve <&-`: the process starts with fd 0 closed.
        run = subprocess.run(
            ["sh", "-c", 'exec "$@" <&-', "sh", *command],
            env=subprocess_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    else:
        source = Path("/dev/null") if stdin == "/dev/null" else tmp_path / "empty"
        source.touch()
        with source.open("rb") as handle:
            run = subprocess.run(
                command, stdin=handle, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=60
            )
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]  # the one "serving" line
