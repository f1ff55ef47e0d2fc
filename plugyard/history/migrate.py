"""Drive the Alembic migrations shipped in ``plugyard/migrations`` from code (``plugyard db``, ``serve``)."""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# Alembic narrates every step at INFO; on stdio that is noise in a desktop client's log.
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "plugyard:migrations")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    """The newest revision this version of plugyard knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


async def _with_connection(engine: AsyncEngine, action: Any, *args: Any) -> Any:
    async with engine.begin() as connection:
        return await connection.run_sync(action, *args)


# One advisory lock key for plugyard's migrations (advisory locks are scoped to one database).
MIGRATION_LOCK_KEY = 0x706C_7567_7961_7264  # "plugyard"


def _serialise(connection: Connection) -> None:
    """On PostgreSQL, hold an advisory lock until the migration's transaction ends: replicas that
    run `plugyard db upgrade` at the same moment take turns, and the later ones find the schema at
    head and do nothing. SQLite serialises writers by itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def _upgrade(connection: Connection, revision: str) -> None:
    _serialise(connection)
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade(connection: Connection, revision: str) -> None:
    _serialise(connection)
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _with_connection(engine, _upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _with_connection(engine, _downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: no plugyard tables yet)."""
    result: str | None = await _with_connection(engine, _current)
    return result


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down revision, message) for every migration, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())
    revisions.reverse()
    return [(r.revision, r.down_revision if isinstance(r.down_revision, str) else None, r.doc) for r in revisions]


def pending_revisions(
    at: str | None, target: str, revisions: list[tuple[str, str | None, str]] | None = None
) -> list[str] | None:
    """The revisions an upgrade from ``at`` to ``target`` applies, oldest first; None when the
    path is not on the one line of history (a branch, a relative step): then upgrade as asked."""
    order = [rev for rev, _, _ in (history() if revisions is None else revisions)]
    goal = order[-1] if target == "head" and order else target
    if goal not in order or (at is not None and at not in order):
        return None
    start = order.index(at) + 1 if at is not None else 0
    return order[start : order.index(goal) + 1]
