"""Intent results and the intent classifiers plugins register."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

#: The intents plugyard knows out of the box (the study assistant's six).
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
