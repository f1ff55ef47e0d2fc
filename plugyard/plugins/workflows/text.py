"""What the workflows share: the request as the caller read it, note lookups, the model's note."""

from __future__ import annotations

from datetime import date
from typing import Any

from plugyard import Run, WorkflowState, detect_language


def subject(state: WorkflowState) -> str:
    """The request's topic, or the start of the message when the caller read none."""
    return state.request.topic or " ".join(state.message.split())[:60]


def is_chinese(state: WorkflowState) -> bool:
    if state.request.topic:
        return state.request.language == "zh"
    return detect_language(state.message) == "zh"


def today_of(state: WorkflowState) -> date:
    return state.request.today or date.today()


def request_lines(state: WorkflowState, kind: str) -> str:
    """The request's fields, for a model's prompt (worded from the state alone: a retry asks the same)."""
    request = state.request
    return (
        f"Request: {state.message}\n"
        f"Topic: {subject(state)}\n"
        f"Goal: {request.goal or subject(state)}\n"
        f"Kind: {kind}\n"
        f"Deadline: {request.deadline.isoformat() if request.deadline else 'none'}"
        f" (today is {today_of(state).isoformat()})\n"
        f"Level: {request.level or 'not stated'}\n"
        f"Language: {'Chinese' if is_chinese(state) else 'English'} (write in it)"
    )


def note_query(topic: str) -> str:
    """search_notes wants every word to match: the most telling single word of the topic."""
    if detect_language(topic) == "zh":
        return topic[:4]
    words = sorted(topic.split(), key=len, reverse=True)
    return words[0].lower() if words else topic


async def find_notes(run: Run, topic: str) -> list[dict[str, Any]]:
    query = note_query(topic)
    if not query.strip() or not run.has_capability("search_notes"):
        return []
    found = await run.call("search_notes", {"query": query, "limit": 5}, required=False)
    return [{"path": n["path"], "title": n["title"], "snippet": n["snippet"]} for n in found or []]
