"""Search sequences: which calls follow a search in the same session, and what they say.

A search opens in its session (the MCP session; without one, the user's calls stand in for it).
The calls that follow it there are its outcomes, until the next search in the session, the
``MAX_FOLLOWING``-th call, or ``WINDOW`` seconds; then it is resolved: a ``SearchEvent`` to store,
and the tools it showed that were never called count as skipped. Calls of the search tool itself
are not outcomes. A call whose failure is not the tool's fault (invalid arguments, a veto, a
cancellation) is an outcome with ``success = None``: the tool was chosen, its worth is unknown.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

WINDOW = 600.0
"""Seconds after a search during which the session's calls still count as its outcomes."""
MAX_FOLLOWING = 8
"""Calls after a search that count as its outcomes."""
NOT_THE_TOOLS_FAULT = frozenset({"InvalidArguments", "ToolVetoed", "Cancelled"})


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    tool: str
    success: bool | None
    call_id: str | None = None


@dataclasses.dataclass(slots=True)
class SearchEvent:
    """One search and what followed it: what is stored, and what the associations learn from."""

    search_id: str
    user_id: str
    session_id: str | None
    query: str
    shown: tuple[str, ...]
    at: float
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)

    @property
    def hit(self) -> bool:
        """A tool it showed was then called successfully."""
        shown = set(self.shown)
        return any(o.success and o.tool in shown for o in self.outcomes)

    @property
    def skipped(self) -> list[str]:
        """The tools shown, passed over, and never called afterwards, read as a cascade (a caller scans
        the list from the top): those ranked above the lowest shown tool that was called; every shown
        tool when only tools not shown were called; none when nothing was called (the caller may have
        had no use for any tool)."""
        called = {o.tool for o in self.outcomes}
        if not called:
            return []
        positions = [i for i, tool in enumerate(self.shown) if tool in called]
        examined = self.shown[: positions[-1] + 1] if positions else self.shown
        return [t for t in examined if t not in called]


class SearchSequences:
    """The open searches, one per session at most; thread-safe."""

    def __init__(self, *, window: float = WINDOW, max_following: int = MAX_FOLLOWING) -> None:
        self.window = window
        self.max_following = max_following
        self._open: dict[str, SearchEvent] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(user_id: str, session_id: str | None) -> str:
        return f"s:{session_id}" if session_id else f"u:{user_id}"

    def opened(self, event: SearchEvent) -> SearchEvent | None:
        """Open ``event`` in its session; returns the search it ends there, if any (now resolved)."""
        key = self.key(event.user_id, event.session_id)
        with self._lock:
            previous = self._open.pop(key, None)
            self._open[key] = event
        return previous

    def close(self, user_id: str, session_id: str | None) -> SearchEvent | None:
        """Resolve the session's open search, if any (a new search is about to be ranked)."""
        with self._lock:
            return self._open.pop(self.key(user_id, session_id), None)

    def __bool__(self) -> bool:
        """Whether any search is open (read without the lock: a call that races a new search is
        not its outcome anyway)."""
        return bool(self._open)

    def followed(
        self, user_id: str, session_id: str | None, outcome: Outcome, at: float
    ) -> tuple[SearchEvent | None, SearchEvent | None]:
        """A call in a session: (the open search it is an outcome of, that search if this call
        resolved it). A search past its window is resolved without the call."""
        key = self.key(user_id, session_id)
        with self._lock:
            event = self._open.get(key)
            if event is None:
                return None, None
            if at - event.at > self.window:
                del self._open[key]
                return None, event
            event.outcomes.append(outcome)
            if len(event.outcomes) >= self.max_following:
                del self._open[key]
                return event, event
            return event, None

    def expired(self, now: float) -> list[SearchEvent]:
        """Resolve every search whose window has passed."""
        with self._lock:
            done = [k for k, e in self._open.items() if now - e.at > self.window]
            return [self._open.pop(k) for k in done]

    def close_all(self) -> list[SearchEvent]:
        """Resolve every open search (the server is stopping)."""
        with self._lock:
            events, self._open = list(self._open.values()), {}
        return events

    def __len__(self) -> int:
        return len(self._open)


def outcome_of(tool: str, success: bool, error_type: str | None, call_id: str | None) -> Outcome:
    if not success and error_type in NOT_THE_TOOLS_FAULT:
        return Outcome(tool, None, call_id)
    return Outcome(tool, success, call_id)


def replay(events: Iterable[SearchEvent]) -> Iterable[tuple[str, str, str, bool | None]]:
    """What resolved events teach, in order: (user, query, tool, True for a success, False for a
    failure, None for a tool shown and skipped); see ``Ranker.learn_call`` and ``learn_skip``."""
    for event in events:
        for outcome in event.outcomes:
            if outcome.success is not None:
                yield event.user_id, event.query, outcome.tool, outcome.success
        for tool in event.skipped:
            yield event.user_id, event.query, tool, None
