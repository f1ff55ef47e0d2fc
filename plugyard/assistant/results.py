"""What the assistant's tools return: their structured output (the MCP output schemas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Vote(BaseModel):
    classifier: str
    plugin: str
    intent: str
    confidence: float
    weight: float


class IntentVerdict(BaseModel):
    intent: str
    confidence: float
    language: Literal["en", "zh"]
    below_threshold: bool = Field(description="True when no intent was confident enough: treated as quick_task.")
    scores: dict[str, float]
    votes: list[Vote]


class StepCall(BaseModel):
    capability: str
    tool: str | None
    success: bool
    call_id: str | None = None
    error: str | None = None


class StepTaken(BaseModel):
    name: str
    duration_ms: float | None = None
    tools: list[StepCall]
    error: str | None = None


class Card(BaseModel):
    card_id: str
    title: str
    description: str
    kind: str
    estimated_minutes: int
    priority: str
    due_date: str | None
    suggested_tool: str | None
    status: str
    origin: str
    workflow_run_id: str | None
    created_at: str
    updated_at: str | None = Field(description="When the card was stored or last refreshed by a repeat of it.")
    completed_at: str | None
    refreshed: bool = Field(
        False, description="True when this request repeated an open card: the card was kept and refreshed."
    )


class CardPage(BaseModel):
    cards: list[Card] = Field(description="Newest (stored or refreshed) first.")
    total: int = Field(description="How many cards match, over all pages.")
    limit: int
    offset: int


class SuggestedTool(BaseModel):
    name: str
    description: str
    reason: str
    confidence: float = Field(description="How well the tool fits the request, 0 to 1; only confident ones are shown.")


class QuickAnswer(BaseModel):
    capability: str
    tool: str
    arguments: dict[str, Any]
    success: bool
    text: str = Field(description="The answer, worded for the user (or the tool's error).")
    result: Any = Field(None, description="The tool's own result.")
    call_id: str


class Request(BaseModel):
    """What was read from the message (or given as arguments, which win)."""

    topic: str
    goal: str
    deadline: str | None = Field(description="ISO date, or None when the request states none.")
    level: Literal["beginner", "intermediate", "advanced"] | None
    language: Literal["en", "zh"]
    given: list[str] = Field(description="The fields the caller passed as arguments instead of their reading.")


class AssistResult(BaseModel):
    intent: IntentVerdict
    request: Request
    collaboration: bool = Field(description="True when a workflow ran for this request.")
    workflow: str | None
    run_id: str | None
    status: str | None = Field(description="succeeded, failed or step_limit; None without a workflow.")
    steps: list[StepTaken]
    result: dict[str, Any] = Field(description="What the workflow found (its final state, summarised).")
    answer: QuickAnswer | None = Field(description="A quick task's answer, from the tool that gave it.")
    suggested_tool: SuggestedTool | None = Field(description="The best of `suggestions`, if any.")
    suggestions: list[SuggestedTool]
    cards: list[Card]
    cards_origin: Literal["workflow", "model", "fallback", "none"]
    planned_by: Literal["model", "template", "tool", "none"] = Field(
        description="What produced the plan: the language model, the templates, a tool's answer, or nothing."
    )
    model: str | None = Field(
        description="The language model whose answer is in this result (anthropic or sampling), else None."
    )
    model_note: str | None = Field(
        description="Set when a model was asked but its answer was not used, saying what was used instead."
    )
