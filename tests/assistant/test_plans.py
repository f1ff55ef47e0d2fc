"""Plans that read well and say what made them: templates around the clean topic with estimates that
fit the request, a Markdown block beside the structured result, and the model path (the Anthropic SDK
on a fake HTTP transport) with its honest fallback."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from mcp import Client

from plugyard.assistant.plugin import AssistantPlugin
from plugyard.mcp_server.server import PlugyardServer

pytestmark = pytest.mark.anyio

TODAY = date(2026, 12, 1)


def fixed_today() -> dict[str, object]:
    return {"assistant": AssistantPlugin(today=lambda: TODAY)}


async def assist(host: Any, message: str, **arguments: Any) -> Any:
    outcome = await host.call_tool("assist", {"message": message, **arguments}, user_id="ada")
    assert outcome.success, outcome.error_message
    return outcome.result


async def test_the_markdown_block_reads_as_the_plan(assistant_host):
    async with assistant_host(extra=fixed_today()) as host, Client(PlugyardServer(host)) as client:
        reply = await client.call_tool("assist", {"message": "I have a physics exam on December 20"})
        zh = await client.call_tool("assist", {"message": "我总是学不会递归，能帮我彻底搞懂吗"})
    text = reply.content[0].text
    out = reply.structured_content
    assert text.startswith("## Plan: physics\n\nGoal: pass the physics exam · Deadline: 2026-12-20\n")
    assert "1. Collect the syllabus, past papers and your notes for physics" in text
    assert f"Total: {out['result']['total_hours']} h" in text and "**Schedule**" in text
    assert "- [ ] **" in text and text.rstrip().endswith("_Planned by: templates_")
    assert out["request"] == {
        "topic": "physics", "goal": "pass the physics exam", "deadline": "2026-12-20", "level": None,
        "language": "en", "given": [],
    }  # fmt: skip
    zh_text = zh.content[0].text
    assert zh_text.startswith("## 学习路径: 递归\n\n目标: 真正理解递归 · 截止日期: 无")
    assert "第一级：递归" not in zh.structured_content["request"]["topic"] and "_生成方式: 模板_" in zh_text


@pytest.mark.parametrize(
    ("message", "low", "high"),
    [
        ("Break down my thesis into manageable tasks", 150, 600),
        ("I need to organize a birthday party for my son on Saturday", 2, 12),
        ("Help me study for my chemistry exam tomorrow", 2, 8),
        ("I have a chemistry exam in three weeks, help me prepare", 20, 45),
        ("帮我把毕业论文拆分成几个小任务", 150, 600),
    ],
)
async def test_estimates_fit_the_request(assistant_host, message, low, high):
    async with assistant_host(extra=fixed_today()) as host:
        out = (await assist(host, message)).structured
    assert low <= out.result["total_hours"] <= high, (out.request, out.result["total_hours"])
    assert all(card.estimated_minutes <= 120 for card in out.cards)  # a card is one sitting


async def test_given_arguments_win_over_the_reading(assistant_host):
    async with assistant_host(extra=fixed_today()) as host:
        out = (
            await assist(host, "help me with this", topic="organic chemistry", deadline="2026-12-10", level="beginner")
        ).structured
    assert out.request.topic == "organic chemistry" and out.request.deadline == "2026-12-10"
    assert out.request.given == ["topic", "deadline", "level"]


async def test_given_arguments_reach_the_workflow(assistant_host):
    async with assistant_host(extra=fixed_today()) as host:
        out = (
            await assist(host, "Help me prepare for my exam", topic="organic chemistry", deadline="2026-12-10")
        ).structured
    assert out.workflow == "TaskDecomposition" and out.request.given == ["topic", "deadline"]
    assert all("organic chemistry" in s["title"] for s in out.result["subtasks"][:2])
    assert max(item["until"] for item in out.result["schedule"]) <= "2026-12-10"


def plan_answer(subtasks: Any) -> Any:
    def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
        name = body["tools"][0]["name"]
        return [{"type": "tool_use", "id": "tu_1", "name": name, "input": {"subtasks": subtasks}}]

    return answer


async def test_the_model_plans_from_the_fields_read_and_is_named(assistant_host, fake_anthropic):
    subtasks = [{"title": "Revise mechanics", "minutes": 90}, {"title": "Past paper 2024", "minutes": 120}]
    fake = fake_anthropic(plan_answer(subtasks))
    async with assistant_host(extra=fixed_today()) as host:
        result = await assist(host, "I have a physics exam on December 20")
    out = result.structured
    assert out.planned_by == "model" and out.model == "anthropic" and out.model_note is None
    assert [s["title"] for s in out.result["subtasks"]] == ["Revise mechanics", "Past paper 2024"]
    prompt = fake.requests[0]["messages"][0]["content"]
    assert "Topic: physics\n" in prompt and "Deadline: 2026-12-20 (today is 2026-12-01)" in prompt
    assert "Kind: exam" in prompt and "Language: English" in prompt
    assert result.content[0].rstrip().endswith("_Planned by: the language model_")


async def test_an_invalid_plan_falls_back_to_the_template_and_says_so(assistant_host, fake_anthropic):
    fake_anthropic(plan_answer([{"title": "", "minutes": -3}]))
    async with assistant_host(extra=fixed_today()) as host:
        result = await assist(host, "I have a physics exam on December 20")
    out = result.structured
    assert out.planned_by == "template" and out.model is None
    assert out.model_note == "anthropic was asked for the plan but its answer did not validate: the templates were used"
    assert out.result["subtasks"][0]["title"] == "Collect the syllabus, past papers and your notes for physics"
    assert "did not validate" in result.content[0]


async def test_without_a_model_the_template_plans_and_no_model_is_named(assistant_host, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with assistant_host(extra=fixed_today()) as host:
        out = (await assist(host, "Break down my thesis into manageable tasks")).structured
    assert out.planned_by == "template" and out.model is None and out.model_note is None
