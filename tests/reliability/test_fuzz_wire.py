"""Property-based fuzzing of the wire: raw bytes written to a real `plugyard serve` over stdio, and raw
HTTP POSTs to a real `plugyard serve --transport http`.

Malformed JSON-RPC, invalid UTF-8, NUL bytes, truncated lines, wrong jsonrpc versions, batch arrays,
lone surrogates as JSON escapes, absurd nesting, wrong content types. After every generated message the
server must still answer a valid request (no crash, no hang: each wait is bounded), and every line it
writes to stdout, and every JSON body it answers over HTTP, must be a well-formed JSON-RPC message."""

from __future__ import annotations

import json
import os
import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from tests.conftest import rows, serving_http, subprocess_env, write_config
from tests.reliability.rawstdio import PROTOCOL, RawStdio

pytestmark = [pytest.mark.e2e]

EXAMPLES = int(os.environ.get("PLUGYARD_FUZZ_EXAMPLES", "1500"))
ANSWER_WITHIN = 20.0  # seconds: a bound for "no hang", not a performance claim
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def well_formed(message: Any) -> None:
    """One JSON-RPC 2.0 message: a request or notification, a result or an error."""
    assert isinstance(message, dict), message
    assert message.get("jsonrpc") == "2.0", message
    if "method" in message:
        assert isinstance(message["method"], str)
        return
    assert "id" in message, message
    assert ("result" in message) != ("error" in message), message
    if "error" in message:
        error = message["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), message


# -- generated messages ------------------------------------------------------------------------------

METHODS = ["tools/call", "tools/list", "ping", "initialize", "resources/read", "prompts/get", "nope", ""]
ids = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=8), st.lists(st.integers(), max_size=2))
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_any = st.recursive(
    json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3)
)


