"""Intent results and the intent classifiers plugins register."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import anyio

from plugyard.core.errors import InputRequired

log = logging.getLogger("plugyard.intents")

#: The intents plugyard knows out of the box (the study assistant's six).
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def detect_language(text: str) -> str:
    """``zh`` when the text is mostly Chinese, else ``en``. A Chinese character carries about as
    much as an English word, so a Chinese sentence around a pasted English error is still Chinese."""
    cjk = sum(len(m) for m in _CJK.findall(text))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return "zh" if cjk >= 2 and cjk >= latin / 8 else "en"


INTENTS: tuple[str, ...] = (
    "exam_preparation",
    "task_decomposition",
    "error_diagnosis",
    "deep_learning",
    "skill_building",
    "quick_task",
)


@dataclasses.dataclass(frozen=True, slots=True)
class IntentResult:
    """One classifier's opinion of a message."""

    intent: str
    confidence: float
    source: str | None = None
    scores: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence!r}")


@runtime_checkable
class IntentClassifier(Protocol):
    """What ``register_intent_classifiers`` accepts: anything with ``classify``."""

    def classify(self, message: str) -> Any:
        """Return an ``IntentResult`` (or an awaitable of one), or ``None`` for no opinion."""


@dataclasses.dataclass(slots=True)
class RegisteredClassifier:
    name: str
    plugin: str
    classifier: IntentClassifier
    weight: float = 1.0
    fallback: bool = False


DEFAULT_THRESHOLD = 0.45


@dataclasses.dataclass(slots=True)
class Classification:
    """The host's verdict on a message: the combined intent and how it was reached."""

    intent: str
    confidence: float
    scores: dict[str, float]
    votes: list[dict[str, Any]]
    """Each classifier that answered: name, plugin, intent, confidence, weight."""
    below_threshold: bool = False
    """True when no intent cleared the threshold and the message was treated as quick_task."""
    top_intent: str | None = None
    """The best intent before the threshold was applied."""


def combine(results: Sequence[tuple[IntentResult, float]]) -> dict[str, float]:
    """Confidence-weighted vote: each result adds ``weight x confidence`` to its intent (and
    ``weight x score`` to the others its ``scores`` name); the totals are divided by the total weight
    of the classifiers that answered."""
    totals: dict[str, float] = {}
    weight_sum = 0.0
    for result, weight in results:
        if weight <= 0:
            continue
        weight_sum += weight
        spread = {k: max(0.0, min(1.0, v)) for k, v in (result.scores or {}).items()}
        spread[result.intent] = max(spread.get(result.intent, 0.0), result.confidence)
        for intent, value in spread.items():
            totals[intent] = totals.get(intent, 0.0) + weight * value
    if weight_sum == 0:
        return {}
    return {intent: min(1.0, value / weight_sum) for intent, value in totals.items()}


async def _ask(entry: RegisteredClassifier, message: str) -> IntentResult | None:
    try:
        result = entry.classifier.classify(message)
        if inspect.isawaitable(result):
            result = await result
    except (anyio.get_cancelled_exc_class(), InputRequired):
        # InputRequired: a model classifier asked the client's model (see docs/architecture.md, "Input required").
        raise
    except Exception:
        log.exception("intent classifier %r of plugin %r failed; ignored", entry.name, entry.plugin)
        return None
    if result is None:
        return None
    if not isinstance(result, IntentResult):
        log.error(
            "intent classifier %r of plugin %r returned %r, not an IntentResult", entry.name, entry.plugin, result
        )
        return None
    return result


async def classify(
    classifiers: Sequence[RegisteredClassifier], message: str, *, threshold: float = DEFAULT_THRESHOLD
) -> Classification:
    """Ask every classifier, combine their answers, and below ``threshold`` call it quick_task.

    Fallback classifiers are asked only when the others together stay below the threshold. A
    classifier that fails is ignored, but ``InputRequired`` propagates (see docs/architecture.md, "Input required").
    """
    votes: list[dict[str, Any]] = []
    answered: list[tuple[IntentResult, float]] = []

    async def ask_all(entries: Sequence[RegisteredClassifier]) -> None:
        for entry in entries:
            result = await _ask(entry, message)
            if result is None:
                continue
            answered.append((result, entry.weight))
            votes.append(
                {
                    "classifier": entry.name,
                    "plugin": entry.plugin,
                    "intent": result.intent,
                    "confidence": round(result.confidence, 4),
                    "weight": entry.weight,
                }
            )

    await ask_all([c for c in classifiers if not c.fallback])
    scores = combine(answered)
    top = max(scores.items(), key=lambda kv: kv[1]) if scores else None
    if top is None or top[1] < threshold:
        fallbacks = [c for c in classifiers if c.fallback]
        if fallbacks:
            await ask_all(fallbacks)
            scores = combine(answered)
            top = max(scores.items(), key=lambda kv: kv[1]) if scores else None
    rounded = {k: round(v, 4) for k, v in sorted(scores.items(), key=lambda kv: -kv[1])}
    if top is None or top[1] < threshold:
        return Classification(
            intent="quick_task",
            confidence=round(top[1], 4) if top else 0.0,
            scores=rounded,
            votes=votes,
            below_threshold=True,
            top_intent=top[0] if top else None,
        )
    return Classification(intent=top[0], confidence=round(top[1], 4), scores=rounded, votes=votes, top_intent=top[0])
