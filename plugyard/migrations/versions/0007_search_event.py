"""search_event: tool search's searches, the tools they showed and the calls that followed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("called_tool", sa.String(length=64), nullable=True),
        sa.Column("hit", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_event")),
        sa.UniqueConstraint("search_id", name=op.f("uq_search_event_search_id")),
    )
    op.create_index("ix_search_event_recorded_at", "search_event", ["recorded_at"])
    op.create_index("ix_search_event_user_created", "search_event", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_search_event_user_created", table_name="search_event")
    op.drop_index("ix_search_event_recorded_at", table_name="search_event")
    op.drop_table("search_event")
