"""Per-user isolation over streamable HTTP with bearer tokens: every history and action-card tool, and
every resource that shows history, answers for the caller only; nobody rates, completes or resumes
another user's call, card or run by its id."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from plugyard.mcp_server.server import CALL_ID_META
from tests.conftest import query, serving_http, subprocess_env, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

TOKENS = {"alice": "alice-token-0123456789abcdef", "bob": "bob-token-0123456789abcdef-xyz"}
# Every tool that shows or changes per-user data (`plugyard tools --json`), and every resource showing history.
USER_TOOLS = {
    "tool_stats",
    "preferred_tools",
    "recent_failures",
    "rate_tool_call",
    "recommend_tools",
    "search_tools",
    "list_action_cards",
    "complete_action_card",
    "resume_workflow",
}
USER_RESOURCES = ["plugyard://history/recent", "plugyard://history/stats", "plugyard://workflows/runs"]
TASK = "Break down building a web scraper into steps: fetch pages, parse HTML, store results"


@pytest.fixture
def server(tmp_path: Path, db_path: Path) -> Iterator[str]:
    config = write_config(tmp_path / "plugins.toml", db_path)
    env = subprocess_env(tmp_path, PLUGYARD_AUTH_TOKENS=",".join(f"{u}={t}" for u, t in TOKENS.items()))
    env.pop("ANTHROPIC_API_KEY", None)  # the assistant's deterministic path: no model, the same cards every time
    with serving_http(config, tmp_path, env=env) as (base, proc):
        yield f"{base}/mcp"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


class Session:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, name: str, args: dict[str, Any] | None = None) -> Any:
        result = await self.client.call_tool(name, args or {})
        return result

    async def ok(self, name: str, args: dict[str, Any] | None = None) -> Any:
        result = await self.call(name, args)
        assert not result.is_error, result.content
        return result

    async def resource(self, uri: str) -> str:
        return str((await self.client.read_resource(uri)).contents[0].text)


def as_user(url: str, user: str) -> Any:
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKENS[user]}"}, timeout=60)
    return http, Client(streamable_http_client(url, http_client=http))


async def test_every_history_and_card_tool_and_resource_shows_only_the_callers_own_data(server, db_path):
    activity: dict[str, dict[str, Any]] = {}
    # Each user leaves a trail the other must never see: distinct tools, failures and messages.
    trails = {
        "alice": [("add", {"a": 1, "b": 2}), ("explode", {"message": "alice-private-failure"})],
        "bob": [("login", {"username": "bob", "password": "hunter2"}), ("explode", {"message": "bob-private-failure"})],
    }
    for user in ("alice", "bob"):
        http, client = as_user(server, user)
        async with http, client:
            me = Session(client)
            listed = {t.name for t in (await client.list_tools()).tools}
            assert USER_TOOLS <= listed
            calls = [(await me.call(name, args)).meta[CALL_ID_META] for name, args in trails[user]]
            assisted = (await me.ok("assist", {"message": TASK})).structured_content
            assert assisted["cards"] and assisted["run_id"]
            activity[user] = {
                "calls": calls,
                "run_id": assisted["run_id"],
                "cards": [c["card_id"] for c in assisted["cards"]],
            }

    for me_name, other_name in (("alice", "bob"), ("bob", "alice")):
        other = activity[other_name]
        foreign = {f"{other_name}-private-failure", *other["calls"], other["run_id"], *other["cards"]}
        foreign_tool = "login" if other_name == "bob" else "add"
        http, client = as_user(server, me_name)
        async with http, client:
            me = Session(client)
            answers: dict[str, str] = {}
            answers["tool_stats"] = json.dumps((await me.ok("tool_stats")).structured_content)
            answers["recent_failures"] = json.dumps((await me.ok("recent_failures")).structured_content)
            answers["preferred_tools"] = json.dumps((await me.ok("preferred_tools")).structured_content)
            answers["recommend_tools"] = json.dumps((await me.ok("recommend_tools")).structured_content)
            answers["list_action_cards"] = json.dumps((await me.ok("list_action_cards")).structured_content)
            answers["search_tools"] = json.dumps((await me.ok("search_tools", {"query": "login"})).structured_content)
            for uri in USER_RESOURCES:
                answers[uri] = await me.resource(uri)
            for where, text in answers.items():
                leaked = [secret for secret in foreign if secret in text]
                assert leaked == [], f"{me_name} sees {other_name}'s {leaked} in {where}"
            # Their own data is there (the answers are not merely empty).
            assert f"{me_name}-private-failure" in answers["recent_failures"]
            assert all(card in answers["list_action_cards"] for card in activity[me_name]["cards"])
            assert activity[me_name]["run_id"] in answers["plugyard://workflows/runs"]
            stats = json.loads(answers["tool_stats"])["tools"]
            assert foreign_tool not in {s["tool_name"] for s in stats}
            for entry in (
                json.loads(answers["recommend_tools"])["tools"] + json.loads(answers["preferred_tools"])["tools"]
            ):
                assert "global_calls" not in entry
            preferred = json.loads(answers["preferred_tools"])["tools"]
            assert foreign_tool not in {e.get("tool", e.get("tool_name")) for e in preferred}

            # Acting on another user's ids by guessing them: refused, and nothing changes.
            rate = await me.call("rate_tool_call", {"call_id": other["calls"][0], "score": 1})
            complete = await me.call("complete_action_card", {"card_id": other["cards"][0]})
            resume = await me.call("resume_workflow", {"run_id": other["run_id"]})
            for refused in (rate, complete, resume):
                # The refusal may echo the id given, and tells nothing else about its owner.
                assert refused.is_error
                text = refused.content[0].text
                assert other_name not in text.replace(other["cards"][0], "").replace(other["run_id"], ""), text
            assert "no workflow run" in resume.content[0].text
            # Rating one's own call works.
            await me.ok("rate_tool_call", {"call_id": activity[me_name]["calls"][0], "score": 5})

    url = f"sqlite+aiosqlite:///{db_path}"
    feedback = await query(url, "SELECT call_id, user_id, score FROM call_feedback ORDER BY call_id")
    assert sorted((r["call_id"], r["user_id"], r["score"]) for r in feedback) == sorted(
        (activity[u]["calls"][0], u, 5) for u in ("alice", "bob")
    )
    cards = await query(url, "SELECT user_id, status FROM action_card")
    assert {r["status"] for r in cards} == {"open"}
    owners = await query(url, "SELECT DISTINCT user_id FROM tool_call")
    assert {r["user_id"] for r in owners} == {"alice", "bob"}
