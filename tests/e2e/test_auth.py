"""Bearer-token authentication on streamable HTTP: no token, no call; the token's user owns the record."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from plugyard.core.auth import TokenTable
from plugyard.core.config import parse_config
from plugyard.core.errors import ConfigError
from tests.conftest import free_port, server_log, serving_http, subprocess_env, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef-xyz"


def test_tokens_resolve_from_the_environment_and_never_from_the_file():
    config = parse_config({"server": {"auth_tokens": {"alice": "env:ALICE_TOKEN"}}})
    table = TokenTable.from_config(config, {"ALICE_TOKEN": ALICE, "PLUGYARD_AUTH_TOKENS": f"bob={BOB}"})
    assert table.authenticate(ALICE) == "alice" and table.authenticate(BOB) == "bob"
    assert table.authenticate("alice-token-0123456789abcdeX") is None and table.authenticate("") is None
    with pytest.raises(ConfigError, match="not set"):
        TokenTable.from_config(config, {})
    with pytest.raises(ConfigError, match="shorter than 16"):
        TokenTable.from_config(parse_config({}), {"PLUGYARD_AUTH_TOKENS": "carol=short"})
    with pytest.raises(ConfigError, match=r"tokens never go in plugins\.toml"):
        parse_config({"server": {"auth_tokens": {"alice": ALICE}}})


@pytest.fixture
def secured(tmp_path: Path, db_path: Path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    env = subprocess_env(tmp_path, PLUGYARD_AUTH_TOKENS=f"alice={ALICE},bob={BOB}")
    with serving_http(config, tmp_path, env=env) as (base, proc):
        yield f"{base}/mcp", proc


async def test_requests_without_a_valid_token_are_refused(secured):
    url, _proc = secured
    async with httpx.AsyncClient() as http:
        missing = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        wrong = await http.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": "Bearer not-a-token-at-all-really"},
        )
    assert missing.status_code == 401 and "Bearer" in missing.headers.get("www-authenticate", "")
    assert wrong.status_code == 401


async def test_each_callers_identity_becomes_the_user_of_its_records(secured, db_path, tmp_path):
    from tests.conftest import query

    url, proc = secured
    for token in (ALICE, BOB):
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                result = await client.call_tool("whoami", {})
                assert not result.is_error
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    stderr = server_log(tmp_path)
    assert ALICE not in stderr and BOB not in stderr
    stored = await query(f"sqlite+aiosqlite:///{db_path}", "SELECT user_id FROM tool_call ORDER BY id")
    assert [r["user_id"] for r in stored] == ["alice", "bob"]


def test_binding_beyond_loopback_is_allowed_once_tokens_exist(tmp_path, db_path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugyard",
            "--config",
            str(config),
            "serve",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3 and "give users bearer tokens" in result.stderr


async def test_the_401_advertises_no_authorization_server(tmp_path, db_path):
    # Bound to every address, as an operator behind a proxy would: the old answer pointed clients at
    # protected-resource metadata naming "http://0.0.0.0:PORT" as their authorization server.
    config = write_config(tmp_path / "plugins.toml", db_path)
    env = subprocess_env(tmp_path, PLUGYARD_AUTH_TOKENS=f"alice={ALICE}")
    with serving_http(config, tmp_path, env=env, args=["--host", "0.0.0.0"]) as (base, _proc):
        async with httpx.AsyncClient() as http:
            refused = await http.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            metadata = await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")
            authorization = await http.get(f"{base}/.well-known/oauth-authorization-server")
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata" not in challenge and "0.0.0.0" not in challenge
    assert metadata.status_code == 404 and authorization.status_code == 404
