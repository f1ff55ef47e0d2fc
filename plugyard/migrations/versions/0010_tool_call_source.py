"""tool_call.source: where a call's answer came from beyond its plugin (an upstream MCP server's name)

Nullable: calls of ordinary plugin tools have no source, and every row recorded before has none.


Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tool_call", sa.Column("source", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tool_call") as batch:
        batch.drop_column("source")
