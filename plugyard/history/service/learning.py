"""What the learner reads from the history: the rollup rows a router is warmed from."""

from __future__ import annotations

import sqlalchemy as sa

from plugyard.history.rollup_models import user_tool_stats_table
from plugyard.history.service.base import ServiceBase
from plugyard.learning.counts import StoredCounts


class LearnerView(ServiceBase):
    """The learner's view of the history."""

    async def stored_counts(self) -> list[StoredCounts]:
        """Every (user, intent, tool) rollup row, for warming the preference router."""
        u = user_tool_stats_table
        statement = sa.select(
            u.c.user_id,
            u.c.intent,
            u.c.tool_name,
            u.c.w_success,
            u.c.w_failure,
            u.c.w_ms,
            u.c.satisfaction_sum,
            u.c.satisfaction_count,
        )
        async with self.engine.connect() as connection:
            result = await connection.stream(statement)
            return [StoredCounts(r[0], r[1] or None, *r[2:]) async for r in result]
