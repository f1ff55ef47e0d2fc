"""tool_call: one row a tool call, with the study assistant's six indexes

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tool_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("tool_name", sa.String(length=64), nullable=False),
        sa.Column("plugin_name", sa.String(length=255), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(length=255), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("execution_time_ms", sa.Float(), nullable=False),
        sa.Column("result_size", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("workflow_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_call")),
        sa.UniqueConstraint("call_id", name=op.f("uq_tool_call_call_id")),
    )
    op.create_index("ix_tool_call_user_id", "tool_call", ["user_id"])
    op.create_index("ix_tool_call_tool_name", "tool_call", ["tool_name"])
    op.create_index("ix_tool_call_success", "tool_call", ["success"])
    op.create_index("ix_tool_call_created_at", "tool_call", ["created_at"])
    op.create_index("ix_tool_call_user_created", "tool_call", ["user_id", "created_at"])
    op.create_index("ix_tool_call_metrics", "tool_call", ["tool_name", "success", "execution_time_ms"])


def downgrade() -> None:
    op.drop_index("ix_tool_call_metrics", table_name="tool_call")
    op.drop_index("ix_tool_call_user_created", table_name="tool_call")
    op.drop_index("ix_tool_call_created_at", table_name="tool_call")
    op.drop_index("ix_tool_call_success", table_name="tool_call")
    op.drop_index("ix_tool_call_tool_name", table_name="tool_call")
    op.drop_index("ix_tool_call_user_id", table_name="tool_call")
    op.drop_table("tool_call")
