"""A small bilingual intent model: character and word n-grams into a softmax regression.

Pure Python, no numpy: a model is a few thousand weights in a JSON file, trains in seconds on a
few hundred messages and classifies in well under a millisecond. Features:

- Chinese (and other CJK) runs: character 1-, 2- and 3-grams;
- Latin words (also those mixed into Chinese text): the word, word bigrams, and character 3- to
  5-grams inside ``<word>``;
- digits collapse to ``0`` and text is NFKC-normalised and lower-cased;
- the message's shape: whether it holds a digit, whether it asks a question (not its length: that
  made any short message, "hmm" included, a confident quick task);
- a lexicon, when the model has one: named regular expressions (``{"exam": r"\bexams?\b|考试"}``),
  each a feature ``x:<name>`` when it matches. A lexicon names one cue in both languages, so what
  the model learns of a cue from English messages serves Chinese ones too, and a cue is weighed
  against the rest instead of deciding alone. It is saved with the model.

Each message's feature vector is binary and L2-normalised over all its features, those the model
does not know included (what it never saw dilutes what it knows). ``fit`` trains by stochastic
gradient descent with L2 regularisation (deterministic for a seed). ``tune`` picks the acceptance
threshold and margin from cross-validated predictions: the top intent is accepted when its
probability clears the threshold and beats the second by the margin; the rest is "unsure".
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from plugyard import detect_language as language

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9_']+")
_DIGITS = re.compile(r"\d+")


_SHAPE_DIGIT = re.compile(r"\d")
MAX_CHARS = 1000
"""A longer message is read as its first and last ``MAX_CHARS / 2`` characters (a pasted log ends with
its error): classification time stays bounded whatever is pasted."""


def compile_lexicon(lexicon: Mapping[str, str] | None) -> dict[str, re.Pattern[str]]:
    """A lexicon's patterns, compiled case-insensitively."""
    return {name: re.compile(pattern, re.IGNORECASE) for name, pattern in (lexicon or {}).items()}


def clip(text: str) -> str:
    """The part of a message that is read: all of it up to ``MAX_CHARS``, else its head and tail."""
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2 :]


def features(text: str, lexicon: Mapping[str, re.Pattern[str]] | None = None) -> list[str]:
    text = unicodedata.normalize("NFKC", clip(text))
    norm = _DIGITS.sub("0", text.lower())
    feats: set[str] = set()
    for run in _CJK.findall(norm):
        for n in (1, 2, 3):
            for i in range(len(run) - n + 1):
                feats.add(f"c{n}:{run[i : i + n]}")
    words = _WORD.findall(_CJK.sub(" ", norm))
    for i, word in enumerate(words):
        feats.add(f"w:{word}")
        if i:
            feats.add(f"b:{words[i - 1]}_{word}")
        padded = f"<{word}>"
        for n in (3, 4, 5):
            for j in range(len(padded) - n + 1):
                feats.add(f"g:{padded[j : j + n]}")
    if _SHAPE_DIGIT.search(text):
        feats.add("has:digit")
    if "?" in text:  # NFKC turned the full-width question mark into "?"
        feats.add("has:question")
    if lexicon:
        feats.update(f"x:{name}" for name, pattern in lexicon.items() if pattern.search(text))
    return sorted(feats)


@dataclasses.dataclass(slots=True)
class Thresholds:
    threshold: float = 0.5
    margin: float = 0.1


@dataclasses.dataclass(slots=True)
class Prediction:
    intent: str
    probability: float
    margin: float
    probabilities: dict[str, float]
    accepted: bool


