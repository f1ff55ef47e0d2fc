"""The history plugin's read-only resources. Each shows the reader's own data only (the
``ResourceContext`` the server fills from the authenticated or default user), never anyone else's.

- ``plugyard://history/recent``: the reader's most recent tool calls, newest first.
- ``plugyard://history/stats``: the reader's calls per tool over the last 30 days (count, success
  rate, latency percentiles, top errors) and their learned tool preferences.
- ``plugyard://workflows/runs``: the reader's most recent workflow runs, each with its action cards.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from plugyard.assistant.store import WorkflowStore
from plugyard.core.resources import ResourceContext
from plugyard.history.errors import HistoryError
from plugyard.history.history_tools import _public
from plugyard.history.models import tool_call_table

if TYPE_CHECKING:
    from plugyard.history.plugin import HistoryPlugin

RECENT_URI = "plugyard://history/recent"
STATS_URI = "plugyard://history/stats"
RUNS_URI = "plugyard://workflows/runs"
RECENT_LIMIT = 50
RUNS_LIMIT = 20
STATS_DAYS = 30

_RECENT_COLUMNS = (
    "call_id",
    "tool_name",
    "plugin_name",
    "arguments",
    "success",
    "error_type",
    "error_message",
    "execution_time_ms",
    "intent",
    "workflow_run_id",
    "created_at",
)


class HistoryResources:
    """Bound to one HistoryPlugin; registered through its ``register_resources`` hook."""

    def __init__(self, plugin: HistoryPlugin) -> None:
        self.plugin = plugin

    def register(self, register: Any) -> None:
        register(
            self.recent_calls,
            uri=RECENT_URI,
            name="recent_calls",
            title="Your recent tool calls",
            mime_type="application/json",
        )
        register(
            self.statistics,
            uri=STATS_URI,
            name="statistics",
            title="Your tool statistics",
            mime_type="application/json",
        )
        register(
            self.workflow_runs,
            uri=RUNS_URI,
            name="workflow_runs",
            title="Your workflow runs",
            mime_type="application/json",
        )

    def _running(self) -> HistoryPlugin:
        plugin = self.plugin
        if plugin.engine is None or plugin.service is None or plugin.recorder is None:
            raise HistoryError("the history is not open yet (the history plugin has not started)")
        return plugin

    async def recent_calls(self, reader: ResourceContext) -> dict[str, Any]:
        """Your most recent tool calls (at most 50), newest first: tool, outcome, duration, arguments as stored."""
        plugin = self._running()
        assert plugin.recorder is not None and plugin.engine is not None
        # A call finished a moment ago may still be queued; show it too.
        await plugin.recorder.flush()
        t = tool_call_table
        query = (
            sa.select(*(t.c[name] for name in _RECENT_COLUMNS))
            .where(t.c.user_id == reader.user_id)
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(RECENT_LIMIT)
        )
        async with plugin.engine.connect() as connection:
            rows = [dict(row) for row in (await connection.execute(query)).mappings()]
        for row in rows:
            row["success"] = bool(row["success"])
            if isinstance(row["created_at"], datetime):
                row["created_at"] = row["created_at"].isoformat()
        return {"user_id": reader.user_id, "calls": rows}

    async def statistics(self, reader: ResourceContext) -> dict[str, Any]:
        """Your calls per tool over the last 30 days (count, success rate, latency, top errors) and
        the tools your history prefers."""
        plugin = self._running()
        assert plugin.recorder is not None and plugin.service is not None
        await plugin.recorder.flush()
        stats = await plugin.service.get_tool_statistics(None, STATS_DAYS, user_id=reader.user_id)
        preferred = plugin.router.preferred_tools(reader.user_id, limit=10)
        return {
            "user_id": reader.user_id,
            "days": STATS_DAYS,
            "tools": [s.as_dict() for s in stats],
            "preferred": [_public(p.as_dict()) for p in preferred],
        }

    async def workflow_runs(self, reader: ResourceContext) -> dict[str, Any]:
        """Your most recent workflow runs (at most 20), newest first, each with its action cards."""
        plugin = self._running()
        assert plugin.engine is not None
        runs = await WorkflowStore(plugin.engine).list_runs(reader.user_id, limit=RUNS_LIMIT)
        return {"user_id": reader.user_id, "runs": runs}
