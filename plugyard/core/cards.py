"""Action cards: what every workflow run ends with, and the rule that it always does.

Enforcement (``enforce_cards``), in order:

1. the cards the workflow produced, each validated against ``ActionCard``; the valid ones are kept;
2. when none is valid: the language model is asked for cards as structured output, validated;
3. when there is no model, or its answer does not validate: a deterministic card built from the
   run's state by the workflow (``Workflow.fallback_card``), itself validated, else a generic one.

So every run ends with at least one valid card, and invalid model output never reaches the user.
``InputRequired`` from step 2 is let through; the prompt is built from the request and the run's
summary only (see docs/architecture.md, "Input required").
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from plugyard.core import llm

log = logging.getLogger("plugyard.cards")

CardKind = Literal["task", "study", "review", "practice", "fix", "explore", "tool"]
Priority = Literal["low", "medium", "high"]
Origin = Literal["workflow", "model", "fallback"]


class ActionCard(BaseModel):
    """One thing the user can do next."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    kind: CardKind = "task"
    estimated_minutes: int = Field(default=25, ge=1, le=24 * 60)
    priority: Priority = "medium"
    due_date: date | None = None
    suggested_tool: str | None = Field(default=None, max_length=64)
    """A tool (by name) that helps with this card."""
    source_run_id: str | None = Field(default=None, max_length=64)
    """The workflow run the card came from."""

    @field_validator("title", "description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class _ModelCards(BaseModel):
    """The structured output asked of the model."""

    cards: list[ActionCard] = Field(min_length=1, max_length=6)


@dataclasses.dataclass(slots=True)
class EnforcedCards:
    cards: list[ActionCard]
    origin: Origin
    rejected: int = 0
    """How many cards the workflow produced that did not validate."""


def validate_cards(
    produced: Iterable[Any], *, known_tools: Callable[[str], bool] | None = None
) -> tuple[list[ActionCard], int]:
    """The valid cards among ``produced`` (ActionCards or dicts), and how many were rejected.
    A suggested tool that does not exist is dropped from the card, not the card itself."""
    valid: list[ActionCard] = []
    rejected = 0
    for item in produced:
        try:
            card = item if isinstance(item, ActionCard) else ActionCard.model_validate(item)
        except (ValidationError, TypeError) as exc:
            rejected += 1
            log.info("rejected an action card: %s", str(exc).splitlines()[0])
            continue
        if card.suggested_tool and known_tools is not None and not known_tools(card.suggested_tool):
            card = card.model_copy(update={"suggested_tool": None})
        valid.append(card)
    return valid, rejected


def generic_card(message: str, *, workflow: str | None) -> ActionCard:
    subject = " ".join(message.split())[:80] or "your request"
    return ActionCard(
        title=f"Next step: {subject}"[:200],
        description=f"Take 25 focused minutes on: {subject}. Write down what is still unclear and ask again.",
        kind="task",
        estimated_minutes=25,
        priority="medium",
    )


async def enforce_cards(
    produced: Iterable[Any],
    *,
    run_id: str | None,
    message: str,
    workflow: str | None,
    state_summary: dict[str, Any],
    fallback: Callable[[], Any] | None = None,
    known_tools: Callable[[str], bool] | None = None,
    asked: str = "Someone asked for help:",
) -> EnforcedCards:
    """At least one valid card for a run: the workflow's, else the model's, else a deterministic one.
    ``asked`` opens the model's prompt: who asked whom (the caller's persona, if it has one).

    Raises ``InputRequired`` only when the client's model was asked (see docs/architecture.md, "Input required")."""
    cards, rejected = validate_cards(produced, known_tools=known_tools)
    origin: Origin = "workflow"
    if not cards:
        cards, origin = await _from_model(message, workflow, state_summary, known_tools, asked), "model"
    if not cards:
        origin = "fallback"
        built: Any = None
        if fallback is not None:
            try:
                built = fallback()
            except Exception:
                log.exception("fallback_card of workflow %r failed; using a generic card", workflow)
        cards, _ = validate_cards([built] if built is not None else [], known_tools=known_tools)
        if not cards:
            cards = [generic_card(message, workflow=workflow)]
    cards = [card.model_copy(update={"source_run_id": run_id}) for card in cards]
    return EnforcedCards(cards=cards, origin=origin, rejected=rejected)


async def _from_model(
    message: str,
    workflow: str | None,
    state: dict[str, Any],
    known_tools: Callable[[str], bool] | None,
    asked: str,
) -> list[ActionCard]:
    if llm.backend() is None:
        return []
    prompt = (
        f"{asked}\n"
        f"{message}\n\n"
        f"The workflow {workflow or 'none'} ran; what it found:\n"
        f"{json.dumps(state, ensure_ascii=False, default=str)[:6000]}\n\n"
        "Write one to four concrete action cards they can act on next, in the language of their request. "
        "kind is one of task, study, review, practice, fix, explore, tool; priority is low, medium or high; "
        "due_date is YYYY-MM-DD or null."
    )
    answer = await llm.structured(prompt, _ModelCards, name="action_cards")
    if answer is None:
        return []
    cards, _ = validate_cards(answer.cards, known_tools=known_tools)
    return cards
