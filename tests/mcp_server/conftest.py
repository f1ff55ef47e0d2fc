from __future__ import annotations

import pytest

from tests.mcp_server import feature_plugin

MODES = ["auto", "legacy"]  # 2026-07-28 per-request, and the 2025-11-25 handshake desktop clients speak


@pytest.fixture
def plugyard_plugins() -> dict[str, object]:
    return {"feature": feature_plugin}


@pytest.fixture(params=MODES)
def plugyard_client_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
