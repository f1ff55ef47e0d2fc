"""The benchmark's plugin: one no-op tool, the same function the bare server registers.

Loaded by ``plugyard serve`` from plugins.toml ``[plugins] modules`` (as a .py path), handed to
``PluginHost`` in-process by ``bench_pipeline.py``, and imported by ``bare_server.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plugyard


async def noop(x: int = 0) -> int:
    """Return x unchanged."""
    return x


@plugyard.hookimpl
def register_tools(register: Callable[..., Any]) -> None:
    register(noop)
