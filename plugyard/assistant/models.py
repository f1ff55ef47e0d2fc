"""The assistant's tables: one row per workflow run (with its checkpoint) and one per action card.

Imported by ``models.py`` so that the one ``metadata`` holds every table the migrations create.
``tool_call.workflow_run_id`` holds a run's ``run_id`` for the calls its steps made.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class WorkflowRunRecord(SQLModel, table=True):
    """One workflow run: what ran, how it ended, and the checkpoint to resume it from."""

    __tablename__ = "workflow_run"
    __table_args__ = (
        sa.Index("ix_workflow_run_user_created", "user_id", "created_at"),
        sa.Index("ix_workflow_run_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: str = Field(max_length=255)
    session_id: str | None = Field(default=None, max_length=255)
    workflow: str = Field(max_length=128)
    plugin_name: str = Field(max_length=255)
    intent: str | None = Field(default=None, max_length=64)
    message: str = Field(sa_type=sa.Text)
    status: str = Field(max_length=32)
    """running, succeeded, failed, step_limit, interrupted or input_required."""
    steps: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    """One entry per step taken: name, duration, the tools it called, its error."""
    step_count: int = 0
    next_step: str | None = Field(default=None, max_length=128)
    """The checkpoint: the step to run next when the run is resumed (None once it ended)."""
    state: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    error_type: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    duration_ms: float | None = None
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ActionCardRecord(SQLModel, table=True):
    """One action card a user can act on; listed and completed per user."""

    __tablename__ = "action_card"
    __table_args__ = (
        sa.Index("ix_action_card_user_status", "user_id", "status"),
        sa.Index("ix_action_card_user_updated", "user_id", "updated_at"),
        # One open card per user, kind and normalised title (0006): a repeat refreshes it.
        sa.Index(
            "ux_action_card_open_title",
            "user_id",
            "kind",
            "title_key",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    card_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: str = Field(max_length=255)
    workflow_run_id: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=200)
    title_key: str | None = Field(default=None, max_length=200)
    """``assistant.cards.normalise_title(title)``; None only on open duplicates stored before 0006."""
    description: str = Field(sa_type=sa.Text)
    kind: str = Field(max_length=32)
    estimated_minutes: int
    priority: str = Field(max_length=16)
    due_date: date | None = None
    suggested_tool: str | None = Field(default=None, max_length=64)
    origin: str = Field(max_length=16)
    """Where the card came from: workflow, model or fallback."""
    status: str = Field(max_length=16)
    """open or done."""
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    """When the card was stored or last refreshed by a repeat of it (the order cards are listed in)."""
    completed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


workflow_run_table: sa.Table = WorkflowRunRecord.__table__  # type: ignore[attr-defined]
action_card_table: sa.Table = ActionCardRecord.__table__  # type: ignore[attr-defined]
