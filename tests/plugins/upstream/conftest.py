from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from plugyard.plugins.upstream import UpstreamPlugin

SERVER = Path(__file__).with_name("server.py")
MODES = ["auto", "legacy"]


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
