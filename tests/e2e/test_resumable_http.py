"""Stateful streamable HTTP is resumable: a client whose stream broke mid-call reconnects with
Last-Event-ID and gets the call's answer; another session's event id replays nothing."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import rows, serving_http, write_config

pytestmark = [pytest.mark.e2e]

PROTOCOL = "2025-11-25"  # the first version whose clients read priming events


def events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Server-sent events as dicts of their fields, as they arrive."""
    event: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        event[field] = value.removeprefix(" ") if field != "data" else event.get("data", "") + value.removeprefix(" ")
    if event:
        yield event


class Session:
    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http, self.url = http, url
        self.headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": PROTOCOL}
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        }
        with http.stream("POST", url, json=init, headers=self.headers) as response:
            assert response.status_code == 200, response.read()
            self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
            assert any("result" in json.loads(e["data"]) for e in events(response) if e.get("data"))
        ack = http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=self.headers)
        assert ack.status_code == 202

    def call(self, tool: str, arguments: dict[str, Any]) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        request = self.http.build_request("POST", self.url, json=body, headers=self.headers)
        return self.http.send(request, stream=True)

    def resume(self, last_event_id: str) -> httpx.Response:
        request = self.http.build_request("GET", self.url, headers={**self.headers, "Last-Event-ID": last_event_id})
        return self.http.send(request, stream=True)


@pytest.fixture
def served(tmp_path: Path, db_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    config = write_config(tmp_path / "plugins.toml", db_path, extra="[tools.sleep_async]\ntimeout = 60")
    with serving_http(config, tmp_path) as (base, proc):
        yield f"{base}/mcp", proc


def test_a_broken_stream_resumes_with_last_event_id_and_gets_the_answer(served, db_path):
    server, proc = served
    with httpx.Client(timeout=30) as http:
        session = Session(http, server)
        response = session.call("sleep_async", {"seconds": 1.5})
        priming = next(events(response))
        response.close()  # the connection drops while the call runs
        assert priming["data"] == "" and priming["id"] and priming["retry"] == "1000"

        resumed = session.resume(priming["id"])
        assert resumed.status_code == 200
        answer = next(json.loads(e["data"]) for e in events(resumed) if e.get("data"))
        resumed.close()
    assert answer["id"] == 2 and answer["result"]["structuredContent"] == {"result": 1.5}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert [(r["tool_name"], r["success"]) for r in rows(db_path)] == [("sleep_async", 1)]


def test_another_sessions_event_id_replays_nothing(served):
    server, _proc = served
    with httpx.Client(timeout=30) as http:
        alice, bob = Session(http, server), Session(http, server)
        # Both sessions use request id 2, the stream name the SDK gives their calls' events.
        with closing(alice.call("add", {"a": 1, "b": 2})) as response:
            alice_events = list(events(response))
        with closing(bob.call("add", {"a": 40, "b": 2})) as response:
            bob_events = list(events(response))
        assert json.loads(bob_events[-1]["data"])["result"]["structuredContent"] == {"result": 42}
        # Alice presents her own stream's first event id in Bob's session: nothing of Bob's comes back.
        with closing(bob.resume(alice_events[0]["id"])) as stolen:
            assert [e for e in events(stolen) if e.get("data")] == []
        # In her own session the same id replays her answer.
        with closing(alice.resume(alice_events[0]["id"])) as own:
            replayed = next(json.loads(e["data"]) for e in events(own) if e.get("data"))
    assert replayed["result"]["structuredContent"] == {"result": 3}
