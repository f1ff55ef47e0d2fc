"""rollups and feedback: tool_daily, tool_error_daily, user_tool_stats, call_feedback, two tool_call indexes

The read side answers from per-(tool, day) and per-(user, intent, tool) rollups the recorder keeps in
the same transaction as each batch; satisfaction is feedback on a call (the call row stays append-only).
Two indexes serve what must read raw rows: a user's window (covering) and a user's failures (partial).
On SQLite the rollups are WITHOUT ROWID tables, clustered by their key, so a tool's days or a user's tools
are read from adjacent pages. Existing rows are rolled up here, so an upgraded database's rollups match its history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of what the code used when this migration was written: a migration must not change
# meaning when the application code changes later.
BOUNDS = (1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200, 300, 500, 800, 1300, 2000, 3000, 5000, 8000, 13000, 20000, 60000)
BUCKETS = [f"lat_{i:02d}" for i in range(len(BOUNDS) + 1)]
EPOCH_S = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
HALF_LIFE_S = 14.0 * 86_400.0


def _buckets() -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in BUCKETS]


def upgrade() -> None:
    op.create_table(
        "tool_daily",
        sa.Column("tool_name", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("max_ms", sa.Float(), nullable=False),
        *_buckets(),
        sa.PrimaryKeyConstraint("tool_name", "day", name=op.f("pk_tool_daily")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "tool_error_daily",
        sa.Column("tool_name", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("error_type", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tool_name", "day", "error_type", name=op.f("pk_tool_error_daily")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "user_tool_stats",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("tool_name", sa.String(length=64), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("w_success", sa.Float(), nullable=False),
        sa.Column("w_failure", sa.Float(), nullable=False),
        sa.Column("w_ms", sa.Float(), nullable=False),
        sa.Column("satisfaction_sum", sa.Integer(), nullable=False),
        sa.Column("satisfaction_count", sa.Integer(), nullable=False),
        sa.Column("last_called_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "tool_name", "intent", name=op.f("pk_user_tool_stats")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "call_feedback",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("tool_name", sa.String(length=64), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_feedback")),
    )
    op.create_index(
        "ix_tool_call_user_time_cover",
        "tool_call",
        ["user_id", "created_at", "tool_name", "success", "execution_time_ms", "error_type"],
    )
    op.create_index(
        "ix_tool_call_user_failures",
        "tool_call",
        ["user_id", "created_at"],
        sqlite_where=sa.text("NOT success"),
        postgresql_where=sa.text("NOT success"),
    )
    _backfill()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill() -> None:
    """Roll up the rows already recorded (one pass, in Python: the day and weight need no SQL dialect)."""
    bind = op.get_bind()
    daily: dict[tuple[str, Any], dict[str, Any]] = {}
    errors: dict[tuple[str, Any, str], int] = {}
    users: dict[tuple[str, str, str], dict[str, Any]] = {}
    rows = bind.execute(
        sa.text(
            "SELECT user_id, tool_name, intent, success, error_type, execution_time_ms, created_at FROM tool_call"
        ).columns(created_at=sa.DateTime(timezone=True))
    )
    for user_id, tool, intent, success, error_type, ms, created in rows:
        created = _utc(created)
        day = created.date()
        ok = bool(success)
        d = daily.setdefault(
            (tool, day),
            {"tool_name": tool, "day": day, "calls": 0, "successes": 0, "total_ms": 0.0, "max_ms": 0.0}
            | dict.fromkeys(BUCKETS, 0),
        )
        d["calls"] += 1
        d["successes"] += ok
        d["total_ms"] += ms
        d["max_ms"] = max(d["max_ms"], ms)
        d[BUCKETS[bisect.bisect_left(BOUNDS, ms)]] += 1
        if not ok:
            key = (tool, day, error_type or "unknown")
            errors[key] = errors.get(key, 0) + 1
        u = users.setdefault(
            (user_id, intent or "", tool),
            {
                "user_id": user_id,
                "intent": intent or "",
                "tool_name": tool,
                "calls": 0,
                "successes": 0,
                "total_ms": 0.0,
                "w_success": 0.0,
                "w_failure": 0.0,
                "w_ms": 0.0,
                "satisfaction_sum": 0,
                "satisfaction_count": 0,
                "last_called_at": created,
            },
        )
        w = 2.0 ** ((created.timestamp() - EPOCH_S) / HALF_LIFE_S)
        u["calls"] += 1
        u["successes"] += ok
        u["total_ms"] += ms
        u["w_success" if ok else "w_failure"] += w
        u["w_ms"] += w * ms
        u["last_called_at"] = max(u["last_called_at"], created)
    meta = sa.MetaData()
    for name, values in (
        ("tool_daily", list(daily.values())),
        (
            "tool_error_daily",
            [{"tool_name": t, "day": d, "error_type": e, "count": n} for (t, d, e), n in errors.items()],
        ),
        ("user_tool_stats", list(users.values())),
    ):
        if values:
            table = sa.Table(name, meta, autoload_with=bind)
            bind.execute(sa.insert(table), values)


def downgrade() -> None:
    op.drop_index("ix_tool_call_user_failures", table_name="tool_call")
    op.drop_index("ix_tool_call_user_time_cover", table_name="tool_call")
    op.drop_table("call_feedback")
    op.drop_table("user_tool_stats")
    op.drop_table("tool_error_daily")
    op.drop_table("tool_daily")
