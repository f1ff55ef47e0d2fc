"""The baseline: the same no-op function on a bare mcp SDK ``MCPServer``, served over stdio.

Run by ``bench_pipeline.py`` as ``python bench/bare_server.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mcp.server.mcpserver import MCPServer
from noop_plugin import noop


def build() -> MCPServer:
    server = MCPServer("bare")
    server.add_tool(noop)
    return server


if __name__ == "__main__":
    build().run()
