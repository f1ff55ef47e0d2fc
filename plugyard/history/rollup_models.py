"""The read side's tables: rollups the recorder maintains in the same transaction as each batch,
and the satisfaction feedback given on calls. Created by migration 0002.

- ``tool_daily``: per tool per UTC day: calls, successes, latency sum and maximum, and a latency
  histogram (``lat_00`` .. ``lat_23``, bounds in ``LATENCY_BOUNDS_MS``) so percentiles come from here.
- ``tool_error_daily``: failures per tool, day and error type (the "top errors").
- ``user_tool_stats``: per (user, intent, tool): plain counters plus the learner's time-discounted
  counters (see ``plugyard.learning.router.decay_weight``) and the satisfaction given.
- ``call_feedback``: one rating (1-5, with a comment) per call; the call's row itself stays untouched.

Every rollup equals the same aggregate computed from the raw ``tool_call`` rows (a property test).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1,
    2,
    3,
    5,
    8,
    13,
    20,
    30,
    50,
    80,
    130,
    200,
    300,
    500,
    800,
    1300,
    2000,
    3000,
    5000,
    8000,
    13000,
    20000,
    60000,
)
"""Upper bounds (inclusive, ms) of the first 23 latency buckets; the 24th holds everything slower."""
BUCKETS = len(LATENCY_BOUNDS_MS) + 1
BUCKET_COLUMNS: tuple[str, ...] = tuple(f"lat_{i:02d}" for i in range(BUCKETS))
NO_INTENT = ""
"""``user_tool_stats.intent`` for calls made without an intent (a key column cannot be NULL)."""


# On SQLite the rollups are clustered by their key (WITHOUT ROWID): a tool's days, a user's tools are adjacent.
_CLUSTERED = {"sqlite_with_rowid": False}


class ToolDaily(SQLModel, table=True):
    __tablename__ = "tool_daily"
    __table_args__ = _CLUSTERED

    tool_name: str = Field(max_length=64, primary_key=True)
    day: date = Field(primary_key=True)
    calls: int = 0
    successes: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    lat_00: int = 0
    lat_01: int = 0
    lat_02: int = 0
    lat_03: int = 0
    lat_04: int = 0
    lat_05: int = 0
    lat_06: int = 0
    lat_07: int = 0
    lat_08: int = 0
    lat_09: int = 0
    lat_10: int = 0
    lat_11: int = 0
    lat_12: int = 0
    lat_13: int = 0
    lat_14: int = 0
    lat_15: int = 0
    lat_16: int = 0
    lat_17: int = 0
    lat_18: int = 0
    lat_19: int = 0
    lat_20: int = 0
    lat_21: int = 0
    lat_22: int = 0
    lat_23: int = 0


class ToolErrorDaily(SQLModel, table=True):
    __tablename__ = "tool_error_daily"
    __table_args__ = _CLUSTERED

    tool_name: str = Field(max_length=64, primary_key=True)
    day: date = Field(primary_key=True)
    error_type: str = Field(max_length=255, primary_key=True)
    count: int = 0


class UserToolStats(SQLModel, table=True):
    __tablename__ = "user_tool_stats"
    __table_args__ = _CLUSTERED

    # Key order (user, tool, intent): a user's tools come out grouped, whatever the intent.
    user_id: str = Field(max_length=255, primary_key=True)
    tool_name: str = Field(max_length=64, primary_key=True)
    intent: str = Field(max_length=64, primary_key=True)
    calls: int = 0
    successes: int = 0
    total_ms: float = 0.0
    w_success: float = 0.0
    """Successes weighted by ``decay_weight(created_at)``: discounted counts are additive."""
    w_failure: float = 0.0
    w_ms: float = 0.0
    """Latency weighted the same way (discounted mean latency = w_ms / (w_success + w_failure))."""
    satisfaction_sum: int = 0
    satisfaction_count: int = 0
    last_called_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class CallFeedback(SQLModel, table=True):
    """Satisfaction feedback on one call (the call's own row is append-only)."""

    __tablename__ = "call_feedback"

    call_id: str = Field(max_length=64, primary_key=True)
    user_id: str = Field(max_length=255)
    tool_name: str = Field(max_length=64)
    intent: str = Field(max_length=64)
    score: int
    comment: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


tool_daily_table: sa.Table = ToolDaily.__table__  # type: ignore[attr-defined]
tool_error_daily_table: sa.Table = ToolErrorDaily.__table__  # type: ignore[attr-defined]
user_tool_stats_table: sa.Table = UserToolStats.__table__  # type: ignore[attr-defined]
call_feedback_table: sa.Table = CallFeedback.__table__  # type: ignore[attr-defined]
