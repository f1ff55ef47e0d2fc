"""Replicas learn together: each one folds in the calls the others recorded on the shared database.

A replica warms its router from the rollups at start, then learns from its own calls as they finish.
On PostgreSQL several replicas share one database, so each also polls ``tool_call`` for rows it did not
make (``id`` above its cursor, every POLL_SECONDS) and feeds them to its router: a tool failing behind
one replica is avoided by the others within a poll plus the writer's flush interval. Polling ``id``
alone would miss a row whose transaction committed after a higher id was seen, so each poll looks back
LOOKBACK_IDS ids and skips the call ids it already folded in (or made itself).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history.models import tool_call_table
from plugyard.history.rollups import OUTCOME_COLUMNS, an_outcome, utc

POLL_SECONDS = 1.0
LOOKBACK_IDS = 1000
REMEMBER_IDS = 200_000
BATCH = 5000


class ReplicaFollower:
    """What the other replicas recorded since this one started, once each."""

    def __init__(self) -> None:
        self.cursor = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.folded = 0

    def _remember(self, call_id: str) -> bool:
        """Note a call id; False when it was known already."""
        if call_id in self._seen:
            return False
        self._seen[call_id] = None
        if len(self._seen) > REMEMBER_IDS:
            self._seen.popitem(last=False)
        return True

    def mark_own(self, call_id: str) -> None:
        """A call this replica made (its router learnt it already)."""
        self._remember(call_id)

    async def start(self, engine: AsyncEngine) -> None:
        """Start after every row already stored (the rollups the router warmed from hold them)."""
        async with engine.connect() as connection:
            top = (await connection.execute(sa.select(sa.func.max(tool_call_table.c.id)))).scalar()
        self.cursor = int(top or 0)

    async def poll(self, engine: AsyncEngine) -> list[dict[str, Any]]:
        """The outcomes others recorded since the last poll (input-required rounds left out), oldest first."""
        t = tool_call_table
        statement = (
            sa.select(t.c.id, *OUTCOME_COLUMNS)
            .where(t.c.id > self.cursor - LOOKBACK_IDS, an_outcome(t))
            .order_by(t.c.id)
            .limit(BATCH + LOOKBACK_IDS)
        )
        async with engine.connect() as connection:
            rows = [dict(r) for r in (await connection.execute(statement)).mappings()]
        fresh = []
        for row in rows:
            self.cursor = max(self.cursor, int(row["id"]))
            if self._remember(row["call_id"]):
                row["created_at"] = utc(row["created_at"])
                fresh.append(row)
        self.folded += len(fresh)
        return fresh
