"""Okapi BM25 over fields (BM25F): each field's term frequency is length-normalised on its own,
weighted, and the sum saturates once per term (Robertson, Zaragoza & Taylor, "Simple BM25 extension
to multiple weighted fields", 2004).

For a query term ``t`` and a document ``d`` with fields ``f``::

    tf~(t, d) = sum_f  w_f * tf_f(t, d) / (1 - b_f + b_f * len_f(d) / avglen_f)
    score     = sum_t  idf(t) * tf~ / (k1 + tf~)
    idf(t)    = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

With one field of weight 1 this is plain Okapi BM25 (the baseline the benchmark compares against).
A query term counts once however often it repeats (as in Lucene's BM25).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

K1 = 1.2
B = 0.75


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    name: str
    weight: float = 1.0
    b: float = B


def idf(n_docs: int, df: int) -> float:
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class BM25FIndex:
    """An inverted index of documents (each a mapping of field name -> its terms), scored by BM25F."""

    def __init__(
        self, fields: Sequence[Field], docs: Iterable[tuple[str, Mapping[str, Sequence[str]]]], *, k1: float = K1
    ) -> None:
        self.fields = tuple(fields)
        self.k1 = k1
        self.ids: list[str] = []
        lengths: list[list[int]] = []
        counts: list[list[Counter[str]]] = []
        for doc_id, doc in docs:
            self.ids.append(doc_id)
            per_field = [Counter(doc.get(f.name, ())) for f in self.fields]
            counts.append(per_field)
            lengths.append([sum(c.values()) for c in per_field])
        n = len(self.ids)
        self.n_docs = n
        self.avglen = [(sum(row[i] for row in lengths) / n if n else 0.0) or 1.0 for i in range(len(self.fields))]
        # term -> [(doc index, tf~ of that doc)]: the length normalisation is paid once, at build time.
        postings: dict[str, dict[int, float]] = {}
        for d, per_field in enumerate(counts):
            for i, field in enumerate(self.fields):
                norm = field.weight / (1.0 - field.b + field.b * lengths[d][i] / self.avglen[i])
                for term, tf in per_field[i].items():
                    slot = postings.setdefault(term, {})
                    slot[d] = slot.get(d, 0.0) + tf * norm
        self._postings = {term: tuple(docs_tf.items()) for term, docs_tf in postings.items()}
        self._doc_terms = [frozenset(term for c in per_field for term in c) for per_field in counts]
        self._idf = {term: idf(n, len(p)) for term, p in self._postings.items()}

    def __len__(self) -> int:
        return self.n_docs

    def idf(self, term: str) -> float:
        """The term's idf in this index (that of an unseen term: it matches nothing, so it is moot)."""
        return self._idf.get(term, idf(self.n_docs, 0))

    def df(self, term: str) -> int:
        return len(self._postings.get(term, ()))

    def scores(self, query: Iterable[str]) -> dict[int, float]:
        """Every document matching at least one query term (by index), with its score."""
        k1 = self.k1
        out: dict[int, float] = {}
        for term in dict.fromkeys(query):
            posting = self._postings.get(term)
            if posting is None:
                continue
            weight = self._idf[term]
            for d, tf in posting:
                out[d] = out.get(d, 0.0) + weight * tf / (k1 + tf)
        return out

    def matched(self, query: Iterable[str], doc: int) -> list[str]:
        """The query terms document ``doc`` contains, highest idf first."""
        has = self._doc_terms[doc]
        return sorted((t for t in dict.fromkeys(query) if t in has), key=lambda t: -self._idf[t])
