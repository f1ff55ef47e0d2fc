"""Decisions are evidence: each decision's id, policy version and propensity are stored with the call
it led to, and `plugyard history evaluate` estimates another setting from them, as an operator runs it."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

from plugyard import Run, hookimpl
from plugyard.cli import main
from plugyard.core.config import parse_config
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.rollups import write_calls
from plugyard.history.service import open_service
from tests.conftest import is_postgres, query, upgrade_to_head


def adder(a: int, b: int = 0) -> int:
    """Adds."""
    return a + b


def summer(a: int, b: int = 0) -> int:
    """Also adds."""
    return a + b


class Adders:
    @hookimpl
    def register_tools(self, register: Any) -> None:
        register(adder, capabilities=["adding"])
        register(summer, capabilities=["adding"])


@pytest.mark.anyio
async def test_each_chosen_call_is_stored_with_its_decision_id_policy_and_propensity(running_host, db_url):
    async with running_host(extra={"adders": Adders()}) as host:
        plugin = host.pm.get_plugin("history")
        assert isinstance(plugin, HistoryPlugin)
        run = Run(host=host, run_id="r1", user_id="ada", session_id=None, intent=None, workflow="w", progress=None)
        for _ in range(3):
            assert await run.call("adding", {"a": 2, "b": 3}) == 5
        await host.pipeline.call("adder", {"a": 1}, user_id="ada")  # called directly: no decision behind it
        decisions = list(plugin.router.decisions)
        calls = await plugin.recorded_calls()
        await plugin.flush_evidence()
    rows = await query(db_url, "SELECT * FROM decision_evidence ORDER BY decided_at")
    assert len(rows) == 3 and len(calls) == 4
    by_call = {c["call_id"]: c for c in calls}
    for row, decision in zip(rows, decisions, strict=True):
        assert row["decision_id"] == decision.decision_id
        assert row["policy_version"] == decision.policy_version
        assert row["propensity"] == pytest.approx(decision.propensity)
        assert by_call[row["call_id"]]["tool_name"] == decision.chosen == row["chosen"]
        candidates = row["candidates"] if isinstance(row["candidates"], list) else json.loads(row["candidates"])
        assert sorted(candidates) == ["adder", "summer"]


@pytest.fixture
def config_file(tmp_path, db_url):
    if is_postgres(db_url):
        upgrade_to_head(db_url)
    path = tmp_path / "plugins.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n[plugins]\ndisabled = ["notes"]\n', encoding="utf-8")
    return path


def uniform_log(db_url: str, n: int) -> None:
    """A logging policy choosing uniformly between a (90% success) and b (50%)."""
    rng = random.Random(9)
    start = datetime.now(UTC) - timedelta(minutes=n + 5)
    calls, evidence = [], []
    for i in range(n):
        tool = rng.choice(["a", "b"])
        call_id, at = str(uuid.uuid4()), start + timedelta(minutes=i)
        ok = rng.random() < (0.9 if tool == "a" else 0.5)
        calls.append(
            {
                "call_id": call_id,
                "user_id": f"u{i % 10}",
                "session_id": None,
                "tool_name": tool,
                "plugin_name": "p",
                "arguments": {},
                "success": ok,
                "error_type": None if ok else "ToolFailed",
                "error_message": None,
                "execution_time_ms": 5.0,
                "result_size": None,
                "satisfaction": None,
                "intent": None,
                "workflow_run_id": None,
                "created_at": at,
            }
        )
        evidence.append(
            {
                "call_id": call_id,
                "decision_id": str(uuid.uuid4()),
                "policy_version": "uniform",
                "propensity": 0.5,
                "user_id": f"u{i % 10}",
                "intent": None,
                "chosen": tool,
                "candidates": ["a", "b"],
                "decided_at": at,
            }
        )

    async def fill() -> None:
        async with open_service(parse_config({"database": {"url": db_url}})) as service:
            async with service.engine.begin() as connection:
                await write_calls(connection, calls)
            assert await service.record_decisions(evidence) == n

    anyio.run(fill)


def evaluate_cli(config_file, *args: str):
    arguments = ["--config", str(config_file), "history", "evaluate", *args]
    return CliRunner().invoke(main, arguments, catch_exceptions=False)


def test_history_evaluate_finds_the_router_significantly_better_than_a_uniform_log(config_file, db_url):
    uniform_log(db_url, 1500)
    result = evaluate_cli(config_file, "--json", "--exploration", "0.5")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["decisions"] == 1500 and found["setting"]["exploration"] == 0.5
    assert found["logged_value"] == pytest.approx(0.7, abs=0.04)
    assert found["significant"] and found["difference"] > 0.1 and "better" in found["verdict"]
    text = evaluate_cli(config_file, "--exploration", "0.5").output
    assert "1500 logged decision(s)" in text and "significantly better" in text
    bad = evaluate_cli(config_file, "--exploration", "0")
    assert bad.exit_code == 2 and "--exploration" in bad.output


def test_history_evaluate_without_decisions_says_so(config_file, db_url):
    async def one_call() -> None:
        async with open_service(parse_config({"database": {"url": db_url}})) as service:
            await service.record_tool_execution("ada", "calc", True, 2.0)

    anyio.run(one_call)
    result = evaluate_cli(config_file)
    assert result.exit_code == 0 and "no logged decisions to evaluate" in result.output
