"""The history plugin's built-in resources show the reader's own calls, statistics and workflow runs
with their cards, and nobody else's: over an in-memory session in both protocol versions (the user
is the server's default user) and over HTTP with bearer tokens (the user is the token's)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import plugyard
from plugyard.assistant.store import WorkflowStore
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.mcp_server.server import PlugyardServer
from tests.conftest import serving_http, subprocess_env, write_config

pytestmark = pytest.mark.anyio

RECENT, STATS, RUNS = "plugyard://history/recent", "plugyard://history/stats", "plugyard://workflows/runs"


class Echo:
    @plugyard.hookimpl
    def register_tools(self, register: Any) -> None:
        def echo(text: str) -> str:
            """Say it back."""
            return text

        register(echo)


async def read_json(client: Client, uri: str) -> Any:
    return json.loads((await client.read_resource(uri)).contents[0].text)


async def seed_run(db_url: str, user: str, run_id: str, card_title: str) -> None:
    """A finished workflow run with one card, as the assistant stores them."""
    store = await WorkflowStore.open(db_url)
    try:
        await store.start_run(
            run_id=run_id,
            user_id=user,
            session_id=None,
            workflow="ErrorDiagnosis",
            plugin_name="workflows",
            intent="error_diagnosis",
            message=f"{user}'s build fails",
            next_step="parse",
            state={"secret": "engine state"},
        )
        await store.finish_run(run_id, status="succeeded", steps=[{"name": "parse"}], state={}, duration_ms=3.0)
        card = {
            "title": card_title,
            "description": "Do it",
            "kind": "practice",
            "priority": "high",
            "estimated_minutes": 10,
        }
        await store.add_cards(user, [card], workflow_run_id=run_id, origin="workflow")
    finally:
        await store.close()


@asynccontextmanager
async def client_of(db_url: str, user: str, mode: str) -> AsyncIterator[Client]:
    config = parse_config(
        {
            "database": {"url": db_url},
            "plugins": {"history": {"flush_interval": 0.05}},
            "server": {"default_user": user},
        }
    )
    host = PluginHost(config, strict=True, entry_points=False, plugins={"history": HistoryPlugin(), "echo": Echo()})
    async with host.running(), Client(PlugyardServer(host), mode=mode) as client:
        yield client


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_each_reader_sees_only_their_own_history_and_runs(tmp_path, db_path, mode):
    db_url = f"sqlite+aiosqlite:///{db_path}"
    async with AsyncExitStack() as stack:
        # Two servers on one database, as two users' desktop clients would run them.
        alice = await stack.enter_async_context(client_of(db_url, "alice", mode))
        bob = await stack.enter_async_context(client_of(db_url, "bob", mode))
        await seed_run(db_url, "alice", "run-a", "Read the traceback")
        await seed_run(db_url, "bob", "run-b", "Bob's card")
        for text in ("one", "two"):
            assert not (await alice.call_tool("echo", {"text": text})).is_error
        assert not (await bob.call_tool("echo", {"text": "bob's secret"})).is_error
        listed = {str(r.uri) for r in (await alice.list_resources()).resources}
        alice_recent = await read_json(alice, RECENT)
        bob_recent = await read_json(bob, RECENT)
        alice_stats = await read_json(alice, STATS)
        alice_runs = await read_json(alice, RUNS)
        bob_runs = await read_json(bob, RUNS)
    assert {RECENT, STATS, RUNS} <= listed
    assert [(c["tool_name"], c["arguments"]) for c in alice_recent["calls"]] == [
        ("echo", {"text": "two"}),
        ("echo", {"text": "one"}),
    ]
    assert [c["arguments"] for c in bob_recent["calls"]] == [{"text": "bob's secret"}]
    assert alice_recent["user_id"] == "alice" and all(c["success"] is True for c in alice_recent["calls"])
    [echo_stats] = alice_stats["tools"]
    assert (echo_stats["tool_name"], echo_stats["calls"], echo_stats["success_rate"]) == ("echo", 2, 1.0)
    assert all("global_calls" not in p for p in alice_stats["preferred"])
    [run] = alice_runs["runs"]
    assert (run["run_id"], run["status"], run["message"]) == ("run-a", "succeeded", "alice's build fails")
    assert "state" not in run
    assert [c["title"] for c in run["cards"]] == ["Read the traceback"]
    assert [r["run_id"] for r in bob_runs["runs"]] == ["run-b"]
    assert "Bob's card" not in json.dumps(alice_runs) and "bob's secret" not in json.dumps(alice_recent)


async def test_a_resource_asking_for_its_reader_gets_it_and_is_not_a_template(plugyard_config):
    seen: list[plugyard.ResourceContext] = []

    class WhoAmI:
        @plugyard.hookimpl
        def register_resources(self, register: Any) -> None:
            def me(reader: plugyard.ResourceContext) -> str:
                seen.append(reader)
                return reader.user_id

            def mine(name: str, reader: plugyard.ResourceContext) -> str:
                return f"{reader.user_id}/{name}"

            register(me, uri="who://me")
            register(mine, uri="who://things/{name}")

    host = PluginHost(plugyard_config, entry_points=False, plugins={"who": WhoAmI()})
    async with host.running(), Client(PlugyardServer(host), mode="legacy") as client:
        me = (await client.read_resource("who://me")).contents[0].text
        thing = (await client.read_resource("who://things/pen")).contents[0].text
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
    user = plugyard_config.default_user
    assert me == user and thing == f"{user}/pen" and templates == ["who://things/{name}"]
    assert seen[0].session_id is not None


ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef-xyz"


@pytest.fixture
def secured(tmp_path: Path, db_path: Path) -> Iterator[str]:
    """`plugyard serve --transport http` with alice's and bob's bearer tokens; yields its base URL."""
    config = write_config(tmp_path / "plugins.toml", db_path)
    env = subprocess_env(tmp_path, PLUGYARD_AUTH_TOKENS=f"alice={ALICE},bob={BOB}")
    with serving_http(config, tmp_path, env=env) as (base, _proc):
        yield base


@pytest.mark.e2e
async def test_over_http_the_token_decides_whose_history_a_resource_shows(secured):
    seen: dict[str, Any] = {}
    for user, token in (("alice", ALICE), ("bob", BOB)):
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
            async with Client(streamable_http_client(f"{secured}/mcp", http_client=http)) as client:
                await client.call_tool("add", {"a": 1, "b": len(user)})
                seen[user] = await read_json(client, RECENT)
    assert [(c["tool_name"], c["arguments"]) for c in seen["alice"]["calls"]] == [("add", {"a": 1, "b": 5})]
    assert [(c["tool_name"], c["arguments"]) for c in seen["bob"]["calls"]] == [("add", {"a": 1, "b": 3})]
