"""Replicas learn together: each one folds in the calls the others recorded on the shared database.

A replica warms its router from the rollups at start, then learns from its own calls as they finish.
On PostgreSQL several replicas share one database, so each also polls ``tool_call`` for rows it did not
make (``id`` above its cursor, every POLL_SECONDS) and feeds them to its router: a tool failing behind
one replica is avoided by the others within a poll plus the writer's flush interval. Polling ``id``
alone would miss a row whose transaction committed after a higher id was seen, so each poll looks back
LOOKBACK_IDS ids and skips the call ids it already folded in (or made itself).

Ratings travel the same way: each poll also reads ``call_feedback`` rows updated since the last one
(looking back LOOKBACK_SECONDS, for commit order and clocks that differ a little between replicas) and
folds in each score it has not folded yet, as the change from the score it folded before for that call.
A rating given before this replica started and changed after it is skipped: the warm-up counted its
old score, which this replica never saw.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history.models import tool_call_table
from plugyard.history.rollup_models import NO_INTENT, call_feedback_table
from plugyard.history.rollups import OUTCOME_COLUMNS, an_outcome, utc

POLL_SECONDS = 1.0
LOOKBACK_IDS = 1000
REMEMBER_IDS = 200_000
BATCH = 5000
LOOKBACK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Rating:
    """A rating another replica stored: ``old`` is the score this replica had folded in before, if any."""

    user_id: str
    tool_name: str
    intent: str | None
    old: int | None
    new: int


class _Recent(OrderedDict[str, Any]):
    """The last REMEMBER_IDS keys noted, each with its value (the oldest forgotten first)."""

    def note(self, key: str, value: Any = None) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > REMEMBER_IDS:
            self.popitem(last=False)


class ReplicaFollower:
    """What the other replicas recorded since this one started, once each."""

    def __init__(self) -> None:
        self.cursor = 0
        self._seen = _Recent()
        """Call ids folded in (or made here)."""
        self.folded = 0
        self.ratings_since: datetime | None = None
        self._started: datetime | None = None
        self._scores = _Recent()
        """Call id -> the score this replica's router has for it."""

    def _remember(self, call_id: str) -> bool:
        """Note a call id; False when it was known already."""
        if call_id in self._seen:
            return False
        self._seen.note(call_id)
        return True

    def mark_own(self, call_id: str) -> None:
        """A call this replica made (its router learnt it already)."""
        self._remember(call_id)

    def mark_own_rating(self, call_id: str, score: int) -> None:
        """A rating this replica stored (its router learnt it already)."""
        self._scores.note(call_id, score)

    async def start(self, engine: AsyncEngine) -> None:
        """Start after every row already stored (the rollups the router warmed from hold them)."""
        async with engine.connect() as connection:
            top = (await connection.execute(sa.select(sa.func.max(tool_call_table.c.id)))).scalar()
            rated = (await connection.execute(sa.select(sa.func.max(call_feedback_table.c.updated_at)))).scalar()
        self.cursor = int(top or 0)
        self.ratings_since = self._started = utc(rated) if rated is not None else None

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

    async def poll_ratings(self, engine: AsyncEngine) -> list[Rating]:
        """The ratings others stored or changed since the last poll, each once, oldest first."""
        fb = call_feedback_table
        statement = sa.select(
            fb.c.call_id, fb.c.user_id, fb.c.tool_name, fb.c.intent, fb.c.score, fb.c.created_at, fb.c.updated_at
        )
        if self.ratings_since is not None:
            statement = statement.where(fb.c.updated_at > self.ratings_since - timedelta(seconds=LOOKBACK_SECONDS))
        statement = statement.order_by(fb.c.updated_at).limit(BATCH)
        async with engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        fresh = []
        for row in rows:
            updated = utc(row.updated_at)
            if self.ratings_since is None or updated > self.ratings_since:
                self.ratings_since = updated
            old = self._scores.get(row.call_id)
            if old == row.score:
                continue  # folded in already, or this replica's own
            self._scores.note(row.call_id, row.score)
            if old is None and self._started is not None and utc(row.created_at) <= self._started:
                continue  # rated before this replica started: its old score is in the warm-up, unknown here
            intent = None if row.intent == NO_INTENT else row.intent
            fresh.append(Rating(row.user_id, row.tool_name, intent, old, row.score))
        return fresh
