"""Action cards: the contract of what a workflow run ends with.

``ActionCard`` is what a workflow proposes (``WorkflowState.cards``) and what the caller validates;
the rule that every run ends with at least one valid card, and how cards are stored, belong to the
assistant (``plugyard/assistant/cards.py``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
