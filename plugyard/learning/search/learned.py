"""Term-to-tool associations learnt from search sequences, for everyone and per user.

A search's query terms and a tool it led to (see ``sequences.py``) form the evidence:

- a successful call of the tool after the search: ``+1`` for every (term, tool);
- a failed call (the tool's fault): ``-1``;
- a tool shown and not called: ``-WEAK`` (the caller saw it and preferred something else).

Evidence ``e`` for a term and a tool counts as ``e / (|e| + 1)`` (one success: 0.5, three: 0.75;
a miss pulls below zero the same way), weighted by how specific the term is among the learnt
associations: ``ln(1 + (N - n_t + 0.5) / (n_t + 0.5))`` with ``n_t`` the tools the term points to
and ``N`` the tools indexed, the same shape as BM25's idf. A user's own evidence is kept apart and
only ever shapes that user's ranking; everyone's (the sum over users) shapes everyone's.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterable, Sequence

WEAK = 0.25
"""What a tool shown and not called counts against it, next to a failed call's 1."""


@dataclasses.dataclass(slots=True)
class Evidence:
    positive: float = 0.0
    negative: float = 0.0

    @property
    def net(self) -> float:
        return self.positive - self.negative


@dataclasses.dataclass(frozen=True, slots=True)
class Learned:
    """What the associations say of one tool for one query."""

    everyone: float
    mine: float
    my_searches: float
    """The caller's successful calls of the tool after searches sharing a term with this query."""
    terms: tuple[str, ...]
    """The query terms with positive evidence for the tool, strongest first."""


class Associations:
    """Evidence per (term, tool), over everyone and per user; thread-safe, memory only."""

    def __init__(self) -> None:
        self._everyone: dict[str, dict[str, Evidence]] = {}
        self._users: dict[tuple[str, str], dict[str, Evidence]] = {}
        self._lock = threading.Lock()
        self.events = 0

    def add(self, user_id: str, terms: Iterable[str], tool: str, signal: float) -> None:
        """Count ``signal`` (+1 success, -1 failure, -WEAK shown and skipped) for each distinct term."""
        with self._lock:
            for term in dict.fromkeys(terms):
                _bump(self._everyone.setdefault(term, {}), tool, signal)
                _bump(self._users.setdefault((user_id, term), {}), tool, signal)

    def forget_user(self, user_id: str) -> None:
        """Drop one user's own evidence (everyone's sums keep it, as the router's do)."""
        with self._lock:
            for key in [k for k in self._users if k[0] == user_id]:
                del self._users[key]

    def tools_for(self, terms: Sequence[str]) -> set[str]:
        """Every tool some term of the query has positive evidence for (candidates beyond the text match)."""
        found: set[str] = set()
        for term in terms:
            for tool, cell in self._everyone.get(term, {}).items():
                if cell.net > 0:
                    found.add(tool)
        return found

    def score(self, user_id: str, terms: Sequence[str], tools: Iterable[str], n_tools: int) -> dict[str, Learned]:
        """Everyone's and the user's association scores of ``tools`` for the query ``terms``."""
        rows: list[tuple[str, dict[str, Evidence], dict[str, Evidence] | None]] = []
        for term in dict.fromkeys(terms):
            cells = self._everyone.get(term)
            if cells:
                rows.append((term, cells, self._users.get((user_id, term))))
        weights = {t: _specificity(n_tools, sum(c.net > 0 for c in g.values())) for t, g, _u in rows}
        out: dict[str, Learned] = {}
        for tool in tools:
            everyone = mine = mine_pos = 0.0
            strong: list[tuple[float, str]] = []
            for term, g, u in rows:
                cell = g.get(tool)
                if cell is None:
                    continue
                w = weights[term]
                everyone += w * _squash(cell.net)
                if cell.net > 0:
                    strong.append((w * _squash(cell.net), term))
                own = u.get(tool) if u else None
                if own is not None:
                    mine += w * _squash(own.net)
                    mine_pos = max(mine_pos, own.positive)
            if everyone or mine:
                ordered = tuple(t for _s, t in sorted(strong, reverse=True))
                out[tool] = Learned(everyone, mine, mine_pos, ordered)
        return out


def _bump(cells: dict[str, Evidence], tool: str, signal: float) -> None:
    cell = cells.get(tool)
    if cell is None:
        cell = cells[tool] = Evidence()
    if signal >= 0:
        cell.positive += signal
    else:
        cell.negative -= signal


def _squash(net: float) -> float:
    return net / (abs(net) + 1.0)


def _specificity(n_tools: int, pointed: int) -> float:
    n = max(n_tools, pointed, 1)
    return math.log(1.0 + (n - pointed + 0.5) / (pointed + 0.5))
