"""Faults that used to lose history: a journal that cannot be written when the server stops, a history
plugin that cannot start (the server served anyway), a database folder made read-only mid-run.

Real parts only: `plugyard serve` over stdio (raw JSON-RPC lines), a real SQLite file locked by another
connection, a full tmpfs (mounted by the test: root only, skipped and said so otherwise), a journal folder
that is a file (ENOTDIR, which stops root too), and a server run as an unprivileged user (uid 65534, with
`setpriv`) to meet a folder chmod-ed read-only (permissions do not stop root). Every test counts the
acknowledged call ids against the rows stored."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import rows, subprocess_env, write_config
from tests.reliability.rawstdio import mount, serving, umount

pytestmark = [pytest.mark.e2e]

NOBODY = 65534
CALLS = 300


def _config(tmp_path: Path, db_path: Path, **history: str) -> Path:
    config = write_config(tmp_path / "plugins.toml", db_path)
    lines = "".join(f'\n{key} = "{value}"' for key, value in history.items())
    config.write_text(config.read_text().replace("flush_interval = 0.05", "flush_interval = 0.05" + lines))
    return config


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, filled on demand (``fill(path)``): a disk that refuses every append."""
    where = tmp_path / "small-disk"
    where.mkdir()
    why = mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where))
    if why is not None:
        pytest.skip(f"a full disk is made with a tmpfs: {why}")
    try:
        yield where
    finally:
        umount(where)


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's own tmp_path sits under a root-only folder)."""
    where = Path(tempfile.mkdtemp(prefix="plugyard-readonly-"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        for path in where.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(where, ignore_errors=True)


def fill(disk: Path) -> None:
    with (disk / "filler").open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


def _stored_ids(db_path: Path) -> list[str]:
    return [r["call_id"] for r in rows(db_path)]


def _serve(config: Path) -> list[str]:
    return [sys.executable, "-m", "plugyard", "--config", str(config), "serve"]


def _replay(config: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A server started with no input: it replays the journals, then stops at end of input."""
    return subprocess.run(
        [sys.executable, "-m", "plugyard", "--config", str(config), "serve"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def _stopped_on_a_full_disk(
    config: Path, tmp_path: Path, env: dict[str, str], db_path: Path, full_tmpfs: Path
) -> tuple[list[str], int, str]:
    """Serve; acknowledge CALLS calls while another connection holds the database's write lock (so none
    can be written); fill the disk under the journal; stop. (The call ids acknowledged, exit code, stderr.)"""
    with serving(config, tmp_path, env) as server:
        server.initialize()
        assert not server.call("add", {"a": 1})["isError"]
        lock = sqlite3.connect(db_path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            acknowledged = server.call_many("add", [{"a": i, "b": 1} for i in range(CALLS)])
            assert len(acknowledged) == CALLS
            fill(full_tmpfs)
            code = server.stop()
            stderr = server.stderr
        finally:
            lock.rollback()
            lock.close()
    return acknowledged, code, stderr


def test_a_journal_on_a_full_disk_falls_back_to_the_data_directory_and_is_replayed(tmp_path, db_path, full_tmpfs):
    config = _config(tmp_path, db_path, journal=str(full_tmpfs / "journal.jsonl"))
    env = subprocess_env(tmp_path)
    acknowledged, code, stderr = _stopped_on_a_full_disk(config, tmp_path, env, db_path, full_tmpfs)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    # The log names the place that failed and the one that took the records; it never claims the full disk.
    assert f"record(s) kept in {full_tmpfs}" not in stderr
    assert "history journal not writable" in stderr and "No space left on device" in stderr
    fallbacks = list((tmp_path / "data").glob("fallback-journal-*.jsonl"))
    assert len(fallbacks) == 1
    kept = [json.loads(line)["call_id"] for line in fallbacks[0].read_text().splitlines()]
    assert set(acknowledged) <= set(kept)
    # Space freed, the next start replays the fallback journal: nothing acknowledged is lost, nothing doubled.
    (full_tmpfs / "filler").unlink()
    done = _replay(config, tmp_path, env)
    assert done.returncode == 0, done.stderr
    stored = _stored_ids(db_path)
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))
    assert not fallbacks[0].exists()
    print(
        f"\nFIGURE full-disk journal: {len(acknowledged)} acknowledged, {len(kept)} in the fallback journal, "
        f"{len(set(acknowledged) - set(stored))} lost, {len(stored) - len(set(stored))} duplicated"
    )


def test_with_no_journal_writable_the_records_go_to_stderr_as_json_lines(tmp_path, db_path, full_tmpfs):
    config = _config(tmp_path, db_path, journal=str(full_tmpfs / "journal.jsonl"))
    env = subprocess_env(tmp_path, PLUGYARD_DATA_DIR=str(full_tmpfs / "data"))
    acknowledged, code, stderr = _stopped_on_a_full_disk(config, tmp_path, env, db_path, full_tmpfs)
    assert code == 0, stderr
    assert "record(s) kept in" not in stderr
    assert "written to stderr above as JSON Lines" in stderr and "will NOT be replayed" in stderr
    records = [line for line in stderr.splitlines() if line.startswith('{"call_id"')]
    assert set(acknowledged) <= {json.loads(line)["call_id"] for line in records}
    # What the message says to do works: the lines, saved, are imported.
    saved = tmp_path / "from-stderr.jsonl"
    saved.write_text("\n".join(records) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "plugyard", "--config", str(config), "history", "import", str(saved)],
        capture_output=True,
        text=True,
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert set(acknowledged) <= set(_stored_ids(db_path))
    print(
        f"\nFIGURE no journal writable: {len(acknowledged)} acknowledged, {len(records)} on stderr, "
        f"{len(set(acknowledged) - set(_stored_ids(db_path)))} lost after import"
    )


@pytest.mark.parametrize("fault", ["journal folder is a file", "journal folder read-only (bind mount)"])
def test_a_journal_that_cannot_be_written_at_start_stops_the_server_with_exit_3(tmp_path, db_path, fault):
    folder = tmp_path / "journals"
    if fault == "journal folder is a file":
        folder.write_text("not a folder")  # ENOTDIR: stops root as well as anyone
    else:
        folder.mkdir()
        why = mount("--bind", "-o", "ro", str(folder), str(folder))
        if why is not None:
            pytest.skip(f"a read-only folder is made with a bind mount: {why}")
    try:
        config = _config(tmp_path, db_path, journal=str(folder / "journal.jsonl"))
        done = _replay(config, tmp_path, subprocess_env(tmp_path))
    finally:
        if fault != "journal folder is a file":
            umount(folder)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "the history journal" in last and str(folder) in last and "refuses to start" in last


def test_a_corrupt_sqlite_file_stops_the_server_with_exit_3(tmp_path, db_path):
    db_path.write_bytes(b"this is not a database" * 100)
    config = _config(tmp_path, db_path)
    done = _replay(config, tmp_path, subprocess_env(tmp_path))
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr  # the assistant's store, which starts first, refuses the same way
    last = done.stderr.strip().splitlines()[-1]
    assert "the history database" in last and "file is not a database" in last and "refuses to start" in last


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_a_database_folder_made_read_only_mid_run_loses_nothing_acknowledged(nobody_dir):
    # The server runs as an unprivileged user: chmod binds it (it never binds root).
    tmp_path = nobody_dir
    for path in (tmp_path, tmp_path / "db", tmp_path / "data"):
        path.mkdir(exist_ok=True)
        os.chown(path, NOBODY, NOBODY)
    db_path = tmp_path / "db" / "history.db"
    config = _config(tmp_path, db_path)
    env = subprocess_env(tmp_path, HOME=str(tmp_path))
    acknowledged: list[str] = []
    with serving(config, tmp_path, env, user=NOBODY) as server:
        server.initialize()
        acknowledged += server.call_many("add", [{"a": i} for i in range(CALLS)])
        # Read-only mid-run: the file 0444, its folder 0555 (the journal beside it with them).
        for path in db_path.parent.iterdir():
            path.chmod(0o444)
        db_path.parent.chmod(0o555)
        for _ in range(3):
            acknowledged += server.call_many("add", [{"a": i} for i in range(CALLS)])
        code = server.stop()
        stderr = server.stderr
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert len(acknowledged) == 4 * CALLS
    # Restarted while still read-only (a supervisor restarting it): it refuses to start rather than answer calls
    # it could not keep (it used to serve them and lose them at the stop).
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *_serve(config)],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "refuses to start" in done.stderr.strip().splitlines()[-1]
    db_path.parent.chmod(0o755)
    for path in db_path.parent.iterdir():
        path.chmod(0o644)
    with serving(config, tmp_path, env, user=NOBODY) as server:
        server.initialize()
        assert not server.call("add", {"a": 1})["isError"]
        assert server.stop() == 0
    stored = _stored_ids(db_path)
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged calls lost\n{stderr[-3000:]}"
    assert len(stored) == len(set(stored))
    print(
        f"\nFIGURE read-only mid-run: {len(acknowledged)} acknowledged, {len(missing)} lost, "
        f"{len(stored) - len(set(stored))} duplicated"
    )


def _bytes_in(disk: Path) -> int:
    """Bytes in the files on ``disk`` (the write-ahead file and journal; emptied once their rows are stored)."""
    return sum(p.stat().st_size for p in disk.iterdir() if p.is_file())


def test_a_write_ahead_file_on_a_full_disk_degrades_to_memory_durability_once(tmp_path, db_path, full_tmpfs):
    config = _config(tmp_path, db_path, journal=str(full_tmpfs / "journal.jsonl"), durability="journal")
    env = subprocess_env(tmp_path)
    with serving(config, tmp_path, env) as server:
        server.initialize()
        acknowledged = server.call_many("add", [{"a": i} for i in range(CALLS)])
        # The writer empties the write-ahead file (freeing its pages) once the queue is stored: let that
        # happen before the disk is filled, or the space it frees takes the next appends and nothing fails.
        deadline = time.monotonic() + 30
        while (len(_stored_ids(db_path)) < CALLS or _bytes_in(full_tmpfs)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_stored_ids(db_path)) >= CALLS and not _bytes_in(full_tmpfs), "the writer did not catch up"
        fill(full_tmpfs)
        acknowledged += server.call_many("add", [{"a": i} for i in range(CALLS)])
        code = server.stop()
        stderr = server.stderr
    assert code == 0, stderr
    # Said once, in one line; not a traceback per call from a failing after_tool_call hook.
    assert stderr.count("write-ahead file") == 1 and 'durability is "memory" from now on' in stderr, stderr[-2000:]
    assert "Traceback" not in stderr and "after_tool_call of plugin" not in stderr
    stored = _stored_ids(db_path)
    assert set(acknowledged) <= set(stored) and len(stored) == len(set(stored))
