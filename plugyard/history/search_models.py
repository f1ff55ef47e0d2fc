"""``search_event`` (migration 0007): one row per ``search_tools`` call, written once the search
is resolved (see ``plugyard.learning.search.sequences``): the query after redaction, the tools it
showed, and the calls that followed it in the same session.

Tool search's learnt associations are rebuilt from these rows at start-up, and each replica folds
in the rows the others write (polling ``recorded_at``), so nothing learnt lives only in memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class SearchEventRecord(SQLModel, table=True):
    __tablename__ = "search_event"
    __table_args__ = (
        sa.Index("ix_search_event_recorded_at", "recorded_at"),
        sa.Index("ix_search_event_user_created", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    search_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: str = Field(max_length=255)
    session_id: str | None = Field(default=None, max_length=255)
    query: str = Field(sa_type=sa.Text)
    """The query as searched, with secret-looking words redacted."""
    shown: list[str] = Field(sa_type=sa.JSON)
    """The tools the search returned, best first."""
    outcomes: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    """The calls that followed in the session: ``{"tool", "success" (true, false or null: not the
    tool's fault), "call_id"}``, in order."""
    called_tool: str | None = Field(default=None, max_length=64)
    """The first tool called after the search (None: nothing was called)."""
    hit: bool
    """A tool the search showed was then called successfully."""
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    """When the search ran."""
    recorded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    """When the row was written (what other replicas poll on)."""


search_event_table: sa.Table = SearchEventRecord.__table__  # type: ignore[attr-defined]
