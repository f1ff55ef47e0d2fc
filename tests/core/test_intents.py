"""The host's combination of intent classifiers: confidence-weighted, fallback classifiers asked only
when unsure, quick_task below the threshold, broken classifiers ignored."""

from __future__ import annotations

from typing import Any

import pytest

from plugyard import IntentResult
from plugyard.core.intents import RegisteredClassifier, classify, combine

pytestmark = pytest.mark.anyio


class Fixed:
    def __init__(self, intent: str | None, confidence: float = 0.9, scores: dict[str, float] | None = None) -> None:
        self.result = IntentResult(intent, confidence, scores=scores) if intent else None

    def classify(self, message: str) -> IntentResult | None:
        return self.result


def entry(classifier: Any, weight: float = 1.0, fallback: bool = False) -> RegisteredClassifier:
    return RegisteredClassifier(name="c", plugin="p", classifier=classifier, weight=weight, fallback=fallback)


def test_combination_is_confidence_weighted():
    scores = combine([(IntentResult("exam_preparation", 0.9), 1.0), (IntentResult("skill_building", 0.6), 2.0)])
    assert scores == pytest.approx({"exam_preparation": 0.3, "skill_building": 0.4})
    spread = combine([(IntentResult("deep_learning", 0.6, scores={"deep_learning": 0.6, "skill_building": 0.3}), 1.0)])
    assert spread == pytest.approx({"deep_learning": 0.6, "skill_building": 0.3})


async def test_the_fallback_classifier_is_asked_only_when_the_others_are_unsure():
    asked: list[str] = []

    class Model:
        def classify(self, message: str) -> IntentResult:
            asked.append(message)
            return IntentResult("deep_learning", 0.9)

    sure = await classify([entry(Fixed("exam_preparation", 0.9)), entry(Model(), fallback=True)], "a")
    assert sure.intent == "exam_preparation" and asked == []
    unsure = await classify([entry(Fixed("exam_preparation", 0.2)), entry(Model(), fallback=True)], "b")
    assert unsure.intent == "deep_learning" and asked == ["b"]
    assert unsure.confidence == pytest.approx(0.45)  # (0.9 + 0) / 2 classifiers


async def test_below_the_threshold_is_quick_task_and_broken_classifiers_are_ignored():
    class Broken:
        def classify(self, message: str) -> IntentResult:
            raise RuntimeError("no")

    verdict = await classify([entry(Broken()), entry(Fixed("skill_building", 0.3)), entry(Fixed(None))], "m")
    assert verdict.intent == "quick_task" and verdict.below_threshold and verdict.top_intent == "skill_building"
    assert [v["intent"] for v in verdict.votes] == ["skill_building"]
