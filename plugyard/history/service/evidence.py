"""Decisions as evidence: the router's decision behind each call it led to (``decision_evidence``,
migration 0009), written beside the call, and read back with every call's outcome for offline
evaluation (``plugyard.learning.evaluate``, ``plugyard history evaluate``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from plugyard.history.models import tool_call_table
from plugyard.history.rollup_models import call_feedback_table
from plugyard.history.rollups import an_outcome, utc
from plugyard.history.service.base import ServiceBase
from plugyard.history.service.evidence_models import decision_evidence_table
from plugyard.learning.decisions import Decision
from plugyard.learning.evaluate import LoggedCall


def evidence_row(call_id: str, decision: Decision) -> dict[str, Any]:
    """The ``decision_evidence`` row of the call ``decision`` led to."""
    return {
        "call_id": call_id,
        "decision_id": decision.decision_id,
        "policy_version": decision.policy_version[:255],
        "propensity": float(decision.propensity),
        "user_id": decision.user_id,
        "intent": decision.intent,
        "chosen": decision.chosen,
        "candidates": [s.tool for s in decision.scores],
        "decided_at": datetime.fromtimestamp(decision.at, UTC),
    }


class Evidence(ServiceBase):
    """Logged decisions in, logged calls out."""

    async def record_decisions(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store evidence rows (one per call id; a row already stored is kept)."""
        if not rows:
            return 0
        e = decision_evidence_table
        async with self.engine.begin() as connection:
            known = set(
                (
                    await connection.execute(
                        sa.select(e.c.call_id).where(e.c.call_id.in_([r["call_id"] for r in rows]))
                    )
                ).scalars()
            )
            fresh = [r for r in rows if r["call_id"] not in known]
            if fresh:
                await connection.execute(sa.insert(e), fresh)
        return len(fresh)

    async def logged_calls(self, days: int) -> list[LoggedCall]:
        """Every call of the last ``days`` whole days (input-required rounds left out), oldest first,
        with the decision that led to it when one did and its rating when given."""
        t, e, fb = tool_call_table, decision_evidence_table, call_feedback_table
        statement = (
            sa.select(
                t.c.created_at,
                t.c.user_id,
                t.c.tool_name,
                t.c.success,
                t.c.execution_time_ms,
                t.c.intent,
                t.c.error_type,
                e.c.candidates,
                e.c.propensity,
                fb.c.score,
            )
            .select_from(t.outerjoin(e, e.c.call_id == t.c.call_id).outerjoin(fb, fb.c.call_id == t.c.call_id))
            .where(t.c.created_at >= self.window_start(days), an_outcome(t))
            .order_by(t.c.created_at, t.c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [
            LoggedCall(
                at=utc(r[0]).timestamp(),
                user_id=r[1],
                tool=r[2],
                success=bool(r[3]),
                duration_ms=float(r[4]),
                intent=r[5] or None,
                error_type=r[6],
                candidates=tuple(r[7] or ()),
                propensity=None if r[8] is None else float(r[8]),
                score=None if r[9] is None else int(r[9]),
            )
            for r in rows
        ]


LINK_WINDOW_S = 300.0
"""A decision links to the user's next call of the chosen tool started within this many seconds."""


class DecisionLinks:
    """Joins each ``choose_tool`` decision to the call it led to, and holds the rows until written.

    A decision is remembered per (user, chosen tool) until that user's next call of the tool (an
    input-required round keeps it for the round that ends the call); stale ones are dropped."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], Decision] = {}
        self.rows: list[dict[str, Any]] = []
        self.written = 0

    def decided(self, decision: Decision) -> None:
        self._pending[(decision.user_id, decision.chosen)] = decision
        if len(self._pending) > 10_000:  # decisions whose call never came: forget the oldest
            for key in list(self._pending)[:5_000]:
                del self._pending[key]

    def called(self, user_id: str, tool: str, call_id: str, started_at: float, *, final: bool) -> None:
        decision = self._pending.get((user_id, tool))
        if decision is None or not final:
            return
        del self._pending[(user_id, tool)]
        if -1.0 <= started_at - decision.at <= LINK_WINDOW_S:
            self.rows.append(evidence_row(call_id, decision))

    async def flush(self, service: Evidence) -> int:
        rows, self.rows = self.rows, []
        written = await service.record_decisions(rows)
        self.written += written
        return written
