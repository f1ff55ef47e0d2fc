"""/healthz inside the Host check, a `name:*` pattern meaning a port only, and no paths or messages in
/healthz for a caller from beyond the machine. A real `plugyard serve --transport http` for the first two,
the server's ASGI app with a remote client address for the last."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from plugyard.mcp_server.hosts import matches
from plugyard.mcp_server.server import HEALTH_PATH, PlugyardServer
from tests.conftest import serving_http, write_config

pytestmark = [pytest.mark.e2e]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8000", True),
        ("LOCALHOST:65535", True),
        ("[::1]:1", True),
        ("127.0.0.1:evil", False),
        ("127.0.0.1:80.evil.example", False),
        ("127.0.0.1:", False),
        ("127.0.0.1:0", False),
        ("127.0.0.1:99999", False),
        ("127.0.0.1:٣٣", False),  # digits, but not ASCII ones
        ("127.0.0.1", False),
        ("evil.example", False),
        ("127.0.0.1.evil.example:80", False),
    ],
)
def test_a_port_pattern_takes_ports_only(host, allowed):
    assert matches(host, ["127.0.0.1:*", "localhost:*", "[::1]:*"]) is allowed


def test_healthz_and_mcp_refuse_a_foreign_host(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    with serving_http(config, tmp_path) as (base, _proc):
        port = base.rsplit(":", 1)[1]
        for path in (HEALTH_PATH, "/mcp"):
            for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:evil", "localhost:1x"):
                answer = httpx.get(f"{base}{path}", headers={"Host": host}, timeout=10)
                assert answer.status_code == 421, (path, host, answer.status_code)
            origin = httpx.get(f"{base}{path}", headers={"Origin": "http://127.0.0.1:evil"}, timeout=10)
            assert origin.status_code == 403, (path, origin.status_code)
        # A loopback name on another port (an SSH tunnel's) is still loopback.
        assert httpx.get(f"{base}{HEALTH_PATH}", headers={"Host": "localhost:9999"}, timeout=10).status_code == 200
        assert httpx.get(f"{base}{HEALTH_PATH}", timeout=10).json()["reports"]["history"]["database"]["url"]


@pytest.mark.anyio
async def test_healthz_shows_no_paths_to_a_caller_beyond_the_machine(running_host, db_url):
    async with running_host() as host:
        app = PlugyardServer(host).streamable_http_app(stateless_http=True)
        for client, detailed in ((("203.0.113.7", 4000), False), (("127.0.0.1", 4000), True)):
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                answer = await http.get(HEALTH_PATH)
            assert answer.status_code == 200
            body = answer.json()
            assert body["status"] == "ok" and body["reports"]["history"]["healthy"] is True
            text = answer.text
            if detailed:
                assert "database" in body["reports"]["history"]
            else:
                assert body["reports"]["history"] == {"healthy": True}
                assert "/" not in text.replace("http://", ""), text
                assert db_url.split("/")[-1] not in text
