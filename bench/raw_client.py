"""A light MCP load generator for the HTTP benchmark: ``tools/call`` requests written as bytes, as a
load tool (wrk, hey) would send them, and each answer parsed only as far as its result.

The SDK's ``Client`` spends about twice a server's CPU per call over HTTP (bench/RESULTS.md): 16 of them in
the benchmark's process on a 2-CPU machine leave the servers waiting on the clients, so calls/s then says
more about the client than the server. ``RawClient`` keeps one HTTP/1.1 keep-alive connection (``h11``,
which uvicorn uses too) and sends exactly what a stateless client of the chosen protocol sends: a
2025-11-25 request (the ``MCP-Protocol-Version`` header, no handshake: stateless servers answer without
one) or a 2026-07-28 one (the envelope in ``_meta``, the routing headers); with ``session``, it opens a
2025-11-25 session first (initialize, initialized) and sends its ``Mcp-Session-Id`` with every call. The
answer (JSON, or an SSE stream whose ``message`` events are read until the one answering the request) is
parsed with ``json`` and checked by the caller, as with the SDK client.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import h11

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench-raw", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class RawResult:
    """What ``client_calls`` reads of an answer, as of the SDK's ``CallToolResult``."""

    is_error: bool
    structured_content: Any


class RawClient:
    """One connection, one request at a time (a sequential client, like each SDK ``Client`` here)."""

    def __init__(self, url: str, *, modern: bool, session: bool = False) -> None:
        parts = urlsplit(url)
        self._host, self._port, self._path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._modern = modern
        self._ids = itertools.count(1)
        self._stream: anyio.abc.SocketStream | None = None
        self._conn = h11.Connection(h11.CLIENT)
        self._session = session
        self._session_id: str | None = None

    async def __aenter__(self) -> RawClient:
        self._stream = await anyio.connect_tcp(self._host, self._port)
        if self._session and self._session_id is None:
            await self._handshake()
        return self

    async def _handshake(self) -> None:
        """A session opened as a 2025-11-25 client opens it: initialize, then the initialized notification."""
        params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench-raw", "version": "1"}}
        body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}).encode()
        status, _, text, session_id = await self._exchange(self._headers(body, initialize=True), body)
        if status != 200 or session_id is None:
            raise RuntimeError(f"initialize: HTTP {status}, session {session_id!r}: {text[:200]}")
        self._session_id = session_id
        body = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
        status, _, text, _ = await self._exchange(self._headers(body), body)
        if status != 202:
            raise RuntimeError(f"notifications/initialized: HTTP {status}: {text[:200]}")

    def _headers(self, body: bytes, *, initialize: bool = False) -> list[tuple[str, str]]:
        headers = [
            ("Host", f"{self._host}:{self._port}"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("Content-Length", str(len(body))),
        ]
        if not initialize:
            headers.append(("MCP-Protocol-Version", LEGACY))
        if self._session_id is not None:
            headers.append(("Mcp-Session-Id", self._session_id))
        return headers

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.aclose()

    def _request(self, request_id: int, name: str, arguments: dict[str, Any]) -> tuple[list[tuple[str, str]], bytes]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if self._modern:
            params["_meta"] = MODERN_META
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()
        headers = self._headers(body)
        if self._modern:
            headers = [h for h in headers if h[0] != "MCP-Protocol-Version"]
            headers += [("MCP-Protocol-Version", MODERN), ("Mcp-Method", "tools/call"), ("Mcp-Name", name)]
        return headers, body

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        request_id = next(self._ids)
        headers, body = self._request(request_id, name, arguments)
        try:
            status, content_type, text, _ = await self._exchange(headers, body)
        except (anyio.EndOfStream, anyio.BrokenResourceError, h11.RemoteProtocolError):
            # The server closed the idle keep-alive connection (uvicorn does after 5 s, while the other
            # configurations take their turn): a new connection, the request sent again, as HTTP clients do.
            await self.__aexit__()
            self._conn = h11.Connection(h11.CLIENT)
            await self.__aenter__()
            status, content_type, text, _ = await self._exchange(headers, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {text[:200]}")
        message = _answer(text, content_type, request_id)
        if "error" in message:
            raise RuntimeError(f"JSON-RPC error: {message['error']}")
        result = message["result"]
        return RawResult(bool(result.get("isError")), result.get("structuredContent"))

    async def _exchange(self, headers: list[tuple[str, str]], body: bytes) -> tuple[int, str, str, str | None]:
        """One request and its whole answer: status, content type, body, the session id header if any."""
        assert self._stream is not None
        conn = self._conn
        out = conn.send(h11.Request(method="POST", target=self._path, headers=headers))
        out = (out or b"") + (conn.send(h11.Data(data=body)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        await self._stream.send(out)
        status, content_type, session_id, chunks = 0, "", None, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await self._stream.receive(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                got = dict(event.headers)
                content_type = got.get(b"content-type", b"").decode()
                session_id = got[b"mcp-session-id"].decode() if b"mcp-session-id" in got else None
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        conn.start_next_cycle()
        return status, content_type, b"".join(chunks).decode(), session_id


def _answer(text: str, content_type: str, request_id: int) -> dict[str, Any]:
    """The JSON-RPC message answering ``request_id``: the JSON body, or the SSE stream's event carrying it."""
    if content_type.startswith("application/json"):
        return dict(json.loads(text))
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data:
            message = json.loads(data)
            if message.get("id") == request_id:
                return dict(message)
    raise RuntimeError(f"no answer to request {request_id} in the stream: {text[:200]}")
