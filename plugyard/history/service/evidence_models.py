"""``decision_evidence`` (migration 0009): the router's decision behind a recorded call, one row per
``tool_call`` row that a ``choose_tool`` decision led to (linked by ``call_id``): the decision's id, the
policy version and the chosen tool's propensity, with the candidates it chose among. ``plugyard
history evaluate`` reads these rows with the calls' outcomes (inverse propensity scoring)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class DecisionEvidenceRecord(SQLModel, table=True):
    __tablename__ = "decision_evidence"
    __table_args__ = (sa.Index("ix_decision_evidence_decided_at", "decided_at"),)

    call_id: str = Field(max_length=64, primary_key=True)
    """The ``tool_call`` row the decision led to."""
    decision_id: str = Field(max_length=64)
    policy_version: str = Field(max_length=255)
    propensity: float
    """The probability the logging policy had of choosing ``chosen``."""
    user_id: str = Field(max_length=255)
    intent: str | None = Field(default=None, max_length=64)
    chosen: str = Field(max_length=255)
    candidates: list[str] = Field(sa_type=sa.JSON)
    """Every tool the decision chose among (the eligible ones first)."""
    decided_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


decision_evidence_table: sa.Table = DecisionEvidenceRecord.__table__  # type: ignore[attr-defined]
