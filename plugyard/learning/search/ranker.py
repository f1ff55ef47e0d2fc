"""The ranker: which registered tools fit a query, best first, and why.

relevance = (text + LEARNT * everyone's + MINE * the caller's positive associations)
            / (1 + LEARNT * everyone's + MINE * the caller's negative ones)
score = relevance * (1 + PREFERENCE * preference)

- ``text``: BM25F over the tool's name (split on ``_ - .`` and camelCase), title, description, and its
  parameters' names and descriptions (``bm25.py``, ``tokenize.py``);
- associations: what searches with these terms led to (``learned.py``), everyone's and the caller's:
  a tool they point to is lifted (even one the text misses); one they point away from sinks, but a tool
  that fits the words is never dropped for it;
- ``preference``: the caller's own record with the tool, from the router's posteriors (in [-1, 1]:
  a tool that keeps working for this user is lifted, one that keeps failing for them is pushed down;
  0 for a tool they never called). It multiplies relevance, so it reorders fitting tools and never
  brings in one that does not fit.

The weights were set on the development sets named in bench/RESULTS.md ("Tool search").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from plugyard.learning.search.bm25 import BM25FIndex, Field
from plugyard.learning.search.learned import WEAK, Associations
from plugyard.learning.search.tokenize import split_identifier, terms_with_words

FIELDS = (
    Field("name", weight=3.0, b=0.5),
    Field("description", weight=1.0, b=0.75),
    Field("parameters", weight=0.3, b=0.75),
    Field("all", weight=0.5, b=0.75),
)
"""BM25F fields. ``all`` is the other three together (built by ``ToolIndex``): without it the weighted
fields lost to plain BM25 at rank 1 on LiveMCPBench (a term in a long description counts for little
in its field, and nothing elsewhere). Chosen on half A, scored once on half B (bench/RESULTS.md)."""
TEXT_FIELDS = ("name", "description", "parameters")
LEARNT = 0.25
MINE = 0.25
PREFERENCE = 0.25
MAX_QUERY_TERMS = 256
"""A longer query keeps its most specific distinct terms (by idf): one of LiveMCPBench's questions is
18,000 characters, and its 3,500 terms cost ten times the rest."""
RERANKED = 30
"""How many of the best by relevance the caller's preferences may reorder."""
MIN_CALLS_FOR_PREFERENCE = 5.0
"""A preference counts fully once the user called the tool this many (discounted) times."""


@dataclasses.dataclass(frozen=True, slots=True)
class ToolDoc:
    """A tool as the index sees it (the fields of a tools/list entry)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    title: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    """The caller's record with a tool, from the router: discounted calls and successes, and the
    posterior success mean the router ranks by."""

    calls: float
    successes: float
    success_mean: float


Analyzer = Callable[[str], list[tuple[str, str]]]
"""Text -> its (term, word it came from) pairs: ``tokenize.terms_with_words`` unless measuring another."""
Preferences = Callable[[str, Sequence[str]], Mapping[str, Usage]]
"""(user id, tool names) -> the user's usage of those of them they called."""


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    name: str
    score: float
    text: float
    learnt: float
    mine: float
    preference: float
    matched: tuple[str, ...]
    """The query's words the tool's text contains."""
    learnt_terms: tuple[str, ...]
    my_searches: float
    usage: Usage | None

    def why(self) -> str:
        parts: list[str] = []
        if self.matched:
            parts.append("matches " + ", ".join(f"'{w}'" for w in self.matched[:4]))
        if self.my_searches >= 1:
            n = round(self.my_searches)
            parts.append(f"you chose it after {n} search{'es' if n != 1 else ''} like this")
        elif self.learnt > 0 and self.learnt_terms:
            parts.append("often chosen after searches like this")
        elif self.learnt < 0 or self.mine < 0:
            parts.append("often passed over after searches like this")
        if self.usage is not None and self.usage.calls >= 0.5:
            calls, ok = round(self.usage.calls), round(self.usage.successes)
            parts.append(f"you used it {calls} time{'s' if calls != 1 else ''}, {ok} succeeded")
        return "; ".join(parts) or "no strong match"


def tool_fields(doc: ToolDoc, analyzer: Analyzer = terms_with_words) -> dict[str, list[str]]:
    """The index's fields of one tool."""

    def terms(text: str) -> list[str]:
        return [t for t, _w in analyzer(text)]

    name = split_identifier(doc.name)
    name_terms = terms(" ".join(name)) or name
    params: list[str] = []
    for pname, prop in _properties(doc.input_schema):
        params.extend(terms(" ".join(split_identifier(pname))))
        if isinstance(prop, Mapping):
            params.extend(terms(str(prop.get("description") or "")))
            params.extend(terms(str(prop.get("title") or "")))
    return {
        "name": name_terms,
        "description": terms(f"{doc.title or ''} {doc.description}"),
        "parameters": params,
    }


def _with_all(fields: Mapping[str, Sequence[str]]) -> Mapping[str, Sequence[str]]:
    return {**fields, "all": [t for name in TEXT_FIELDS for t in fields.get(name, ())]}


