"""Tool search's events in the database: written once resolved, read back at start-up (the learnt
associations are rebuilt from them), polled for what other replicas wrote, and counted for
``history stats`` (the search hit rate)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history.search_models import search_event_table
from plugyard.learning.search.sequences import Outcome, SearchEvent

LEARN_DAYS = 180
"""Search events older than this are not learnt from at start-up."""


@dataclasses.dataclass(frozen=True, slots=True)
class SearchFigures:
    """Searches in a window and how many were followed by a successful call of a tool they showed."""

    days: int
    searches: int
    hits: int
    followed: int
    """Searches followed by any call."""

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.searches if self.searches else None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "hit_rate": self.hit_rate}

    def describe(self) -> str:
        if not self.searches:
            return f"tool search: no searches in the last {self.days} day(s)"
        return (
            f"tool search: {self.searches} search(es) in the last {self.days} day(s), hit rate "
            f"{self.hits / self.searches:.1%} (followed by a successful call of a tool shown); "
            f"{self.followed} followed by any call"
        )


def _utc(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event_row(event: SearchEvent, recorded_at: datetime) -> dict[str, Any]:
    return {
        "search_id": event.search_id,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "query": event.query,
        "shown": list(event.shown),
        "outcomes": [{"tool": o.tool, "success": o.success, "call_id": o.call_id} for o in event.outcomes],
        "called_tool": event.outcomes[0].tool if event.outcomes else None,
        "hit": event.hit,
        "created_at": datetime.fromtimestamp(event.at, UTC),
        "recorded_at": recorded_at,
    }


def event_of(m: Any) -> SearchEvent:
    """A ``search_event`` row (as a mapping) as the event it stored."""
    return SearchEvent(
        search_id=m["search_id"],
        user_id=m["user_id"],
        session_id=m["session_id"],
        query=m["query"],
        shown=tuple(m["shown"] or ()),
        at=_utc(m["created_at"]).timestamp(),
        outcomes=[Outcome(o["tool"], o.get("success"), o.get("call_id")) for o in m["outcomes"] or ()],
    )


class SearchStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def write(self, events: Sequence[SearchEvent], *, now: datetime | None = None) -> int:
        """Store resolved searches (a search id already stored is skipped); returns rows inserted."""
        if not events:
            return 0
        recorded = now or datetime.now(UTC)
        rows = [event_row(e, recorded) for e in events]
        dialect = self.engine.dialect.name
        insert: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(search_event_table)
        statement = insert.on_conflict_do_nothing(index_elements=["search_id"])
        async with self.engine.begin() as connection:
            result = await connection.execute(statement, rows)
        return int(result.rowcount or 0)

    async def load(self, *, days: int = LEARN_DAYS, now: datetime | None = None) -> list[SearchEvent]:
        """Every search of the last ``days`` days, oldest first (what the associations are rebuilt from)."""
        since = (now or datetime.now(UTC)) - timedelta(days=days)
        t = search_event_table
        statement = sa.select(t).where(t.c.created_at >= since).order_by(t.c.created_at, t.c.id)
        async with self.engine.connect() as connection:
            result = await connection.stream(statement)
            return [event_of(row) async for row in result.mappings()]

    async def recorded_since(self, since: datetime) -> list[tuple[SearchEvent, datetime]]:
        """Searches written at or after ``since`` (by any replica), with when each was written."""
        t = search_event_table
        statement = sa.select(t).where(t.c.recorded_at >= since).order_by(t.c.recorded_at, t.c.id)
        async with self.engine.connect() as connection:
            result = await connection.execute(statement)
            return [(event_of(row), _utc(row["recorded_at"])) for row in result.mappings()]

    async def figures(
        self, days: int = 30, *, user_id: str | None = None, now: datetime | None = None
    ) -> SearchFigures:
        return await search_figures(self.engine, days, user_id=user_id, now=now)

    async def delete_before(self, cutoff: datetime) -> int:
        """Drop searches made before ``cutoff`` (retention, beside the calls they led to)."""
        t = search_event_table
        async with self.engine.begin() as connection:
            result = await connection.execute(sa.delete(t).where(t.c.created_at < cutoff))
        return int(result.rowcount or 0)


async def search_figures(
    engine: AsyncEngine, days: int = 30, *, user_id: str | None = None, now: datetime | None = None
) -> SearchFigures:
    """The searches of the last ``days`` whole UTC days (today included), everyone's or one user's."""
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    t = search_event_table
    statement = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((t.c.hit, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((t.c.called_tool.is_not(None), 1), else_=0)), 0),
    ).where(t.c.created_at >= since)
    if user_id is not None:
        statement = statement.where(t.c.user_id == user_id)
    async with engine.connect() as connection:
        searches, hits, followed = (await connection.execute(statement)).one()
    return SearchFigures(days=days, searches=int(searches), hits=int(hits), followed=int(followed))
