"""Every assist ends with at least one valid action card, and a card a user already has open is not
added again.

Enforcement (``enforce_cards``), in order:

1. the cards the workflow produced, each validated against ``plugyard.ActionCard``; the valid ones
   are kept (a suggested tool that does not exist is dropped from its card);
2. when none is valid: the language model is asked for cards as structured output, validated;
3. when there is no model, or its answer does not validate: a deterministic card built from the
   run's state by the workflow (``Workflow.fallback_card``), itself validated, else a generic one.

Invalid model output never reaches the user. A question to the client's model may raise
``InputRequired`` (docs/architecture.md, "An assist request's journey"); it is let through, and the
prompt is built from the request and the run's summary only, so the retry asks the same question.

Two cards are the same card when they belong to the same user, have the same kind and the same
``title_key`` (``normalise_title``): the store keeps the open one and refreshes it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from plugyard.core import llm
from plugyard.core.cards import ActionCard, Origin

log = logging.getLogger("plugyard.assistant.cards")


class _ModelCards(BaseModel):
    """The structured output asked of the model."""

    cards: list[ActionCard] = Field(min_length=1, max_length=6)


@dataclasses.dataclass(slots=True)
class EnforcedCards:
    cards: list[ActionCard]
    origin: Origin
    rejected: int = 0
    """How many cards the workflow produced that did not validate."""


def normalise_title(title: str) -> str:
    """The key two titles share when they name the same card: case, width, punctuation and spacing
    do not count ("Use calculate!" and "use  Calculate" are one card; full-width and half-width punctuation alike)."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())[:200]


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
        if card.suggested_tool and (known_tools is None or not known_tools(card.suggested_tool)):
            card = card.model_copy(update={"suggested_tool": None})
        valid.append(card)
    return valid, rejected


def generic_card(message: str) -> ActionCard:
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
) -> EnforcedCards:
    """At least one valid card for a run: the workflow's, else the model's, else a deterministic one.

    Raises ``InputRequired`` only when the client's model was asked and its answer comes with the
    client's retry of the call (2026-07-28 sampling)."""
    cards, rejected = validate_cards(produced, known_tools=known_tools)
    origin: Origin = "workflow"
    if not cards:
        cards, origin = await _from_model(message, workflow, state_summary, known_tools), "model"
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
            cards = [generic_card(message)]
    cards = [card.model_copy(update={"source_run_id": run_id}) for card in cards]
    return EnforcedCards(cards=cards, origin=origin, rejected=rejected)


async def _from_model(
    message: str, workflow: str | None, state: dict[str, Any], known_tools: Callable[[str], bool] | None
) -> list[ActionCard]:
    if llm.backend() is None:
        return []
    prompt = (
        "A learner asked a study assistant:\n"
        f"{message}\n\n"
        f"The assistant ran the workflow {workflow or 'none'}; what it found:\n"
        f"{json.dumps(state, ensure_ascii=False, default=str)[:6000]}\n\n"
        "Write one to four concrete action cards the learner can act on next, in the learner's language. "
        "kind is one of task, study, review, practice, fix, explore, tool; priority is low, medium or high; "
        "due_date is YYYY-MM-DD or null."
    )
    answer = await llm.structured(prompt, _ModelCards, name="action_cards")
    if answer is None:
        return []
    cards, _ = validate_cards(answer.cards, known_tools=known_tools)
    return cards
