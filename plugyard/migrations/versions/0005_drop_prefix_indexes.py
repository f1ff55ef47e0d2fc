"""drop the three tool_call indexes whose columns lead a wider index

Each of these is a leading prefix of an index that 0001/0002 also create, so every lookup or range it
serves, the wider index serves the same way (the planners of SQLite and PostgreSQL both pick it):

- ix_tool_call_user_id (user_id) and ix_tool_call_user_created (user_id, created_at) lead
  ix_tool_call_user_time_cover (user_id, created_at, tool_name, success, execution_time_ms, error_type);
- ix_tool_call_tool_name (tool_name) leads ix_tool_call_metrics (tool_name, success, execution_time_ms).

Every recorded call maintained them: measured on SQLite (100-row transactions into a warm table), the
insert went from 14.4 to 10.6 us a row without them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = {
    "ix_tool_call_user_id": ["user_id"],
    "ix_tool_call_user_created": ["user_id", "created_at"],
    "ix_tool_call_tool_name": ["tool_name"],
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="tool_call")


def downgrade() -> None:
    for name, columns in DROPPED.items():
        op.create_index(name, "tool_call", [sa.column(c) for c in columns])
