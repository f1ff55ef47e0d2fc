"""A real `plugyard serve` over stdio, spoken to in raw JSON-RPC lines: the tests of lost history and of
the stdio transport count what the server acknowledged against what it stored, and read its stderr."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROTOCOL = "2025-11-25"
ANSWER_WITHIN = 20.0


class RawStdio:
    """`plugyard serve` (stdio); stdout read line by line in a thread, stderr to a file."""

    def __init__(self, config: Path, cwd: Path, env: dict[str, str], *, user: int | None = None) -> None:
        self.stderr_path = cwd / f"stderr-{time.monotonic_ns()}.log"
        command = [sys.executable, "-m", "plugyard", "--config", str(config), "serve"]
        if user is not None:
            # Permissions bind a plain user, not root: the server runs as one to meet a read-only folder.
            command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                command, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.ids = itertools.count()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def send_json(self, message: Any) -> None:
        self.send(json.dumps(message).encode())

    def next_message(self, within: float = ANSWER_WITHIN) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=within)
        except queue.Empty:
            raise AssertionError(f"no message within {within} s; server exit code {self.proc.poll()}") from None
        message = json.loads(line)
        assert isinstance(message, dict), message
        return message

    def answer_to(self, rid: Any, within: float = ANSWER_WITHIN) -> dict[str, Any]:
        """The answer to request ``rid`` (other messages seen meanwhile are dropped)."""
        deadline = time.monotonic() + within
        while True:
            message = self.next_message(max(deadline - time.monotonic(), 0.01))
            if message.get("id") == rid and "method" not in message:
                return message

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        rid = f"r-{next(self.ids)}"
        self.send_json({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}})
        return self.answer_to(rid)

    def initialize(self) -> None:
        init = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        )
        assert init["result"]["protocolVersion"] == PROTOCOL, init
        self.send_json({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """``tools/call``; returns the result (``isError`` and ``_meta`` included)."""
        answer = self.request("tools/call", {"name": tool, "arguments": arguments})
        assert "result" in answer, answer
        return dict(answer["result"])

    def call_many(self, tool: str, arguments: list[dict[str, Any]]) -> list[str]:
        """Send every call at once, then collect the answers; returns the call ids acknowledged."""
        rids = []
        for args in arguments:
            rid = f"m-{next(self.ids)}"
            rids.append(rid)
            self.send_json(
                {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": tool, "arguments": args}}
            )
        wanted = set(rids)
        acknowledged = []
        while wanted:
            message = self.next_message()
            if message.get("id") in wanted and "method" not in message:
                wanted.discard(message["id"])
                result = message.get("result") or {}
                call_id = (result.get("_meta") or {}).get("plugyard/call_id")
                if call_id and not result.get("isError"):
                    acknowledged.append(call_id)
        return acknowledged

    def stop(self, within: float = 90.0) -> int:
        """End of input; the exit code."""
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            return self.proc.wait(within)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self.reader.join(10)
            if self.proc.stdout:
                self.proc.stdout.close()


@contextlib.contextmanager
def serving(config: Path, cwd: Path, env: dict[str, str], *, user: int | None = None) -> Iterator[RawStdio]:
    server = RawStdio(config, cwd, env, user=user)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.stop()


def mount(*args: str) -> str | None:
    """Run ``mount`` (root only); None on success, else why not."""
    if os.geteuid() != 0:
        return "needs root (mount)"
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    return None if done.returncode == 0 else f"mount {' '.join(args)} failed: {done.stderr.strip()}"


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
