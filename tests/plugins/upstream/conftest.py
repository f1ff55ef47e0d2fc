from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from plugyard.plugins.upstream import UpstreamPlugin

SERVER = Path(__file__).with_name("server.py")
MODES = ["auto", "legacy"]


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (an upstream server plugyard started, for instance)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until(predicate: Any, seconds: float = 15.0) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.02)


@pytest.fixture
def upstream_plugin() -> UpstreamPlugin:
    return UpstreamPlugin()


@pytest.fixture
def plugyard_plugins(upstream_plugin: UpstreamPlugin) -> dict[str, object]:
    return {"upstream": upstream_plugin}


def stdio_server(**extra: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER)], **extra}


@pytest.fixture
def upstream_servers() -> dict[str, Any]:
    return {"fx": stdio_server(capabilities={"arithmetic": ["add"]})}


@pytest.fixture
def plugyard_settings(upstream_servers: dict[str, Any]) -> dict[str, Any]:
    return {"plugins": {"upstream": {"servers": upstream_servers, "restart_delay": 0.05, "ping_interval": 0.5}}}
