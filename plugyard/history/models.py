"""The history tables. Created only by the Alembic migrations in ``plugyard/migrations``;
a test checks that these models and the migrations never drift apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ToolCallRecord(SQLModel, table=True):
    """One row a plugin tool call: the study assistant's ``user_tool_history``."""

    __tablename__ = "tool_call"
    __table_args__ = (
        # Of the study assistant's six indexes (0001), ix_tool_call_success was dropped by 0004 (no query
        # used it), and user_id, (user_id, created_at) and tool_name by 0005: each leads a wider index
        # below, which serves the same lookups, and every insert paid for all of them.
        sa.Index("ix_tool_call_created_at", "created_at"),
        sa.Index("ix_tool_call_metrics", "tool_name", "success", "execution_time_ms"),
        # 0002: a user's window (success rate, statistics, one tool or all) is read from the index alone.
        sa.Index(
            "ix_tool_call_user_time_cover",
            "user_id",
            "created_at",
            "tool_name",
            "success",
            "execution_time_ms",
            "error_type",
        ),
        # 0002: a user's recent failures, newest first, without walking their successes.
        sa.Index(
            "ix_tool_call_user_failures",
            "user_id",
            "created_at",
            sqlite_where=sa.text("NOT success"),
            postgresql_where=sa.text("NOT success"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    """Unique per call, so a batch written twice (after a retry) never duplicates a row."""
    user_id: str = Field(max_length=255)
    session_id: str | None = Field(default=None, max_length=255)
    tool_name: str = Field(max_length=64)
    plugin_name: str = Field(max_length=255)
    arguments: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    success: bool
    error_type: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, sa_type=sa.Text)
    execution_time_ms: float
    result_size: int | None = None
    satisfaction: int | None = None
    intent: str | None = Field(default=None, max_length=64)
    workflow_run_id: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=255)
    """The upstream MCP server that answered (0010), for tools registered with a ``source``."""
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


tool_call_table: sa.Table = ToolCallRecord.__table__  # type: ignore[attr-defined]

# The rollups the read side and the learner use (tool_daily, user_tool_stats, call_feedback ...) live in
# their own module; importing it here puts them in the metadata the migrations are checked against.
from plugyard.history import rollup_models as _rollup_models  # noqa: E402, F401

metadata = SQLModel.metadata
