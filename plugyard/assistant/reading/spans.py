"""A learnt span reader for the topic: every span of the message is a candidate, scored by a linear model
over features of the span and its neighbours; the rules' answer is one more candidate and a feature of the
others (the model learns when to trust them).

Units: a Chinese character, a Latin word (``Next.js``, ``re-renders``, ``0x80070643`` are one), a punctuation
mark. A candidate is a run of at most ``_MAX_UNITS`` units without punctuation (in Chinese, nor a space that ends
a clause), read from the message with its times already taken out (``dates.strip_times``; where one stood is a
unit of its own, a strong boundary).

The weights are an averaged perceptron ranking the labelled topic above every other candidate, trained on the
labelled sets (``python -m plugyard.assistant.reading.fit``) and shipped as ``topic_model.json``; its
``meta["data"]`` is a fingerprint of the messages it was trained on. No model file, or a broken one: the rules
alone read the topic (one warning in the log).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import random
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "plugyard-topic-spans/1"
SHIPPED_MODEL = Path(__file__).with_name("topic_model.json")
_MAX_UNITS = {"en": 7, "zh": 10}
_UNIT = re.compile(
    r"[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9_\u00c0-\u024f][\w'’+#/.\-]*[\w+#]|[A-Za-z0-9_\u00c0-\u024f]|[^\s\w]|_"
)
_PUNCT = re.compile(r"[^\w\u3400-\u9fff\uf900-\ufaff'’+#\-]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
TIME_MARK = "\u2063"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Unit:
    text: str
    start: int
    end: int
    punct: bool


def units_of(text: str) -> list[Unit]:
    out = []
    for m in _UNIT.finditer(text):
        token = m[0]
        out.append(Unit(token, m.start(), m.end(), token == TIME_MARK or bool(_PUNCT.fullmatch(token))))
    return out


def norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "").strip()).casefold()


def _key(unit: str) -> str:
    return "<T>" if unit == TIME_MARK else unit.casefold()


def _shape(text: str) -> str:
    if _CJK.search(text):
        return "mixed" if re.search(r"[A-Za-z0-9]", text) else "cjk"
    if text[:1].isupper():
        return "Cap" if not text.isupper() else "CAPS"
    return "digit" if text[:1].isdigit() else "lower"


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    features: tuple[str, ...]


def _rule_features(text: str, rule: str, prefix: str) -> list[str]:
    t, r = norm(text), norm(rule)
    if not r:
        return [f"{prefix}:none"]
    if t == r:
        return [f"{prefix}:same"]
    if t in r:
        return [f"{prefix}:inside", f"{prefix}:inside:{min(len(r) - len(t), 6)}"]
    if r in t:
        return [f"{prefix}:holds", f"{prefix}:holds:{min(len(t) - len(r), 6)}"]
    return [f"{prefix}:apart"]


def candidates(
    text: str,
    intent: str,
    language: str,
    rule: str,
    hints: dict[str, str],
    notes: Callable[[str], list[str]] | None = None,
    cues: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Every span of ``text`` (times taken out), then the rules' answer, each with its features.

    ``hints``: other rules' answers (the error named, the exam named) compared with each span like the rule's."""
    units = units_of(text)
    keys = [_key(u.text) for u in units]
    limit = _MAX_UNITS[language]
    seen: set[str] = set()
    out: list[Candidate] = []
    segment = 0
    breaks = _clause_breaks(text, units) if language == "zh" else [False] * len(units)
    for i, unit in enumerate(units):
        if unit.punct:
            segment += 1
            continue
        if breaks[i]:
            segment += 1
        for j in range(i + 1, min(len(units), i + limit) + 1):
            if units[j - 1].punct or (j - 1 > i and breaks[j - 1]):
                break
            span = text[unit.start : units[j - 1].end]
            if norm(span) in seen:
                continue
            seen.add(norm(span))
            features = _features(span, keys, i, j, segment, intent, rule, hints)
            if cues:
                features += _classes(keys, i, j, cues, intent)
            if notes is not None:
                said = notes(span)
                features += [f"j:{x}" for x in said] + [f"j:{intent}:{x}" for x in said]
            out.append(Candidate(span, tuple(sys.intern(f) for f in features)))
    if rule and norm(rule) not in seen:
        out.append(Candidate(rule, ("rule:only", f"rule:only:{intent}")))
    return out


