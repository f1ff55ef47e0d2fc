"""The history plugin's MCP tools. Each answers for the caller only (``ctx.user_id``): a user sees
their own calls, failures, preferences and ratings, never anyone else's."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from plugyard.core.calls import ToolContext
from plugyard.history.db import first_line
from plugyard.history.errors import HistoryError, UnknownCall
from plugyard.history.service import ToolHistoryService

if TYPE_CHECKING:
    from plugyard.history.plugin import HistoryPlugin

T = TypeVar("T")
ANSWER_WITHIN = 2.0
"""Seconds a history tool waits for the database before it says the database is not answering."""
FLUSH_WITHIN = 1.0
"""Seconds a history tool waits for the calls still queued to be written before it answers without them."""
STUCK_WRITE = 0.2
"""A batch still being written after this many seconds means the database is locked or away."""

Days = Annotated[int, Field(ge=1, le=3650, description="Whole days back, today included.")]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many entries.")]


HISTORY_TOOL_NAMES = frozenset(
    {"tool_stats", "preferred_tools", "recent_failures", "rate_tool_call", "recommend_tools", "search_tools"}
)
"""The history plugin's own tools (see ``HistoryPlugin.register_tools``): they read and rate the
history, so calling them is no sign of which tools do a user's work."""


class HistoryTools:
    """Bound to one HistoryPlugin; registered through its ``register_tools`` hook."""

    def __init__(self, plugin: HistoryPlugin) -> None:
        self.plugin = plugin

    def _service(self) -> ToolHistoryService:
        if self.plugin.service is None:
            raise HistoryError("the history is not open yet (the history plugin has not started)")
        return self.plugin.service

    async def _flush(self) -> None:
        # A call finished a moment ago may still be queued; answer about it too (unless the database is away:
        # the writer is retrying, and the answer would wait for the outage to end).
        recorder = self.plugin.recorder
        if recorder is None or recorder.retrying:
            return
        since = recorder.writing_since
        if since is not None and time.monotonic() - since > STUCK_WRITE:
            return  # a batch is taking long: the database is locked or away
        with anyio.move_on_after(FLUSH_WITHIN):
            await recorder.flush()

    async def _ask(self, question: Awaitable[T]) -> T:
        """The database's answer, or at once a clear error when it is away, locked or slow."""
        try:
            with anyio.fail_after(ANSWER_WITHIN):
                return await question
        except TimeoutError:
            raise HistoryError(
                f"the history database did not answer within {ANSWER_WITHIN:g} s (locked or unreachable); "
                "try again later (calls are still recorded: queued, then journaled)"
            ) from None
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise HistoryError(
                f"the history database cannot be read now ({type(exc).__name__}: {first_line(exc)}); try again later "
                "(calls are still recorded: queued, then journaled)"
            ) from None

    async def tool_stats(
        self,
        ctx: ToolContext,
        tool: Annotated[str | None, Field(description="One tool's name; every tool you used when omitted.")] = None,
        days: Days = 30,
    ) -> dict[str, Any]:
        """Your calls per tool: count, success rate, average/p50/p95 latency in ms, and the most frequent errors."""
        await self._flush()
        stats = await self._ask(self._service().get_tool_statistics(tool, days, user_id=ctx.user_id))
        return {"days": days, "tools": [s.as_dict() for s in stats]}

    async def preferred_tools(
        self,
        ctx: ToolContext,
        limit: Limit = 10,
        intent: Annotated[str | None, Field(description="Only calls made for this intent.")] = None,
    ) -> dict[str, Any]:
        """The tools you have used, best first by what your history says (success, speed, your ratings),
        each with the reason."""
        ranked = self.plugin.router.preferred_tools(ctx.user_id, intent=intent, limit=limit + len(HISTORY_TOOL_NAMES))
        scores = [s for s in ranked if s.tool not in HISTORY_TOOL_NAMES][:limit]
        return {"intent": intent, "tools": [_public(s.as_dict()) for s in scores]}

    async def recent_failures(self, ctx: ToolContext, limit: Limit = 10) -> dict[str, Any]:
        """Your most recent failed tool calls, newest first, with their errors and call ids."""
        await self._flush()
        failures = await self._ask(self._service().get_recent_failed_tools(ctx.user_id, limit))
        return {"failures": [f.as_dict() for f in failures]}

    async def rate_tool_call(
        self,
        ctx: ToolContext,
        call_id: Annotated[str, Field(description="The call's id, from its result's _meta['plugyard/call_id'].")],
        score: Annotated[int, Field(ge=1, le=5, description="1 (useless) to 5 (exactly right).")],
        comment: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> dict[str, Any]:
        """Rate how satisfied you were with one of your tool calls; rating again replaces the rating."""
        service = self._service()
        try:
            feedback = await self._ask(
                service.update_user_satisfaction(call_id, score, user_id=ctx.user_id, comment=comment)
            )
        except UnknownCall:
            await self._flush()
            feedback = await self._ask(
                service.update_user_satisfaction(call_id, score, user_id=ctx.user_id, comment=comment)
            )
        self.plugin.router.observe_feedback(
            feedback.user_id, feedback.tool_name, feedback.previous, feedback.score, intent=feedback.intent
        )
        self.plugin.replicas.mark_own_rating(feedback.call_id, feedback.score)
        return {
            "call_id": feedback.call_id,
            "tool": feedback.tool_name,
            "score": feedback.score,
            "previous_score": feedback.previous,
        }

    async def recommend_tools(
        self,
        ctx: ToolContext,
        intent: Annotated[str | None, Field(description="What you are doing, e.g. error_diagnosis.")] = None,
        capability: Annotated[
            str | None, Field(description="Only tools offering this capability, e.g. search_notes.")
        ] = None,
        limit: Limit = 10,
    ) -> dict[str, Any]:
        """The tools best suited to an intent or a capability for you, ranked, with their scores and why."""
        host = self.plugin.host
        if host is None:
            raise HistoryError("the history plugin has not started")
        if capability:
            candidates = [t.name for t in host.tools.with_capability(capability)]
        else:
            candidates = [t.name for t in host.tools if t.plugin != self.plugin.name]
        ranked = self.plugin.router.rank(ctx.user_id, candidates, intent=intent)[:limit]
        return {
            "intent": intent,
            "capability": capability,
            "policy_version": self.plugin.router.policy_version,
            "tools": [_public(s.as_dict()) for s in ranked],
        }


_LEARNED_FROM_OTHERS = (
    "expected",
    "alpha",
    "beta",
    "success_mean",
    "prior_strength",
    "latency_ms",
    "latency_penalty",
    "satisfaction",
    "satisfaction_reward",
)


def _public(score: dict[str, Any]) -> dict[str, Any]:
    """What a user may see of a score: nothing counted over other users. For a tool the caller has
    never used, every figure would be other users' (with one other user, exactly theirs), so only
    its place in the ranking is shown."""
    score.pop("global_calls", None)
    if not score.get("user_calls"):
        for key in _LEARNED_FROM_OTHERS:
            score[key] = None
        score["reason"] = "no calls of yours yet: placed by how it does for everyone, which is not shown"
    return score
