"""ToolHistoryService: the questions asked of the history, its feedback, retention and the learner's view.

One class for callers, written in parts by reason to change: ``queries`` (statistics, preferred tools,
failures, the reports' figures), ``feedback`` (ratings), ``retention`` (cleanup, export, import, a call
recorded by hand), ``learning`` (what the router is warmed from) and ``evidence`` (the decisions behind
calls, for offline evaluation).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.core.config import Config
from plugyard.history import migrate
from plugyard.history.db import create_engine, is_sqlite
from plugyard.history.errors import SchemaBehind
from plugyard.history.service.evidence import Evidence
from plugyard.history.service.feedback import Feedbacks
from plugyard.history.service.learning import LearnerView
from plugyard.history.service.queries import TOP_ERRORS, Queries
from plugyard.history.service.retention import DEFAULT_RETENTION_DAYS, Retention, parse_days

__all__ = ["DEFAULT_RETENTION_DAYS", "TOP_ERRORS", "ToolHistoryService", "open_engine", "open_service", "parse_days"]


class ToolHistoryService(Queries, Feedbacks, Retention, LearnerView, Evidence):
    """Async queries and maintenance over the history database (``engine``, already at head)."""


async def open_engine(config: Config) -> AsyncEngine:
    """An engine on the configured history database at head: SQLite is migrated (dev mode),
    PostgreSQL must have been upgraded by `plugyard db upgrade`."""
    url = config.database_url
    engine = create_engine(url)
    try:
        if is_sqlite(url):
            await migrate.upgrade(engine)
        else:
            at, head = await migrate.current(engine), migrate.head()
            if at != head:
                raise SchemaBehind(
                    f"the history database is at revision {at or 'none'}, this plugyard needs {head}; "
                    "run `plugyard db upgrade` first"
                )
    except BaseException:
        await engine.dispose()
        raise
    return engine


@asynccontextmanager
async def open_service(config: Config) -> AsyncIterator[ToolHistoryService]:
    """A service on the configured database, for the CLI and scripts."""
    engine = await open_engine(config)
    try:
        yield ToolHistoryService(engine)
    finally:
        await engine.dispose()
