"""Tool search for one host: the ``search_tools`` tool, the learning from what follows a search,
and its events' storage and sharing. The ranking itself is ``plugyard.learning.search`` (pure
Python); this module feeds it the registry, the router's posteriors and the recorded events.

- The index follows the registry: it is rebuilt on the first search after ``host.tools`` changed
  (its ``generation``), and a reload builds a new host, hence a new index.
- A search opens in its session; the session's next calls are its outcomes (``sequences.py``). A
  call teaches the associations at once; what was shown and skipped, once the search is resolved,
  and then the event is written (``search_store.py``).
- At start-up the associations are rebuilt from the stored events; every ``POLL_SECONDS`` the events
  other replicas (other processes on the same database) wrote are folded in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from plugyard.core.calls import ToolCall, ToolContext, ToolOutcome
from plugyard.core.content import Text, ToolResult
from plugyard.core.tools import Tool, ToolRegistry
from plugyard.history.search_store import SearchStore
from plugyard.learning.router import ToolPreferenceRouter
from plugyard.learning.search.learned import Associations
from plugyard.learning.search.ranker import Hit, Ranker, ToolDoc, ToolIndex, Usage
from plugyard.learning.search.sequences import SearchEvent, SearchSequences, outcome_of, replay

log = logging.getLogger("plugyard.history.search")

TICK_SECONDS = 1.0
POLL_SECONDS = 2.0
POLL_OVERLAP = timedelta(seconds=30)
"""How far back each poll looks again: a row committed late (or by a replica whose clock lags) is
still seen; search ids make seeing it twice harmless."""
DESCRIPTION_CHARS = 160


class FoundTool(BaseModel):
    """One result: a tools/list entry plus the score and why."""

    name: str
    title: str | None = None
    description: str
    inputSchema: dict[str, Any]
    score: float
    why: str


class FoundTools(BaseModel):
    tools: list[FoundTool]


Query = Annotated[
    str,
    Field(min_length=1, max_length=20_000, description="What you want to do, in your words (English or Chinese)."),
]
Limit = Annotated[int, Field(ge=1, le=50, description="At most this many tools.")]


class ToolSearch:
    """Search over ``tools``, learning from the calls that follow each search."""

    def __init__(self, router: Callable[[], ToolPreferenceRouter], *, clock: Callable[[], float] = time.time) -> None:
        self._router = router
        self._redact: Callable[[str], str] = str
        self.clock = clock
        self.associations = Associations()
        self.sequences = SearchSequences()
        self.tools: ToolRegistry | None = None
        self.store: SearchStore | None = None
        self._ranker: Ranker | None = None
        self._indexed: dict[str, Tool] = {}
        self._generation = -1
        self._unwritten: list[SearchEvent] = []
        self._mine: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._poll_from: datetime | None = None
        self._busy = anyio.Lock()
        self._closed = False
        self.learnt_from = 0
        self.rebuilds = 0

    # -- lifetime --------------------------------------------------------------------------

    async def start(self, tools: ToolRegistry, store: SearchStore, redact: Callable[[str], str]) -> None:
        """Rebuild the associations from the stored events; queries are stored through ``redact``."""
        self.tools = tools
        self.store = store
        self._redact = redact
        self._poll_from = datetime.now(UTC)
        events = await store.load()
        self._learn(events)
        for event in events:
            self._seen[event.search_id] = self.clock()
        log.info("tool search learnt from %d stored search(es)", len(events))

    async def run(self) -> None:
        """Until closed or cancelled: resolve searches past their window, write resolved ones, poll others'."""
        last_poll = 0.0
        while not self._closed:
            await anyio.sleep(TICK_SECONDS)
            async with self._busy:
                if self._closed:
                    return
                now = self.clock()
                self._resolved(self.sequences.expired(now))
                # Shielded: a query cut off by the host stopping leaks its connection (PostgreSQL's pool
                # never gets it back); each is short, and close() runs after.
                with anyio.CancelScope(shield=True):
                    await self._write()
                    if now - last_poll >= POLL_SECONDS:
                        last_poll = now
                        await self.poll()

    async def close(self) -> None:
        """Resolve every open search and write what is left (the host is stopping); the background
        work stops first, so nothing still uses the database when the engine goes."""
        async with self._busy:
            self._closed = True
            self._resolved(self.sequences.close_all())
            await self._write()
        if self._unwritten:
            log.error("tool search: %d resolved search(es) could not be written", len(self._unwritten))

    async def sync(self) -> None:
        """Write what is resolved, then fold in what others wrote (tests and tooling)."""
        async with self._busy:
            await self._write()
            await self.poll()

    # -- the index -------------------------------------------------------------------------

    def ranker(self) -> Ranker:
        tools = self.tools
        if tools is None:
            raise RuntimeError("tool search has not started")
        if self._ranker is None or self._generation != tools.generation:
            started = time.perf_counter()
            current = [t for t in tools if not t.discovery]
            docs = [ToolDoc(t.name, t.description, t.input_schema, t.title) for t in current]
            # A tool registered again as the same object keeps its tokens (one upstream re-listing).
            previous = self._ranker.index.fields if self._ranker is not None else {}
            kept = {t.name: previous[t.name] for t in current if self._indexed.get(t.name) is t and t.name in previous}
            self._indexed = {t.name: t for t in current}
            self._ranker = Ranker(ToolIndex(docs, prepared=kept), self.associations)
            self._generation = tools.generation
            self.rebuilds += 1
            log.debug("tool search index: %d tools in %.1f ms", len(docs), (time.perf_counter() - started) * 1e3)
        return self._ranker

    def usage(self, user_id: str, names: Sequence[str]) -> dict[str, Usage]:
        """The user's record with those of ``names`` they called, from the router (the ranker's preferences)."""
        router = self._router()
        counts = {n: router.user_counts(user_id, n) for n in names}
        used = [n for n, (s, f) in counts.items() if s + f > 0]
        if not used:
            return {}
        return {
            score.tool: Usage(
                calls=sum(counts[score.tool]), successes=counts[score.tool][0], success_mean=score.success_mean
            )
            for score in router.rank(user_id, used)
        }

    def find(
        self, query: str, user_id: str, *, limit: int = 5, session_id: str | None = None, search_id: str | None = None
    ) -> list[Hit]:
        """Rank the tools for ``query``; with a ``search_id``, the search opens in its session (after
        the one open there is resolved: what it taught counts for this ranking already)."""
        if search_id is not None:
            previous = self.sequences.close(user_id, session_id)
            if previous is not None:
                self._resolved([previous])
        ranker = self.ranker()
        hits = ranker.search(query, user_id, limit=limit, preferences=self.usage)
        if search_id is not None:
            event = SearchEvent(
                search_id=search_id,
                user_id=user_id,
                session_id=session_id,
                query=self._redact(query),
                shown=tuple(h.name for h in hits),
                at=self.clock(),
            )
            previous = self.sequences.opened(event)
            if previous is not None:
                self._resolved([previous])
        return hits

    # -- the tool --------------------------------------------------------------------------

    async def search_tools(self, ctx: ToolContext, query: Query, limit: Limit = 5) -> Annotated[ToolResult, FoundTools]:
        """Find the tools that fit what you want to do, best first: each with its input schema (call it
        by name, or through call_tool), a score, and why it was chosen (what it matches, what your
        past searches and calls say)."""
        hits = self.find(query, ctx.user_id, limit=limit, session_id=ctx.session_id, search_id=ctx.call_id)
        tools = self.tools
        assert tools is not None
        found: list[FoundTool] = []
        for hit in hits:
            tool = tools.get(hit.name)
            if tool is None:
                continue
            found.append(
                FoundTool(
                    name=tool.name,
                    title=tool.title,
                    description=tool.description,
                    inputSchema=tool.input_schema,
                    score=round(hit.score, 4),
                    why=hit.why(),
                )
            )
        return ToolResult(content=[Text(text=_render(query, found))], structured=FoundTools(tools=found).model_dump())

    # -- learning --------------------------------------------------------------------------

    def observe(self, call: ToolCall, outcome: ToolOutcome, *, discovery: bool) -> None:
        """A finished call (from ``after_tool_call``): an outcome of its session's open search."""
        if discovery or not self.sequences:
            return  # most calls follow no search: nothing to build
        at = call.started_at.timestamp()
        result = outcome_of(call.tool_name, outcome.success, outcome.error_type, call.call_id)
        event, resolved = self.sequences.followed(call.user_id, call.session_id, result, at)
        if event is not None and result.success is not None:
            self.ranker().learn_call(event.user_id, event.query, result.tool, result.success)
        if resolved is not None:
            self._resolved([resolved])

    def _resolved(self, events: Sequence[SearchEvent]) -> None:
        ranker = self.ranker()
        for event in events:
            for tool in event.skipped:
                ranker.learn_skip(event.user_id, event.query, tool)
            self._unwritten.append(event)
            self.learnt_from += 1

    def _learn(self, events: Sequence[SearchEvent]) -> None:
        ranker = self.ranker()
        for user_id, query, tool, success in replay(events):
            if success is None:
                ranker.learn_skip(user_id, query, tool)
            else:
                ranker.learn_call(user_id, query, tool, success)
        self.learnt_from += len(events)

    async def _write(self) -> None:
        if not self._unwritten or self.store is None:
            return
        batch, self._unwritten = self._unwritten, []
        try:
            await self.store.write(batch)
        except (SQLAlchemyError, OSError) as exc:
            self._unwritten = batch + self._unwritten
            log.warning("tool search: %d search(es) not written yet (%s); retrying", len(batch), exc)
            return
        now = self.clock()
        for event in batch:
            self._mine[event.search_id] = now  # what a poll reads back of our own is not learnt twice

    async def poll(self) -> int:
        """Fold in the searches other replicas wrote since the last poll; returns how many."""
        if self.store is None or self._poll_from is None:
            return 0
        started = datetime.now(UTC)
        try:
            rows = await self.store.recorded_since(self._poll_from - POLL_OVERLAP)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("tool search: polling for other replicas' searches failed (%s)", exc)
            return 0
        self._poll_from = started
        now = self.clock()
        fresh = []
        for event, _recorded in rows:
            if event.search_id in self._mine or event.search_id in self._seen:
                continue
            self._seen[event.search_id] = now
            fresh.append(event)
        self._learn(fresh)
        horizon = now - 4 * POLL_OVERLAP.total_seconds()
        for table in (self._mine, self._seen):
            for key in [k for k, at in table.items() if at < horizon]:
                del table[key]
        return len(fresh)


def _render(query: str, found: Sequence[FoundTool]) -> str:
    if not found:
        return f"no tool fits {query!r}; try other words"
    lines = [f"{len(found)} tool(s) for {query!r}, best first (call one by name, or through call_tool):"]
    for i, tool in enumerate(found, 1):
        first = tool.description.strip().splitlines()[0] if tool.description.strip() else ""
        if len(first) > DESCRIPTION_CHARS:
            first = first[: DESCRIPTION_CHARS - 1] + "…"
        lines.append(f"{i}. {tool.name} ({tool.score:.2f}): {first} [{tool.why}]")
    return "\n".join(lines)
