"""Term-to-tool associations learnt from search sequences, for everyone and per user.

What follows a search (see ``sequences.py``) is evidence about its query's terms and a tool:

- a successful call of the tool after the search: every distinct query term points to the tool (+1);
- a failed call (the tool's fault): every term points away from it (1);
- a tool shown and not called: the query terms that matched its text point away from it (``WEAK``):
  the caller saw those words match and preferred something else.

Positive evidence is scored as BM25 over "learnt documents" (each tool's pseudo-document is the
terms of the searches that led to it, the classic query-log document expansion):
``idf(t) * w~ / (K1 + w~)`` with ``w~ = w / (1 - B + B * mass(tool) / mean mass)``, where ``idf``
counts the tools a term points to: a term that led to many tools (``file``, ``create``) counts little.
Negative evidence ``n`` sinks
a tool by ``idf(t) * n / (n + 1)``. A user's own evidence is kept apart and only ever shapes that
user's ranking; everyone's (the sum over users) shapes everyone's.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Sequence

WEAK = 0.1
"""What a tool shown and not called counts against it, next to a failed call's 1."""
K1 = 1.2
B = 0.0
"""Length normalisation of the learnt documents: none measured best (bench/RESULTS.md), since a tool
that many searches led to is, on the evidence, a tool searches often want."""


@dataclasses.dataclass(frozen=True, slots=True)
class Learned:
    """What the associations say of one tool for one query (in BM25 units)."""

    lift: float
    """Everyone's positive evidence."""
    sink: float
    """Everyone's negative evidence."""
    my_lift: float
    my_sink: float
    my_searches: float
    """The caller's successful calls of the tool after searches sharing a term with this query."""
    terms: tuple[str, ...]
    """The query terms pointing to the tool, strongest first."""


class _Side:
    """Evidence of one kind (positive or negative), everyone's and per user."""

    def __init__(self) -> None:
        self.everyone: dict[str, dict[str, float]] = {}
        self.users: dict[tuple[str, str], dict[str, float]] = {}
        self.mass: dict[str, float] = {}
        self.user_mass: dict[tuple[str, str], float] = {}
        self.total = 0.0

    def add(self, user_id: str, terms: Iterable[str], tool: str, amount: float) -> None:
        n = 0
        for term in terms:
            cells = self.everyone.setdefault(term, {})
            cells[tool] = cells.get(tool, 0.0) + amount
            mine = self.users.setdefault((user_id, term), {})
            mine[tool] = mine.get(tool, 0.0) + amount
            n += 1
        self.mass[tool] = self.mass.get(tool, 0.0) + amount * n
        self.user_mass[(user_id, tool)] = self.user_mass.get((user_id, tool), 0.0) + amount * n
        self.total += amount * n


class Associations:
    """Term-to-tool evidence over everyone and per user; thread-safe, memory only."""

    def __init__(self, *, k1: float = K1, b: float = B) -> None:
        self.k1 = k1
        self.b = b
        self._pos = _Side()
        self._neg = _Side()
        self._lock = threading.Lock()

    def add(self, user_id: str, terms: Iterable[str], tool: str, signal: float) -> None:
        """Count ``signal`` (+1 success, -1 failure, -WEAK shown and skipped) for each distinct term."""
        unique = list(dict.fromkeys(terms))
        if not unique or signal == 0:
            return
        with self._lock:
            (self._pos if signal > 0 else self._neg).add(user_id, unique, tool, abs(signal))

    def forget_user(self, user_id: str) -> None:
        """Drop one user's own evidence (everyone's sums keep it, as the router's do)."""
        with self._lock:
            for side in (self._pos, self._neg):
                for key in [k for k in side.users if k[0] == user_id]:
                    del side.users[key]
                for key in [k for k in side.user_mass if k[0] == user_id]:
                    del side.user_mass[key]

    def tools_for(self, terms: Sequence[str]) -> set[str]:
        """Every tool some term of the query points to (candidates beyond the text match)."""
        found: set[str] = set()
        for term in terms:
            found.update(self._pos.everyone.get(term, ()))
        return found

    def score(self, user_id: str, terms: Sequence[str], tools: Iterable[str], n_tools: int) -> dict[str, Learned]:
        """Everyone's and the user's evidence about ``tools`` for the query ``terms``."""
        pos, neg = self._pos, self._neg
        wanted = set(tools)
        mean_mass = pos.total / len(pos.mass) if pos.mass else 1.0
        lift: dict[str, float] = {}
        my_lift: dict[str, float] = {}
        my_count: dict[str, float] = {}
        strong: dict[str, list[tuple[float, str]]] = {}
        sink: dict[str, float] = {}
        my_sink: dict[str, float] = {}
        k1, b = self.k1, self.b
        for term in dict.fromkeys(terms):
            cells = pos.everyone.get(term)
            weight = _idf(n_tools, len(cells) if cells else 0)
            if cells:
                for tool, w in cells.items():
                    if tool not in wanted:
                        continue
                    tf = w / (1.0 - b + b * pos.mass[tool] / mean_mass)
                    part = weight * tf / (k1 + tf)
                    lift[tool] = lift.get(tool, 0.0) + part
                    strong.setdefault(tool, []).append((part, term))
                mine = pos.users.get((user_id, term))
                for tool, w in (mine or {}).items():
                    if tool not in wanted:
                        continue
                    tf = w / (1.0 - b + b * pos.user_mass[(user_id, tool)] / mean_mass)
                    my_lift[tool] = my_lift.get(tool, 0.0) + weight * tf / (k1 + tf)
                    my_count[tool] = max(my_count.get(tool, 0.0), w)
            for cells_neg, out in ((neg.everyone.get(term), sink), (neg.users.get((user_id, term)), my_sink)):
                for tool, n in (cells_neg or {}).items():
                    if tool in wanted:
                        out[tool] = out.get(tool, 0.0) + weight * n / (n + 1.0)
        result: dict[str, Learned] = {}
        for tool in set(lift) | set(sink) | set(my_lift) | set(my_sink):
            ordered = tuple(t for _p, t in sorted(strong.get(tool, ()), reverse=True))
            result[tool] = Learned(
                lift.get(tool, 0.0),
                sink.get(tool, 0.0),
                my_lift.get(tool, 0.0),
                my_sink.get(tool, 0.0),
                my_count.get(tool, 0.0),
                ordered,
            )
        return result


def _idf(n_tools: int, pointed: int) -> float:
    n = max(n_tools, pointed, 1)
    return math.log(1.0 + (n - pointed + 0.5) / (pointed + 0.5))
