"""Every workflow run ends with valid action cards: the workflow's, else the model's, else a
deterministic one. Invalid model output never reaches the user."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plugyard import ActionCard, Run, Workflow, WorkflowState, hookimpl, step
from plugyard.assistant.cards import enforce_cards
from tests.conftest import query

pytestmark = pytest.mark.anyio

GOOD_CARD = {"title": "Revise chapter 3", "description": "Re-do the exercises.", "kind": "study", "priority": "high"}


def workflow_plugin(cards: list[Any], *, fallback: dict[str, Any] | None = None) -> object:
    class Carded(Workflow):
        name = "Carded"
        intents = ("exam_preparation",)

        @step(start=True)
        async def only(self, state: WorkflowState, run: Run) -> dict[str, Any]:
            return {"cards": cards}

        def fallback_card(self, state: WorkflowState) -> dict[str, Any] | None:
            return fallback

    class Plugin:
        @hookimpl
        def register_workflows(self, register):  # type: ignore[no-untyped-def]
            register(Carded)

    return Plugin()


async def assist(host: Any, message: str = "help me prepare for my physics exam") -> Any:
    outcome = await host.call_tool("assist", {"message": message}, user_id="ada")
    assert outcome.success, outcome.error_message
    return outcome.result.structured


async def test_valid_workflow_cards_are_kept_and_stored(assistant_host, db_url):
    async with assistant_host(
        extra={"carded": workflow_plugin([GOOD_CARD])}, workflows={"exam_preparation": "Carded"}
    ) as host:
        result = await assist(host)
    assert result.cards_origin == "workflow"
    [card] = result.cards
    assert card.title == "Revise chapter 3" and card.workflow_run_id == result.run_id and card.status == "open"
    [row] = await query(db_url, "SELECT title, user_id, origin, workflow_run_id FROM action_card")
    assert row == {
        "title": "Revise chapter 3",
        "user_id": "ada",
        "origin": "workflow",
        "workflow_run_id": result.run_id,
    }


async def test_no_cards_and_no_model_give_the_workflows_deterministic_card(assistant_host):
    fallback = {"title": "Start revising", "description": "25 minutes on chapter 1."}
    plugin = workflow_plugin([], fallback=fallback)
    async with assistant_host(extra={"carded": plugin}, workflows={"exam_preparation": "Carded"}) as host:
        result = await assist(host)
    assert result.cards_origin == "fallback"
    assert [c.title for c in result.cards] == ["Start revising"]


async def test_invalid_cards_are_dropped_and_a_valid_fallback_replaces_them(assistant_host):
    invalid = [
        {"title": "", "description": "blank title"},
        {"title": "x", "description": "y", "estimated_minutes": -5},
        "?",
    ]
    # The workflow's own fallback is invalid too: the generic card still comes through.
    plugin = workflow_plugin(invalid, fallback={"title": "no description"})
    async with assistant_host(extra={"carded": plugin}, workflows={"exam_preparation": "Carded"}) as host:
        result = await assist(host)
    assert result.cards_origin == "fallback"
    [card] = result.cards
    assert card.title.startswith("Next step: help me prepare") and ActionCard.model_validate(
        {k: getattr(card, k) for k in ("title", "description", "kind", "estimated_minutes", "priority")}
    )


async def test_the_model_is_asked_for_cards_when_the_workflow_has_none(assistant_host, fake_anthropic):
    cards = [
        {"title": "Do past paper 2023", "description": "Timed, 90 minutes.", "kind": "practice", "priority": "high"}
    ]
    fake = fake_anthropic(
        lambda body: (
            [{"type": "tool_use", "id": "tu_1", "name": body["tools"][0]["name"], "input": {"cards": cards}}]
            if body.get("tools", [{}])[0].get("name") == "action_cards"
            else [{"type": "text", "text": "not needed"}]
        )
    )
    async with assistant_host(extra={"carded": workflow_plugin([])}, workflows={"exam_preparation": "Carded"}) as host:
        result = await assist(host)
    assert result.cards_origin == "model" and result.model == "anthropic"
    assert [c.title for c in result.cards] == ["Do past paper 2023"]
    asked = [r for r in fake.requests if r.get("tool_choice", {}).get("name") == "action_cards"]
    assert asked and "help me prepare for my physics exam" in asked[0]["messages"][0]["content"]


async def test_malformed_model_json_never_reaches_the_user(assistant_host, fake_anthropic):
    fake_anthropic(lambda body: [{"type": "text", "text": '{"cards": [{"title": "unterminated'}])
    async with assistant_host(extra={"carded": workflow_plugin([])}, workflows={"exam_preparation": "Carded"}) as host:
        result = await assist(host)
    assert result.cards_origin == "fallback"
    assert len(result.cards) == 1 and "unterminated" not in result.cards[0].title


async def test_model_cards_that_do_not_validate_are_refused(fake_anthropic):
    bad = {"cards": [{"title": "ok", "description": "ok", "priority": "urgent!!"}]}
    fake_anthropic(lambda body: [{"type": "tool_use", "id": "t", "name": "action_cards", "input": bad}])
    enforced = await enforce_cards([], run_id="r", message="m", workflow="W", state_summary={})
    assert enforced.origin == "fallback" and enforced.cards[0].source_run_id == "r"


async def test_with_no_model_at_all_every_run_still_ends_with_a_card():
    enforced = await enforce_cards([None, 3], run_id=None, message="   ", workflow=None, state_summary={})
    assert enforced.origin == "fallback" and enforced.rejected == 2
    assert enforced.cards[0].title == "Next step: your request"


async def test_a_suggested_tool_that_does_not_exist_is_dropped_not_the_card():
    card = {**GOOD_CARD, "suggested_tool": "teleport"}
    enforced = await enforce_cards(
        [card], run_id="r", message="m", workflow="W", state_summary={}, known_tools=lambda n: False
    )
    assert enforced.origin == "workflow" and enforced.cards[0].suggested_tool is None


async def test_cards_are_listed_and_completed_per_user(assistant_host):
    async with assistant_host() as host:
        mine = await assist(host, "I get IndexError: list index out of range in my loop")
        other = (await host.call_tool("assist", {"message": "帮我准备数学期末考试"}, user_id="bob")).result.structured
        listed = await host.call_tool("list_action_cards", {}, user_id="ada")
        assert {c.card_id for c in listed.result.cards} == {c.card_id for c in mine.cards}
        card_id = mine.cards[0].card_id
        done = await host.call_tool("complete_action_card", {"card_id": card_id}, user_id="ada")
        assert done.success and done.result.status == "done" and done.result.completed_at
        assert [
            c.card_id
            for c in (await host.call_tool("list_action_cards", {"status": "done"}, user_id="ada")).result.cards
        ] == [card_id]
        assert card_id not in {
            c.card_id
            for c in (await host.call_tool("list_action_cards", {"status": "open"}, user_id="ada")).result.cards
        }
        # bob can neither see nor complete ada's cards
        stolen = await host.call_tool("complete_action_card", {"card_id": card_id}, user_id="bob")
        assert not stolen.success and "no action card" in stolen.error_message
        bobs = await host.call_tool("list_action_cards", {}, user_id="bob")
        assert {c.card_id for c in bobs.result.cards} == {c.card_id for c in other.cards}
    assert json.dumps(listed.result.model_dump())  # JSON-ready
