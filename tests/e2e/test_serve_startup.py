"""`plugyard serve` starting up at the edges a newcomer hits first: no client on stdin, a port
that is taken or out of range, an IPv6 bind. Each ends with one line on stderr and the README's
exit code, never a traceback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import subprocess_env, write_config
from tests.reliability.rawstdio import mount, umount

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    return write_config(tmp_path / "plugins.toml", db_path)


def _plugyard(config_file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "plugyard", "--config", str(config_file), *args]


@pytest.mark.parametrize(
    "stdin", ["/dev/null", "closed", "empty file", "closed, stdout closed too", "/dev/null, stdout closed"]
)
def test_stdio_without_a_client_leaves_quietly(config_file, tmp_path, stdin):
    command = _plugyard(config_file, "serve")
    redirect = {"closed": "<&-", "closed, stdout closed too": "<&- >&-", "/dev/null, stdout closed": "</dev/null >&-"}
    if stdin in redirect:
        # `plugyard serve <&-`: the process starts with fd 0 (and maybe fd 1) closed. (The event
        # loop's own descriptors must not take a standard number: libuv aborts closing one.)
        run = subprocess.run(
            ["sh", "-c", f'exec "$@" {redirect[stdin]}', "sh", *command],
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


def test_a_port_in_use_is_one_line_and_exit_3(config_file, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            _plugyard(config_file, "serve", "--transport", "http", "--port", str(port)),
            env=subprocess_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 3
    assert run.stderr.strip() == (
        f"Error: cannot serve HTTP on 127.0.0.1:{port}: the port is already in use (another plugyard?); "
        "choose another with --port or [server] port"
    )


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_an_ipv6_bind_says_serving_with_a_bracketed_url_once_it_listens(config_file, tmp_path):
    with subprocess.Popen(
        _plugyard(config_file, "serve", "--transport", "http", "--host", "::1", "--port", "0"),
        env=subprocess_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            match = re.search(r" on (http://\[::1\]:(\d+)/mcp)$", line.strip())
            assert match, line
            # Said only once listening: the first request, sent at once, is answered.
            response = httpx.get(f"http://[::1]:{match.group(2)}/healthz", timeout=10)
            assert response.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0


@pytest.mark.parametrize("command", [["serve"], ["plugins"], ["call", "calculate", "expression=1+1"]])
def test_a_bad_setting_of_an_enabled_plugin_stops_with_exit_3(tmp_path, db_path, command):
    config_file = write_config(
        tmp_path / "plugins.toml", db_path, extra="[plugins.assistant]\nquick_task_threshold = 5"
    )
    run = subprocess.run(
        _plugyard(config_file, *command),
        stdin=subprocess.DEVNULL,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3 and run.stdout == ""
    assert run.stderr.strip() == (
        f"Error: {config_file}: [plugins.assistant] quick_task_threshold: "
        "Input should be less than or equal to 1 (got 5)"
    )


@pytest.mark.parametrize("port", ["99999", "-1", "eighty"])
def test_a_bad_port_argument_is_a_usage_error(config_file, tmp_path, port):
    run = subprocess.run(
        _plugyard(config_file, "serve", "--transport", "http", "--port", port),
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "Error: Invalid value for '--port': " in run.stderr


@pytest.mark.parametrize("command", [["serve"], ["call", "calculate", "expression=1+1"]])
@pytest.mark.parametrize(
    "where", ["a file in the way", "a file further up", "in a read-only folder", "inside a read-only folder"]
)
def test_a_database_folder_that_cannot_be_created_stops_with_exit_3(tmp_path, command, where):
    # A file where the folder should be (ENOTDIR/EEXIST stop root as well as anyone), or a read-only folder (a bind
    # mount binds root too): the history's startup must refuse (exit 3, one line naming the file), not be skipped
    # as a broken plugin while the server serves.
    blocker = tmp_path / "afile"
    if where.startswith("a file"):
        blocker.write_text("not a folder")
        db_file = blocker / "x.db" if where == "a file in the way" else blocker / "deeper" / "x.db"
    else:
        blocker.mkdir()
        why = mount("--bind", "-o", "ro", str(blocker), str(blocker))
        if why is not None:
            pytest.skip(f"a read-only folder is made with a bind mount: {why}")
        db_file = blocker / "x.db" if where == "in a read-only folder" else blocker / "deeper" / "x.db"
    config_file = write_config(tmp_path / "plugins.toml", db_file)
    try:
        run = subprocess.run(
            _plugyard(config_file, *command),
            stdin=subprocess.DEVNULL,
            env=subprocess_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if not where.startswith("a file"):
            umount(blocker)
    assert run.returncode == 3, run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("Error: the history database") and str(db_file) in line and "refuses to start" in line
    if where == "in a read-only folder":  # the folder is there; SQLite cannot create the file in it
        assert "unable to open database file" in line
    else:
        assert "its folder cannot be created" in line
    assert not db_file.exists()
