"""Quick tasks are answered by the tool that can, through the pipeline; otherwise only tools that fit
with confidence are suggested, never the history's or the assistant's own."""

from __future__ import annotations

from typing import Any

import pytest

from plugyard import hookimpl
from tests.conftest import query

pytestmark = pytest.mark.anyio


async def assist(host: Any, message: str, **arguments: Any) -> Any:
    outcome = await host.call_tool("assist", {"message": message, **arguments}, user_id="ada")
    assert outcome.success, outcome.error_message
    return outcome.result.structured


@pytest.mark.parametrize(
    ("message", "tool", "text"),
    [
        ("what is 2+2*3", "calculate", "2+2*3 = 8"),
        ("2+2*3等于多少", "calculate", "2+2*3 = 8"),
        ("what is 20% of 150", "calculate", "(20 / 100 * 150) = 30"),
        ("3的4次方是多少", "calculate", "3**4 = 81"),
        ("Convert 5 miles to kilometers", "convert_units", "5 mi = 8.04672 km"),
        ("30摄氏度等于多少华氏度", "convert_units", "30 °C = 86 °F"),
        ("search my notes for recursion", "search_notes", "- recursion.md: Recursion"),
        ("列出我的笔记", "list_notes", "- calculus.md\n- indexerror.md\n- recursion.md"),
        ("open note calculus.md", "read_note", "Calculus\n\n# Calculus"),
    ],
)
async def test_a_quick_task_is_answered_by_the_tool_that_can(assistant_host, db_url, message, tool, text):
    async with assistant_host() as host:
        out = await assist(host, message)
    assert out.intent.intent == "quick_task", out.intent
    assert out.answer is not None and out.answer.tool == tool and out.answer.success
    assert out.answer.text.startswith(text)
    assert out.planned_by == "tool" and out.cards == [] and out.suggestions == []
    [row] = await query(
        db_url, "SELECT tool_name, intent, user_id FROM tool_call WHERE call_id = :c", c=out.answer.call_id
    )
    assert row == {"tool_name": tool, "intent": "quick_task", "user_id": "ada"}


async def test_a_traceback_asked_as_a_quick_task_is_diagnosed(assistant_host):
    # Below every intent's confidence, a message with an error in it still gets the diagnosis tool's answer.
    async with assistant_host(quick_task_threshold=0.99) as host:
        out = await assist(host, "NameError: name 'qty' is not defined")
    assert out.answer is not None and out.answer.tool == "parse_traceback"
    assert out.answer.text.startswith("NameError: name 'qty' is not defined")


async def test_the_tools_error_is_the_answer_when_it_cannot(assistant_host):
    async with assistant_host() as host:
        out = await assist(host, "convert 5 parsecs to km")
    assert out.answer is not None and out.answer.success is False
    assert out.answer.text.startswith("convert_units: ") and "parsec" in out.answer.text


async def test_with_no_tool_that_fits_nothing_is_suggested(assistant_host):
    async with assistant_host() as host:
        out = await assist(host, "derivative of x^2")
    assert out.answer is None and out.suggestions == [] and out.suggested_tool is None
    # history and assistant tools are never suggested, and no card names a tool
    assert all(card.suggested_tool is None for card in out.cards)


async def test_suggestions_are_confident_tools_with_a_capability(assistant_host):
    # Nothing to compute in it, but the calculate capability's cue fires: suggested, not answered.
    async with assistant_host(quick_task_threshold=0.99) as host:
        out = await assist(host, "calculate the tip for our dinner")
    assert [s.name for s in out.suggestions] == ["calculate"] and out.suggestions[0].confidence == 0.8
    names = {s.name for s in out.suggestions}
    assert not names & {"preferred_tools", "tool_stats", "recommend_tools", "assist", "list_action_cards"}
    assert out.cards[0].suggested_tool == "calculate"


class Abacus:
    """A third party's tool declaring the calculate capability (as an upstream server's could)."""

    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def abacus(expression: str) -> dict[str, Any]:
            """Counts beads."""
            return {"expression": expression, "text": "eight beads"}

        register(abacus, capabilities=["calculate"])


async def test_the_answer_goes_by_capability_not_by_plugin(assistant_host):
    async with assistant_host(extra={"calculator": Abacus()}) as host:
        out = await assist(host, "what is 2+2*3")
    assert out.answer is not None and out.answer.tool == "abacus" and out.answer.text == "2+2*3 = eight beads"
