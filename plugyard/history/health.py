"""What "healthy" means for a running plugyard (the adapter serves it as ``GET /healthz``).

Healthy = the history database answers within the timeout and its schema is at this plugyard's
head revision. The recorder (queue depth, written, journaled) and the plugins (loaded, failed) are
reported beside it: they help an operator, but a load balancer should not pull a replica whose
database is fine because one plugin failed to load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from plugyard.history import migrate
from plugyard.history.db import create_engine, safe_url
from plugyard.history.plugin import HistoryPlugin

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from plugyard.core.host import PluginHost

DEFAULT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Health:
    healthy: bool
    database: dict[str, Any] | None
    """None when the history plugin is disabled (nothing depends on a database then)."""
    recorder: dict[str, int] | None
    plugins: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unavailable",
            "database": self.database,
            "recorder": self.recorder,
            "plugins": self.plugins,
        }


def _history_plugin(host: PluginHost) -> HistoryPlugin | None:
    for plugin in host.pm.get_plugins():
        if isinstance(plugin, HistoryPlugin):
            return plugin
    return None


async def _database(engine: AsyncEngine, url: str, within: float) -> dict[str, Any]:
    head = migrate.head()
    report: dict[str, Any] = {
        "url": safe_url(url),
        "backend": engine.dialect.name,
        "reachable": False,
        "revision": None,
        "head": head,
        "at_head": False,
        "error": None,
    }
    try:
        with anyio.fail_after(within):
            revision = await migrate.current(engine)
    except TimeoutError:
        report["error"] = f"no answer within {within:g} s"
        return report
    except Exception as exc:  # whatever the driver raises, the answer is "unreachable"
        report["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return report
    report.update(reachable=True, revision=revision, at_head=revision == head)
    if revision != head:
        report["error"] = f"schema at revision {revision or 'none'}, head is {head}; run `plugyard db upgrade`"
    return report


async def check(host: PluginHost, *, within: float = DEFAULT_TIMEOUT) -> Health:
    """The host's health now (the database gets ``within`` seconds to answer). Never raises for a
    sick database: that is what it reports."""
    plugins = {
        "loaded": sorted(name for name, info in host.infos.items() if info.status == "loaded"),
        "failed": {name: info.error for name, info in sorted(host.infos.items()) if info.status == "failed"},
    }
    history = _history_plugin(host)
    if history is None:
        return Health(healthy=True, database=None, recorder=None, plugins=plugins)
    url = host.config.database_url
    if history.engine is not None:
        database = await _database(history.engine, url, within)
    else:
        engine = create_engine(url)
        try:
            database = await _database(engine, url, within)
        finally:
            await engine.dispose()
    recorder = None
    if history.recorder is not None:
        r = history.recorder
        recorder = {"queue_depth": r.depth, "written": r.written, "journaled": r.journaled, "failures": r.failures}
    healthy = bool(database["reachable"] and database["at_head"])
    return Health(healthy=healthy, database=database, recorder=recorder, plugins=plugins)