def _features(
    span: str, keys: list[str], i: int, j: int, segment: int, intent: str, rule: str, hints: dict[str, str]
) -> list[str]:
    inside = keys[i:j]
    left1 = keys[i - 1] if i > 0 else "<S>"
    left2 = keys[i - 2] + "_" + left1 if i > 1 else "<S>_" + left1
    right1 = keys[j] if j < len(keys) else "<E>"
    right2 = right1 + "_" + (keys[j + 1] if j + 1 < len(keys) else "<E>")
    n = j - i
    f = [
        f"n:{min(n, 8)}",
        f"n:{intent}:{min(n, 8)}",
        f"seg:{min(segment, 3)}",
        f"seg:{intent}:{min(segment, 3)}",
        f"shape:{_shape(span)}",
        f"first:{inside[0]}",
        f"last:{inside[-1]}",
        f"l1:{left1}",
        f"l2:{left2}",
        f"r1:{right1}",
        f"r2:{right2}",
        f"l1:{intent}:{left1}",
        f"r1:{intent}:{right1}",
        f"l1r1:{left1}:{right1}",
        f"first:{intent}:{inside[0]}",
        f"last:{intent}:{inside[-1]}",
    ]
    f += [f"in:{k}" for k in set(inside)]
    if n > 1:
        f.append(f"first2:{inside[0]}_{inside[1]}")
        f.append(f"last2:{inside[-2]}_{inside[-1]}")
    f += _rule_features(span, rule, "rule")
    f += [f"{intent}:{x}" for x in _rule_features(span, rule, "rule")]
    for name, value in hints.items():
        if value:
            f += _rule_features(span, value, name)
    return f


def _clause_breaks(text: str, units: Sequence[Unit]) -> list[bool]:
    """Before each unit, whether a space there ends a clause: between Chinese characters, or between one and
    a number (后天法考 民法还没刷完, 日本自由行 10天). Beside a Latin word a space may stand inside a subject
    (Rust 的所有权, HTTPS 握手): no break."""
    out = [False]
    for before, unit in itertools.pairwise(units):
        sides = (before.text[-1:], unit.text[:1])
        cjk = [bool(_CJK.match(c)) for c in sides]
        spaced = text[before.end : unit.start].isspace()
        out.append(spaced and (all(cjk) or (any(cjk) and any(c.isdigit() for c in sides))))
    return out


def _kind(key: str, cues: frozenset[str]) -> str:
    if key in ("<S>", "<E>", "<T>"):
        return key
    if key in cues:
        return "cue"
    if _CJK.match(key):
        return "cjk"
    return "lat" if key[:1].isalnum() else "p"


def _classes(keys: list[str], i: int, j: int, cues: frozenset[str], intent: str) -> list[str]:
    """The kind of word each side of the span's edges (a cue word, a content word, a boundary): a span that
    starts or ends inside a run of content words cuts a word."""
    left = _kind(keys[i - 1] if i > 0 else "<S>", cues)
    right = _kind(keys[j] if j < len(keys) else "<E>", cues)
    first, last = _kind(keys[i], cues), _kind(keys[j - 1], cues)
    return [
        f"k:l:{left}",
        f"k:r:{right}",
        f"k:f:{first}",
        f"k:e:{last}",
        f"k:lf:{left}:{first}",
        f"k:er:{last}:{right}",
        f"k:lr:{left}:{right}",
        f"k:{intent}:lr:{left}:{right}",
        f"k:cue-inside:{min(sum(k in cues for k in keys[i + 1 : j - 1]), 3)}",
    ]


