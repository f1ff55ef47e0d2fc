"""A Python MCP server over streamable HTTP behind a bearer token, mounted with the token from the environment."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.plugins.upstream.conftest import SERVER

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-upstream-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port), "--token", TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the HTTP fixture server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def upstream_servers(http_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("PLUGYARD_TEST_UPSTREAM_AUTH", f"Bearer {TOKEN}")
    monkeypatch.setenv("PLUGYARD_TEST_WRONG_AUTH", "Bearer wrong")
    return {
        "web": {"url": http_server, "headers": {"Authorization": "env:PLUGYARD_TEST_UPSTREAM_AUTH"}, "timeout": 10},
        "denied": {"url": http_server, "headers": {"Authorization": "env:PLUGYARD_TEST_WRONG_AUTH"}, "timeout": 10},
    }


async def test_an_http_upstream_with_a_bearer_token_is_served_and_recorded(plugyard_client, plugyard_history):
    names = {t.name for t in (await plugyard_client.list_tools()).tools}
    assert {"web_add", "web_echo"} <= names and not any(n.startswith("denied_") for n in names)
    result = await plugyard_client.call_tool("web_add", {"a": 20, "b": 22})
    assert result.structured_content == {"total": 42}
    call = await plugyard_history.last()
    assert call["source"] == "web" and call["success"]


async def test_a_refused_token_is_the_upstreams_last_error(plugyard_host, upstream_plugin):
    denied = upstream_plugin.upstreams["denied"]
    assert denied.state != "ready" and "401" in (denied.last_error or "")
    assert TOKEN not in str(denied.report())