@st.composite
def rpc_objects(draw: st.DrawFn) -> Any:
    message: dict[str, Any] = {}
    if draw(st.integers(0, 5)):
        message["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "1.0", "3", 2.0, None]))
    if draw(st.integers(0, 5)):
        message["method"] = draw(st.one_of(st.sampled_from(METHODS), st.text(max_size=12)))
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if draw(st.integers(0, 3)):
        tool = draw(st.sampled_from(["add", "explode", "login", "whoami", "nope"]))
        arguments = draw(st.one_of(json_any, st.dictionaries(st.sampled_from(["a", "b", "message", "x"]), json_any)))
        message["params"] = draw(st.one_of(json_any, st.just({"name": tool, "arguments": arguments})))
    return message


def encode(value: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as \\ud800 escapes, as a careless client would send them.
    return json.dumps(value, ensure_ascii=True).encode()


surrogate_call = st.builds(
    lambda text: encode(
        {
            "jsonrpc": "2.0",
            "id": "s",
            "method": "tools/call",
            "params": {"name": "explode", "arguments": {"message": text}},
        }
    ),
    st.text(st.characters(categories=["Cs", "Cc", "Ll"]), min_size=1, max_size=8),
)
raw_lines = st.one_of(
    st.binary(max_size=200),  # invalid UTF-8, NUL bytes, anything
    st.builds(encode, rpc_objects()),
    st.builds(encode, st.lists(rpc_objects(), max_size=4)),  # batch arrays
    st.builds(lambda m, cut: encode(m)[: max(cut, 1)], rpc_objects(), st.integers(0, 60)),  # truncated
    st.builds(lambda b, m: b + encode(m), st.binary(min_size=1, max_size=8), rpc_objects()),
    surrogate_call,
    st.integers(1, 100_000).map(lambda n: b"[" * n),  # absurd nesting
    st.integers(1, 5_000).map(
        lambda n: b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + b"[" * n + b"]" * n + b"}"
    ),
    st.sampled_from([b"", b"null", b"[]", b"{}", b"\x00\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\xc3\x28", b"1e99999"]),
)


# -- stdio ---------------------------------------------------------------------------------------------


class StdioServer(RawStdio):
    """`plugyard serve` over stdio, written to in raw bytes; every line seen while waiting is checked."""

    def __init__(self, config: Path, tmp_path: Path) -> None:
        super().__init__(config, tmp_path, subprocess_env(tmp_path))
        self.written = 0

    def send(self, line: bytes) -> None:
        super().send(line)
        self.written += 1

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a valid request and wait (bounded) for its answer; every line seen meanwhile is checked."""
        rid = f"probe-{next(self.ids)}"
        self.send(encode({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + ANSWER_WITHIN
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no answer to {method} within {ANSWER_WITHIN} s"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                raise AssertionError(f"no answer to {method}; server exit code {self.proc.poll()}") from None
            message = json.loads(line)  # stdout holds JSON only
            for one in message if isinstance(message, list) else [message]:
                well_formed(one)
                if one.get("id") == rid:
                    return dict(one)


@pytest.fixture
def stdio_server(tmp_path: Path, db_path: Path) -> Iterator[StdioServer]:
    server = StdioServer(write_config(tmp_path / "plugins.toml", db_path), tmp_path)
    try:
        init = server.request(
            "initialize",
            {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "0"}},
        )
        assert init["result"]["protocolVersion"] == PROTOCOL
        server.send(encode({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.stop()


def test_stdio_survives_generated_garbage_and_writes_only_json_rpc(stdio_server, db_path):
    server = stdio_server
    sent: list[bytes] = []

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
    @given(raw_lines)
    def one_line(line: bytes) -> None:
        # A message is one line: a newline inside would only split it into two messages.
        line = line.replace(b"\n", b" ")
        sent.append(line)
        server.send(line)
        assert server.request("ping")["result"] == {}

    one_line()
    print(f"\n{len(sent)} generated lines on stdio", end=" ")
    answer = server.request("tools/call", {"name": "add", "arguments": {"a": 20, "b": 22}})
    assert answer["result"]["structuredContent"] == {"result": 42}
    assert server.stop() == 0
    # The server recorded calls that reached a known tool, and its last one is the valid call.
    assert rows(db_path)[-1]["tool_name"] == "add"


# -- HTTP ----------------------------------------------------------------------------------------------


@pytest.fixture
def http_url(tmp_path: Path, db_path: Path) -> Iterator[str]:
    config = write_config(tmp_path / "plugins.toml", db_path)
    with serving_http(config, tmp_path, env=subprocess_env(tmp_path)) as (base, proc):
        yield f"{base}/mcp"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "",
]
ACCEPTS = ["application/json, text/event-stream", "application/json", "text/event-stream", "*/*", ""]


def answers_of(response: httpx.Response) -> list[Any]:
    kind = response.headers.get("content-type", "")
    if not response.content:
        return []  # 202 Accepted for a notification or a response: no body, per the transport
    if kind.startswith("application/json"):
        body = response.json()
        return body if isinstance(body, list) else [body]
    if kind.startswith("text/event-stream"):
        # SSE lines end in CR, LF or CRLF only: str.splitlines would also cut at U+0085 and friends, which a
        # JSON string may hold as they are (an error message echoing its argument, say).
        lines = response.text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return [json.loads(line[5:]) for line in lines if line.startswith("data:") and line[5:].strip()]
    return []


def test_http_survives_generated_bodies_and_content_types(http_url):
    sent: list[int] = []
    statuses: set[int] = set()
    with httpx.Client(timeout=ANSWER_WITHIN) as http:
        # A real session, so that generated requests also reach the handlers behind the session check.
        init = http.post(
            http_url,
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "f", "version": "0"},
                },
            },
            headers={"Accept": ACCEPTS[0]},
        )
        session = init.headers["mcp-session-id"]

        @settings(FUZZ_SETTINGS, max_examples=max(EXAMPLES // 3, 50))
        @given(
            body=raw_lines,
            # Mostly what the transport expects, so that the body reaches the JSON-RPC layer.
            content_type=st.sampled_from(CONTENT_TYPES[:1] * len(CONTENT_TYPES) + CONTENT_TYPES),
            accept=st.sampled_from(ACCEPTS[:1] * len(ACCEPTS) + ACCEPTS),
            with_session=st.integers(0, 4).map(bool),
        )
        def one_post(body: bytes, content_type: str, accept: str, with_session: bool) -> None:
            headers = {"Content-Type": content_type, "Accept": accept, "MCP-Protocol-Version": PROTOCOL}
            if with_session:
                headers["mcp-session-id"] = session
            response = http.post(http_url, content=body, headers=headers)
            sent.append(response.status_code)
            statuses.add(response.status_code)
            assert response.status_code < 500, (response.status_code, response.text[:500])
            for answer in answers_of(response):
                well_formed(answer)

        one_post()
    print(f"\n{len(sent)} generated HTTP posts; statuses {sorted(statuses)}", end=" ")

    async def still_serving() -> None:
        async with Client(http_url) as client:
            result = await client.call_tool("add", {"a": 1, "b": 2})
        assert result.structured_content == {"result": 3}

    anyio.run(still_serving)
