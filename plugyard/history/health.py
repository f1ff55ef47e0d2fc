"""The history plugin's health report (its ``health`` hook; ``GET /healthz`` gathers it).

Healthy = the database answers within the timeout and its schema is at this plugyard's head
revision. The recorder's queue (depth, written, journaled, failures) is reported beside it: it helps
an operator, but a queue that is draining is not a reason to pull a replica.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from plugyard.history import migrate
from plugyard.history.db import create_engine, safe_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from plugyard.core.host import PluginHost
    from plugyard.history.plugin import HistoryPlugin

DEFAULT_TIMEOUT = 2.0


async def report(plugin: HistoryPlugin, host: PluginHost, *, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """``{"healthy", "database", "schema", "queue"}`` now (the database gets ``within`` seconds).
    Never raises for a sick database: that is what it reports."""
    url = host.config.database_url
    if plugin.engine is not None:
        database, schema = await _database(plugin.engine, url, within)
    else:
        engine = create_engine(url)
        try:
            database, schema = await _database(engine, url, within)
        finally:
            await engine.dispose()
    queue = None
    if plugin.recorder is not None:
        r = plugin.recorder
        queue = {
            "depth": r.depth,
            "written": r.written,
            "journaled": r.journaled,
            "failures": r.failures,
            "on_stderr": r.on_stderr,
            "lost": r.lost,
        }
    healthy = bool(database["reachable"] and schema["at_head"])
    return {"healthy": healthy, "database": database, "schema": schema, "queue": queue}


async def _database(engine: AsyncEngine, url: str, within: float) -> tuple[dict[str, Any], dict[str, Any]]:
    head = migrate.head()
    database: dict[str, Any] = {"url": safe_url(url), "backend": engine.dialect.name, "reachable": False, "error": None}
    schema: dict[str, Any] = {"revision": None, "head": head, "at_head": False, "error": None}
    try:
        with anyio.fail_after(within):
            revision = await migrate.current(engine)
    except TimeoutError:
        database["error"] = f"no answer within {within:g} s"
        return database, schema
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the answer is "unreachable"
        database["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return database, schema
    database["reachable"] = True
    schema.update(revision=revision, at_head=revision == head)
    if revision != head:
        schema["error"] = f"schema at revision {revision or 'none'}, head is {head}; run `plugyard db upgrade`"
    return database, schema