def _properties(schema: Mapping[str, Any], depth: int = 0) -> Iterable[tuple[str, Any]]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or depth > 2:
        return
    for pname, prop in props.items():
        yield str(pname), prop
        if isinstance(prop, Mapping):
            yield from _properties(prop, depth + 1)
            items = prop.get("items")
            if isinstance(items, Mapping):
                yield from _properties(items, depth + 1)


class ToolIndex:
    """The tools' text, indexed once per registry state (``ToolSearch`` rebuilds it when that changes)."""

    def __init__(
        self,
        docs: Sequence[ToolDoc],
        fields: Sequence[Field] = FIELDS,
        *,
        analyzer: Analyzer = terms_with_words,
        prepared: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> None:
        """``prepared``: the fields of tools already tokenised (by name), reused as they are."""
        self.docs = list(docs)
        self.analyzer = analyzer
        self.by_name = {d.name: i for i, d in enumerate(self.docs)}
        known = prepared or {}
        self.fields = {d.name: known.get(d.name) or tool_fields(d, analyzer) for d in self.docs}
        self.bm25 = BM25FIndex(fields, ((name, _with_all(f)) for name, f in self.fields.items()))

    def __len__(self) -> int:
        return len(self.docs)


class Ranker:
    """Ranks an index's tools for a query and a user, with learnt associations and preferences."""

    def __init__(
        self,
        index: ToolIndex,
        associations: Associations | None = None,
        *,
        learnt: float = LEARNT,
        mine: float = MINE,
        preference: float = PREFERENCE,
    ) -> None:
        self.index = index
        self.associations = associations or Associations()
        self.learnt = learnt
        self.mine = mine
        self.preference = preference

    def search(
        self,
        query: str,
        user_id: str,
        *,
        limit: int = 5,
        preferences: Preferences | None = None,
        exclude: Iterable[str] = (),
    ) -> list[Hit]:
        pairs = self.index.analyzer(query)
        query_terms = list(dict.fromkeys(t for t, _w in pairs))
        if len(query_terms) > MAX_QUERY_TERMS:
            # A pasted document, not a query: its most specific terms say what it is about.
            idf = self.index.bm25.idf
            query_terms = sorted(query_terms, key=lambda t: -idf(t))[:MAX_QUERY_TERMS]
        words = dict(pairs[::-1])  # a term's first word in the query
        index = self.index
        text = index.bm25.scores(query_terms)
        by_name = {index.docs[d].name: s for d, s in text.items()}
        candidates = set(by_name) | {t for t in self.associations.tools_for(query_terms) if t in index.by_name}
        candidates.difference_update(exclude)
        learnt = self.associations.score(user_id, query_terms, candidates, len(index))
        relevance: dict[str, float] = {}
        for name in candidates:
            got = learnt.get(name)
            value = by_name.get(name, 0.0)
            if got is not None:
                lift = self.learnt * got.lift + self.mine * got.my_lift
                sink = self.learnt * got.sink + self.mine * got.my_sink
                value = (value + lift) / (1.0 + sink)
            if value > 0:
                relevance[name] = value
        order = index.by_name
        best = sorted(relevance, key=lambda n: (-relevance[n], order[n]))[: max(RERANKED, limit)]
        usage = preferences(user_id, best) if preferences is not None and best else {}
        scored: list[tuple[float, int, str, float]] = []
        for name in best:
            pref = _preference(usage.get(name))
            scored.append((relevance[name] * (1.0 + self.preference * pref), order[name], name, pref))
        scored.sort(key=lambda s: (-s[0], s[1]))
        hits = []
        for score, _o, name, pref in scored[:limit]:
            got = learnt.get(name)
            doc = index.by_name[name]
            matched = tuple(words[t] for t in index.bm25.matched(query_terms, doc)) if name in by_name else ()
            hits.append(
                Hit(
                    name=name,
                    score=score,
                    text=by_name.get(name, 0.0),
                    learnt=got.lift - got.sink if got else 0.0,
                    mine=got.my_lift - got.my_sink if got else 0.0,
                    preference=pref,
                    matched=tuple(dict.fromkeys(matched)),
                    learnt_terms=tuple(words[t] for t in got.terms) if got else (),
                    my_searches=got.my_searches if got else 0.0,
                    usage=usage.get(name),
                )
            )
        return hits

    # -- learning (the one place the evidence of a search sequence is turned into associations) ----

    def query_terms(self, query: str) -> list[str]:
        return [t for t, _w in self.index.analyzer(query)]

    def learn_call(self, user_id: str, query: str, tool: str, success: bool) -> None:
        """A call of ``tool`` after searching ``query``: every term points to it, or away on failure."""
        self.associations.add(user_id, self.query_terms(query), tool, 1.0 if success else -1.0)

    def learn_skip(self, user_id: str, query: str, tool: str) -> None:
        """``tool`` was shown for ``query`` and not called: the terms that matched its text point away."""
        doc = self.index.by_name.get(tool)
        if doc is None:
            return
        matched = self.index.bm25.matched(self.query_terms(query), doc)
        self.associations.add(user_id, matched, tool, -WEAK)


def _preference(usage: Usage | None) -> float:
    if usage is None or usage.calls <= 0:
        return 0.0
    confidence = min(1.0, usage.calls / MIN_CALLS_FOR_PREFERENCE)
    return confidence * (2.0 * usage.success_mean - 1.0)
