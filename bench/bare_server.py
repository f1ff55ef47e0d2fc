"""The baseline: the same no-op function on a bare mcp SDK ``MCPServer``.

``python bench/bare_server.py`` serves it over stdio (``bench_pipeline.py``, ``bench_serve.py``);
``python bench/bare_server.py http PORT`` over stateless streamable HTTP on 127.0.0.1:PORT at ``/mcp``
(``bench_serve.py``), with uvicorn's access log off, as ``plugyard serve`` runs it; ``http-stateful PORT``
the same with sessions (``bench_serve.py --stateful``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp.server.mcpserver import MCPServer
from noop_plugin import noop


def build(**kwargs: object) -> MCPServer:
    server = MCPServer("bare", **kwargs)  # type: ignore[arg-type]
    server.add_tool(noop)
    return server


if __name__ == "__main__":
    if sys.argv[1:2] in (["http"], ["http-stateful"]):
        # WARNING: no access-log line per request (plugyard's uvicorn runs at "warning" too).
        build(log_level="WARNING").run(
            "streamable-http", host="127.0.0.1", port=int(sys.argv[2]), stateless_http=sys.argv[1] == "http"
        )
    else:
        build().run()
