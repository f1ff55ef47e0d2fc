"""drop ix_tool_call_success: no query uses it, and every insert paid for it

bench/bench_history.py (bench/RESULTS.md, "History service at 1,000,000 calls") showed that none of the history
service's queries uses the index on the boolean `success` column (the per-tool and per-user queries go through
the rollups and the composite indexes), while every recorded call maintained it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_tool_call_success", table_name="tool_call")


def downgrade() -> None:
    op.create_index("ix_tool_call_success", "tool_call", [sa.column("success")])
