"""Storage for workflow runs (with their checkpoints) and action cards.

Runs and cards are written directly, one short transaction each: a run writes a handful of rows
(start, one checkpoint per step, the end), unlike tool calls, which go through the batch recorder.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from plugyard.assistant.cards import normalise_title
from plugyard.assistant.models import action_card_table, workflow_run_table
from plugyard.history import migrate
from plugyard.history.db import create_engine, is_sqlite, refusal, safe_url, sqlite_workers

CARD_FIELDS = ("title", "description", "kind", "estimated_minutes", "priority", "due_date", "suggested_tool")


def _now() -> datetime:
    return datetime.now(UTC)


def _card_dict(row: Mapping[Any, Any], *, refreshed: bool = False) -> dict[str, Any]:
    card = {key: row[key] for key in (*CARD_FIELDS, "card_id", "workflow_run_id", "origin", "status")}
    due = card["due_date"]
    card["due_date"] = due.isoformat() if isinstance(due, date) else due
    for key in ("created_at", "updated_at", "completed_at"):
        value = row[key]
        card[key] = _aware(value).isoformat() if value is not None else None
    card["refreshed"] = refreshed
    return card


RUN_FIELDS = (
    "run_id",
    "workflow",
    "plugin_name",
    "intent",
    "message",
    "status",
    "steps",
    "step_count",
    "error_type",
    "error_message",
    "duration_ms",
)


def _run_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    run = {key: row[key] for key in RUN_FIELDS}
    for key in ("created_at", "finished_at"):
        run[key] = _aware(row[key]).isoformat() if row[key] is not None else None
    return run


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class WorkflowStore:
    """Reads and writes ``workflow_run`` and ``action_card``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, url: str) -> WorkflowStore:
        """An engine for ``url``; an embedded SQLite database is brought to head (dev mode)."""
        before = sqlite_workers()
        engine = create_engine(url)
        if is_sqlite(url):
            try:
                await migrate.upgrade(engine)
            except (SQLAlchemyError, sqlite3.Error, OSError) as exc:  # a corrupt or unreadable file: refuse to start
                raise await refusal(f"the history database {safe_url(url)}", exc, engine, before) from exc
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- runs ------------------------------------------------------------------------------

    async def start_run(
        self,
        *,
        run_id: str,
        user_id: str,
        session_id: str | None,
        workflow: str,
        plugin_name: str,
        intent: str | None,
        message: str,
        next_step: str,
        state: dict[str, Any],
    ) -> None:
        now = _now()
        async with self.engine.begin() as conn:
            await conn.execute(
                workflow_run_table.insert().values(
                    run_id=run_id,
                    user_id=user_id,
                    session_id=session_id,
                    workflow=workflow,
                    plugin_name=plugin_name,
                    intent=intent,
                    message=message,
                    status="running",
                    steps=[],
                    step_count=0,
                    next_step=next_step,
                    state=state,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def checkpoint(
        self, run_id: str, *, steps: Sequence[dict[str, Any]], next_step: str | None, state: dict[str, Any]
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                workflow_run_table.update()
                .where(workflow_run_table.c.run_id == run_id)
                .values(steps=list(steps), step_count=len(steps), next_step=next_step, state=state, updated_at=_now())
            )

    async def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        steps: Sequence[dict[str, Any]],
        state: dict[str, Any],
        duration_ms: float,
        next_step: str | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None:
        now = _now()
        async with self.engine.begin() as conn:
            await conn.execute(
                workflow_run_table.update()
                .where(workflow_run_table.c.run_id == run_id)
                .values(
                    status=status,
                    steps=list(steps),
                    step_count=len(steps),
                    next_step=next_step,
                    state=state,
                    duration_ms=duration_ms,
                    error_type=error_type,
                    error_message=error_message,
                    updated_at=now,
                    finished_at=now,
                )
            )

    async def get_run(self, run_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(sa.select(workflow_run_table).where(workflow_run_table.c.run_id == run_id))
            row = result.mappings().first()
        return dict(row) if row is not None else None

    async def list_runs(self, user_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """``user_id``'s most recent runs, newest first, each with its action cards (``cards``).
        The checkpoint state is left out: it is the engine's, not the reader's."""
        runs_query = (
            sa.select(workflow_run_table)
            .where(workflow_run_table.c.user_id == user_id)
            .order_by(workflow_run_table.c.created_at.desc(), workflow_run_table.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            runs = [_run_dict(row) for row in (await conn.execute(runs_query)).mappings()]
            ids = [run["run_id"] for run in runs]
            cards_query = (
                sa.select(action_card_table)
                .where(action_card_table.c.user_id == user_id, action_card_table.c.workflow_run_id.in_(ids))
                .order_by(action_card_table.c.id)
            )
            cards = [_card_dict(row) for row in (await conn.execute(cards_query)).mappings()] if ids else []
        for run in runs:
            run["cards"] = [card for card in cards if card["workflow_run_id"] == run["run_id"]]
        return runs

    # -- cards -----------------------------------------------------------------------------

    async def add_cards(
        self, user_id: str, cards: Sequence[Mapping[str, Any]], *, workflow_run_id: str | None, origin: str
    ) -> list[dict[str, Any]]:
        """Store cards (dicts with the ActionCard fields) for ``user_id``; returns them as stored.

        A card equal to one the user has open (same kind, same ``normalise_title``) is not added: the
        open one is refreshed (due date, description, estimate, priority, tool, run) and returned
        with ``refreshed`` True. One transaction; a concurrent insert of the same card (the unique
        index refuses it) is retried once as a refresh."""
        for attempt in (1, 2):
            try:
                async with self.engine.begin() as conn:
                    return [await self._upsert(conn, user_id, card, workflow_run_id, origin) for card in cards]
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _upsert(
        self,
        conn: AsyncConnection,
        user_id: str,
        card: Mapping[str, Any],
        workflow_run_id: str | None,
        origin: str,
    ) -> dict[str, Any]:
        now = _now()
        key = normalise_title(str(card["title"]))
        fields = {name: card.get(name) for name in CARD_FIELDS}
        same = sa.and_(
            action_card_table.c.user_id == user_id,
            action_card_table.c.kind == fields["kind"],
            action_card_table.c.title_key == key,
            action_card_table.c.status == "open",
        )
        existing = (await conn.execute(sa.select(action_card_table).where(same))).mappings().first()
        if existing is None:
            row = {
                **fields,
                "title_key": key,
                "card_id": uuid.uuid4().hex,
                "user_id": user_id,
                "workflow_run_id": workflow_run_id,
                "origin": origin,
                "status": "open",
                "created_at": now,
                "updated_at": now,
                "completed_at": None,
            }
            await conn.execute(action_card_table.insert(), [row])
            return _card_dict(row)
        refresh = {name: fields[name] for name in CARD_FIELDS if name != "title"}
        if refresh["due_date"] is None:
            refresh["due_date"] = existing["due_date"]  # a repeat without a deadline keeps the card's
        refresh.update(workflow_run_id=workflow_run_id, origin=origin, updated_at=now)
        where = action_card_table.c.id == existing["id"]
        await conn.execute(action_card_table.update().where(where).values(**refresh))
        stored = (await conn.execute(sa.select(action_card_table).where(where))).mappings().one()
        return _card_dict(stored, refreshed=True)

    async def list_cards(
        self, user_id: str, status: str | None = None, *, limit: int = 20, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of ``user_id``'s cards, newest (stored or refreshed) first, and how many there are."""
        where = [action_card_table.c.user_id == user_id]
        if status is not None:
            where.append(action_card_table.c.status == status)
        query = (
            sa.select(action_card_table)
            .where(*where)
            .order_by(action_card_table.c.updated_at.desc(), action_card_table.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(action_card_table).where(*where)
        async with self.engine.connect() as conn:
            total = int((await conn.execute(count)).scalar_one())
            page = [_card_dict(row) for row in (await conn.execute(query)).mappings()]
        return page, total

    async def complete_card(self, user_id: str, card_id: str) -> dict[str, Any] | None:
        """Mark the caller's card done; None when ``user_id`` has no card ``card_id``."""
        where = sa.and_(action_card_table.c.card_id == card_id, action_card_table.c.user_id == user_id)
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(action_card_table).where(where))).mappings().first()
            if row is None:
                return None
            if row["status"] != "done":
                now = _now()
                await conn.execute(
                    action_card_table.update().where(where).values(status="done", completed_at=now, updated_at=now)
                )
            row = (await conn.execute(sa.select(action_card_table).where(where))).mappings().one()
        return _card_dict(row)
