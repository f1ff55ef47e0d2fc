"""decision_evidence: the router's decision behind a recorded call (id, policy version, propensity)

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_evidence",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=255), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("chosen", sa.String(length=255), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_decision_evidence")),
    )
    op.create_index("ix_decision_evidence_decided_at", "decision_evidence", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_decision_evidence_decided_at", table_name="decision_evidence")
    op.drop_table("decision_evidence")
