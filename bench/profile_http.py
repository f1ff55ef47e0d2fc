#!/usr/bin/env python
"""What a stateless streamable-HTTP request costs the server, plugyard against a bare ``MCPServer``, in
one process with no sockets: a diagnostic beside ``bench_serve.py``, not a benchmark of record.

Both apps are driven over ASGI (``httpx2.ASGITransport``) with the same ``tools/call`` of the no-op tool:
the bare server's ``streamable_http_app(stateless_http=True)`` and plugyard's as ``plugyard serve
--transport http --stateless`` builds it (the Host check in front, recording into SQLite through the
history plugin, the other first-party plugins disabled). Function calls per request, from cProfile, are
the stable figure on a shared machine; CPU per request (the client's half included) is printed too.

    python bench/profile_http.py [--requests N] [--top K] [--version 2025-11-25|2026-07-28]

2025-11-25 (the default) is what handshake-era clients send after ``initialize``: plugyard answers it on its HTTP
lane (``mcp_server/http_lane.py``); 2026-07-28 is the SDK's own ``Client`` default, answered by the SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.server.mcpserver import MCPServer

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_serve import plugins_toml

from plugyard.core.config import load_config
from plugyard.core.host import PluginHost
from plugyard.mcp_server.hosts import HostCheck
from plugyard.mcp_server.run import _transport_security
from plugyard.mcp_server.server import PlugyardServer

URL = "http://127.0.0.1:8000/mcp"
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
    "Host": "127.0.0.1:8000",
}


MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
VERSION = ["2025-11-25"]


async def drive(client: httpx2.AsyncClient, n: int, start: int) -> None:
    version = VERSION[0]
    headers = HEADERS | {"MCP-Protocol-Version": version}
    params: dict[str, Any] = {"name": "noop"}
    if version == "2026-07-28":  # a self-contained request, as the SDK's Client sends it by default
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": "noop"}
        params["_meta"] = MODERN_META
    for i in range(start, start + n):
        body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params | {"arguments": {"x": i}}}
        response = await client.post(URL, content=json.dumps(body), headers=headers)
        if response.status_code != 200 or f'"result":{i}' not in response.text.replace(" ", ""):
            raise RuntimeError(f"unexpected answer: {response.status_code} {response.text[:300]}")


def per_request(stats: pstats.Stats, n: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for (path, line, name), (_cc, calls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].split(str(BENCH.parent) + "/")[-1]
        out[f"{where}:{line}({name})"] = calls
    return {k: v for k, v in out.items() if v >= n // 2}


async def main(args: argparse.Namespace) -> None:
    async with contextlib.AsyncExitStack() as stack:
        bare = MCPServer("bare")

        async def noop(x: int = 0) -> int:
            return x

        bare.add_tool(noop)
        bare_app = bare.streamable_http_app(stateless_http=True, host="127.0.0.1")
        await stack.enter_async_context(bare.session_manager.run())

        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="plugyard-http-")))
        toml = plugins_toml(tmp / "plugins.toml", f"sqlite+aiosqlite:///{tmp / 'h.db'}", tmp / "h.journal")
        host = await stack.enter_async_context(PluginHost(load_config(toml)).running())
        server = PlugyardServer(host)
        security = _transport_security("127.0.0.1", 8000)
        app: Any = server.streamable_http_app(
            streamable_http_path="/mcp", stateless_http=True, host="127.0.0.1", transport_security=security
        )
        if security is not None:
            app = HostCheck(app, security.allowed_hosts, security.allowed_origins)
        await stack.enter_async_context(server.session_manager.run())
        logging.getLogger().setLevel(logging.WARNING)  # as `plugyard serve` and the bare server log

        clients = {}
        for name, asgi in (("bare", bare_app), ("plugyard", app)):
            clients[name] = await stack.enter_async_context(httpx2.AsyncClient(transport=httpx2.ASGITransport(asgi)))
            await drive(clients[name], 200, 0)

        cpu: dict[str, list[float]] = {name: [] for name in clients}
        for r in range(6):
            for name in sorted(clients, reverse=bool(r % 2)):
                t0 = time.process_time()
                await drive(clients[name], args.requests // 4, 10_000 * (r + 1))
                cpu[name].append((time.process_time() - t0) / (args.requests // 4) * 1e6)
        counts = {}
        for name, client in clients.items():
            profile = cProfile.Profile()
            profile.enable()
            await drive(client, args.requests, 1_000_000)
            profile.disable()
            counts[name] = per_request(pstats.Stats(profile), args.requests)

    n = args.requests
    for name in clients:
        total = sum(counts[name].values()) / n
        print(f"{name:9} {total:7.0f} function calls/request; CPU {statistics.median(cpu[name]):.0f} us/request "
              f"(client half included; rounds {min(cpu[name]):.0f}-{max(cpu[name]):.0f})")  # fmt: skip
    only = sorted(set(counts["plugyard"]) - set(counts["bare"]), key=lambda k: -counts["plugyard"][k])
    print(f"\nonly in plugyard's request (calls/request), top {args.top}:")
    for key in only[: args.top]:
        print(f"  {counts['plugyard'][key] / n:5.1f}  {key}")
    gone = sorted(set(counts["bare"]) - set(counts["plugyard"]), key=lambda k: -counts["bare"][k])
    print(f"\nonly in the bare server's request, top {args.top}:")
    for key in gone[: args.top]:
        print(f"  {counts['bare'][key] / n:5.1f}  {key}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--version", choices=["2025-11-25", "2026-07-28"], default="2025-11-25")
    parsed = parser.parse_args()
    VERSION[0] = parsed.version
    anyio.run(main, parsed)
