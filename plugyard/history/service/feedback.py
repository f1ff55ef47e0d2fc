"""Satisfaction feedback: a rating per call, kept beside the call's append-only row and counted
into ``user_tool_stats`` in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa

from plugyard.history.errors import UnknownCall
from plugyard.history.models import tool_call_table
from plugyard.history.results import Feedback
from plugyard.history.rollup_models import NO_INTENT, call_feedback_table, user_tool_stats_table
from plugyard.history.service.base import ServiceBase


class Feedbacks(ServiceBase):
    """Rating calls."""

    async def update_user_satisfaction(
        self, call_id: str, score: int, *, user_id: str | None = None, comment: str | None = None
    ) -> Feedback:
        """Rate a call 1-5 (again: the new rating replaces the old). With ``user_id``, only that
        user's calls can be rated; anyone else's is reported as unknown."""
        if not 1 <= score <= 5:
            raise ValueError(f"a satisfaction score is 1 to 5, got {score}")
        t, fb, u = tool_call_table, call_feedback_table, user_tool_stats_table
        now = self.clock()
        async with self.engine.begin() as connection:
            # FOR UPDATE (PostgreSQL) serialises two ratings of one call; SQLite has one writer anyway.
            call = (
                await connection.execute(
                    sa.select(t.c.user_id, t.c.tool_name, t.c.intent).where(t.c.call_id == call_id).with_for_update()
                )
            ).one_or_none()
            if call is None or (user_id is not None and call.user_id != user_id):
                raise UnknownCall(
                    f"no recorded call {call_id!r}"
                    + (f" of user {user_id!r}" if user_id is not None else "")
                    + "; the call id is in each result's _meta (calls are written within a second)"
                )
            intent = call.intent or NO_INTENT
            previous = (await connection.execute(sa.select(fb.c.score).where(fb.c.call_id == call_id))).scalar()
            if previous is None:
                await connection.execute(
                    sa.insert(fb).values(
                        call_id=call_id,
                        user_id=call.user_id,
                        tool_name=call.tool_name,
                        intent=intent,
                        score=score,
                        comment=comment,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                await connection.execute(
                    sa.update(fb).where(fb.c.call_id == call_id).values(score=score, comment=comment, updated_at=now)
                )
            await connection.execute(
                sa.update(u)
                .where(u.c.user_id == call.user_id, u.c.intent == intent, u.c.tool_name == call.tool_name)
                .values(
                    satisfaction_sum=u.c.satisfaction_sum + (score - (previous or 0)),
                    satisfaction_count=u.c.satisfaction_count + (0 if previous is not None else 1),
                )
            )
        return Feedback(call_id, call.user_id, call.tool_name, call.intent, score, previous, comment)