# -- evaluation and tuning ---------------------------------------------------------------------


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Labelled messages: one JSON object a line with ``text`` and ``intent`` (``lang``, ``split`` optional)."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:  # the file and line, not only json's "line 1 column 1" of the line alone
            raise ValueError(f"{path}:{number}: not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(row, dict) or not row.get("text") or not row.get("intent"):
            raise ValueError(f"{path}:{number}: each line needs 'text' and 'intent'")
        row.setdefault("lang", language(row["text"]))
        rows.append(row)
    return rows


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def cross_validated(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 7,
    on_fold: Callable[[int], None] | None = None,
    **fit_options: Any,
) -> list[Prediction]:
    """Each message predicted by a model that never saw it (k-fold); ``on_fold(n)`` before fold n."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    out: list[Prediction | None] = [None] * len(texts)
    for fold in range(folds):
        if on_fold is not None:
            on_fold(fold + 1)
        held = set(order[fold::folds])
        model = NgramIntentModel.fit(
            [t for i, t in enumerate(texts) if i not in held],
            [y for i, y in enumerate(labels) if i not in held],
            **fit_options,
        )
        for i in held:
            out[i] = model.predict(texts[i])
    return [p for p in out if p is not None]


def decide(prediction: Prediction, thresholds: Thresholds, rule: str | None = None, default: str = "quick_task") -> str:
    """The cascade's answer: a rule alone, else the model when sure, else the clarifying default."""
    if rule is not None:
        return rule
    p = prediction
    return p.intent if p.probability >= thresholds.threshold and p.margin >= thresholds.margin else default


def tune(
    predictions: Sequence[Prediction],
    gold: Sequence[str],
    labels: Sequence[str],
    *,
    rules: Sequence[str | None] | None = None,
    rule_fn: Callable[[str], str | None] | None = None,
) -> Thresholds:
    """The threshold and margin that maximise macro-F1 of the whole cascade (unsure -> default);
    among equals, the most cautious (largest threshold, then margin)."""
    fired = list(rules) if rules is not None else [None] * len(predictions)
    best: tuple[float, float, float] | None = None
    for t in [x / 100 for x in range(30, 91, 5)]:
        for m in [x / 100 for x in range(0, 41, 5)]:
            th = Thresholds(t, m)
            decided = [decide(p, th, r) for p, r in zip(predictions, fired, strict=True)]
            score = macro_f1(gold, decided, labels)
            key = (round(score, 6), t, m)
            if best is None or key > best:
                best = key
    assert best is not None
    return Thresholds(best[1], best[2])


class NgramIntentModel:
    """Softmax regression over n-gram features. ``predict`` gives every intent a probability."""

    def __init__(
        self,
        labels: Sequence[str],
        weights: dict[str, list[float]],
        bias: list[float],
        thresholds: Thresholds | None = None,
        meta: dict[str, Any] | None = None,
        lexicon: Mapping[str, str] | None = None,
    ) -> None:
        self.labels = list(labels)
        self.weights = weights
        self.bias = bias
        self.thresholds = thresholds or Thresholds()
        self.meta = meta or {}
        self.lexicon = dict(lexicon or {})
        self._lexicon = compile_lexicon(self.lexicon)

    # -- prediction ------------------------------------------------------------------------

    def probabilities(self, text: str) -> dict[str, float]:
        every = features(text, self._lexicon)
        feats = [f for f in every if f in self.weights]
        scale = 1.0 / math.sqrt(len(every)) if every else 0.0
        columns = zip(*(self.weights[f] for f in feats), strict=True) if feats else ([] for _ in self.bias)
        logits = [b + scale * sum(column) for b, column in zip(self.bias, columns, strict=True)]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return {label: e / total for label, e in zip(self.labels, exps, strict=True)}

    def predict(self, text: str) -> Prediction:
        probs = self.probabilities(text)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        (best, p1), p2 = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
        t = self.thresholds
        return Prediction(best, p1, p1 - p2, probs, accepted=p1 >= t.threshold and p1 - p2 >= t.margin)

    # -- training --------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        epochs: int = 60,
        learning_rate: float = 0.5,
        l2: float = 1e-4,
        min_count: int = 2,
        seed: int = 13,
        lexicon: Mapping[str, str] | None = None,
        on_epoch: Callable[[], None] | None = None,
    ) -> NgramIntentModel:
        classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(classes)}
        compiled = compile_lexicon(lexicon)
        rows = [features(t, compiled) for t in texts]
        counts = Counter(f for row in rows for f in row)
        vocab = {f for f, c in counts.items() if c >= min_count}
        # Normalised over all of a message's features, known or not: what the model never saw dilutes
        # what it knows, so a message it barely recognises gets a weak, near-uniform answer.
        data = [
            ([f for f in row if f in vocab], 1.0 / math.sqrt(len(row)) if row else 0.0, index[y])
            for row, y in zip(rows, labels, strict=True)
        ]
        k = len(classes)
        weights: dict[str, list[float]] = {f: [0.0] * k for f in vocab}
        bias = [0.0] * k
        rng = random.Random(seed)
        order = list(range(len(data)))
        for epoch in range(epochs):
            rng.shuffle(order)
            rate = learning_rate / (1.0 + 0.1 * epoch)
            for i in order:
                feats, scale, y = data[i]
                logits = list(bias)
                for f in feats:
                    for j, w in enumerate(weights[f]):
                        logits[j] += w * scale
                top = max(logits)
                exps = [math.exp(v - top) for v in logits]
                total = sum(exps)
                grads = [e / total - (1.0 if j == y else 0.0) for j, e in enumerate(exps)]
                for j in range(k):
                    bias[j] -= rate * grads[j]
                for f in feats:
                    row = weights[f]
                    for j in range(k):
                        row[j] -= rate * (grads[j] * scale + l2 * row[j])
            if on_epoch is not None:
                on_epoch()
        # Drop features whose weights all but vanished: a smaller file, the same predictions.
        kept = {f: [round(w, 5) for w in ws] for f, ws in weights.items() if max(abs(w) for w in ws) >= 1e-3}
        return cls(classes, kept, [round(b, 5) for b in bias], lexicon=lexicon)

    # -- persistence -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "plugyard-ngram-intents/1",
            "labels": self.labels,
            "bias": self.bias,
            "thresholds": dataclasses.asdict(self.thresholds),
            "meta": self.meta,
            "lexicon": self.lexicon,
            "weights": self.weights,
        }

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> NgramIntentModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != "plugyard-ngram-intents/1":
            raise ValueError(f"{path}: not a plugyard n-gram intent model")
        return cls(
            data["labels"],
            data["weights"],
            data["bias"],
            Thresholds(**data["thresholds"]),
            data.get("meta"),
            data.get("lexicon"),  # absent from models saved before lexicons
        )