def cleaning_notes(span: str, cleaned: str) -> list[str]:
    """What a language's cleaning did to a candidate (``cleaned``): nothing, all of it, its tail or its head."""
    if cleaned == span:
        return []
    notes = ["clean" if cleaned else "clean-all"]
    if cleaned and span.startswith(cleaned):
        notes.append("clean-tail")
    elif cleaned and span.endswith(cleaned):
        notes.append("clean-head")
    return notes


class TopicModel:
    """Weights over span features; ``pick`` returns the best candidate's text."""

    def __init__(self, weights: dict[str, float], meta: dict[str, Any] | None = None) -> None:
        self.weights = weights
        self.meta = meta or {}

    def score(self, candidate: Candidate) -> float:
        w = self.weights
        return sum(w.get(f, 0.0) for f in candidate.features)

    def pick(self, found: Sequence[Candidate]) -> str | None:
        if not found:
            return None
        return max(found, key=self.score).text

    def to_json(self) -> str:
        weights = {k: round(v, 4) for k, v in sorted(self.weights.items()) if abs(v) >= 5e-4}
        return json.dumps({"format": FORMAT, "meta": self.meta, "weights": weights}, ensure_ascii=False, indent=0)

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("weights"), dict):
            raise ValueError(f"{path}: not a topic model ({FORMAT})")
        return cls({str(k): float(v) for k, v in data["weights"].items()}, data.get("meta"))


def fingerprint(rows: Iterable[dict[str, Any]]) -> str:
    """A digest of labelled messages (text, intent, topic, today, in order): ``meta["data"]`` of a model names
    what it was trained on."""
    items = [[r["text"], r["intent"], r["topic"], r["today"]] for r in rows]
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def train(examples: Sequence[tuple[list[Candidate], str]], *, epochs: int = 12, seed: int = 7) -> dict[str, float]:
    """An averaged perceptron ranking: for each message, the candidate equal to the label above the others.
    Messages whose label is no candidate teach nothing."""
    usable = []
    for found, label in examples:
        golds = [k for k, c in enumerate(found) if norm(c.text) == norm(label)]
        if golds and len(found) > 1:
            usable.append((found, golds[0]))
    weights: dict[str, float] = {}
    totals: dict[str, float] = {}
    stamps: dict[str, int] = {}
    step = 1
    order = list(range(len(usable)))
    rng = random.Random(seed)

    def add(feature: str, delta: float) -> None:
        # lazy averaging: totals hold the sum of the weight over every step so far
        totals[feature] = totals.get(feature, 0.0) + (step - stamps.get(feature, 0)) * weights.get(feature, 0.0)
        stamps[feature] = step
        weights[feature] = weights.get(feature, 0.0) + delta

    for _ in range(epochs):
        rng.shuffle(order)
        for k in order:
            found, gold = usable[k]
            scores = [sum(weights.get(f, 0.0) for f in c.features) for c in found]
            best = max(range(len(found)), key=scores.__getitem__)
            if best != gold:
                for f in found[gold].features:
                    add(f, 1.0)
                for f in found[best].features:
                    add(f, -1.0)
            step += 1
    averaged = {}
    for feature, weight in weights.items():
        total = totals.get(feature, 0.0) + (step - stamps.get(feature, 0)) * weight
        averaged[feature] = total / step
    return averaged


_loaded: dict[Path, TopicModel | None] = {}


def shipped(path: Path = SHIPPED_MODEL) -> TopicModel | None:
    """The model at ``path`` (loaded once), or None when it is absent or unreadable: the rules alone then."""
    if path not in _loaded:
        try:
            _loaded[path] = TopicModel.load(path)
        except (OSError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            log.warning("topic model unusable, reading topics by rules alone: %s", str(exc).splitlines()[0])
            _loaded[path] = None
    return _loaded[path]


__all__ = [
    "SHIPPED_MODEL",
    "Candidate",
    "TopicModel",
    "candidates",
    "cleaning_notes",
    "fingerprint",
    "norm",
    "shipped",
    "train",
]
