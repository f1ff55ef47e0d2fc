"""Intent classification: the offline cascade, the host's combination, the fallback model, retraining."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from plugyard import IntentResult, NgramIntentModel
from plugyard.core.intents import RegisteredClassifier, classify, combine
from plugyard.plugins import intents as offline
from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.anyio
DATA = REPO / "datasets" / "intents.jsonl"


class Fixed:
    def __init__(self, intent: str | None, confidence: float = 0.9, scores: dict[str, float] | None = None) -> None:
        self.result = IntentResult(intent, confidence, scores=scores) if intent else None

    def classify(self, message: str) -> IntentResult | None:
        return self.result


def entry(classifier: Any, weight: float = 1.0, fallback: bool = False) -> RegisteredClassifier:
    return RegisteredClassifier(name="c", plugin="p", classifier=classifier, weight=weight, fallback=fallback)


def test_the_dataset_is_big_bilingual_and_split():
    rows = NgramIntentModel.read_jsonl(DATA)
    assert len(rows) >= 300
    assert sum(r["lang"] == "zh" for r in rows) / len(rows) >= 0.40
    assert {r["split"] for r in rows} == {"train", "test"}
    assert {r["intent"] for r in rows} == set(offline.RULES)


def test_the_shipped_cascade_meets_its_targets_on_the_held_out_split():
    classifier = offline.OfflineClassifier(NgramIntentModel.load(offline.SHIPPED_MODEL))
    test = [r for r in NgramIntentModel.read_jsonl(DATA) if r["split"] == "test"]
    labels = sorted({r["intent"] for r in test})
    scores = {}
    for lang in ("en", "zh"):
        rows = [r for r in test if r["lang"] == lang]
        answers = [classifier.classify(r["text"]) for r in rows]
        decided = [a.intent if a.source != "offline:unsure" else "quick_task" for a in answers]
        scores[lang] = NgramIntentModel.macro_f1([r["intent"] for r in rows], decided, labels)
    assert min(scores.values()) >= 0.90 and abs(scores["en"] - scores["zh"]) <= 0.05


def test_rules_decide_alone_and_decisive_rules_win():
    assert offline.rule_intent("Traceback (most recent call last):\n  ...\nKeyError: 'exam'") == "error_diagnosis"
    assert offline.rule_intent("查一下我那篇考试技巧的笔记") == "quick_task"
    assert offline.rule_intent("帮我准备数学期末考试") == "exam_preparation"
    # two intents' rules fire: the model decides
    assert offline.rule_intent("I want to improve my exam technique and break it into steps") is None


def test_an_unsure_model_answer_is_reported_below_the_threshold():
    model = NgramIntentModel.load(offline.SHIPPED_MODEL)
    model.thresholds.threshold = 1.0  # nothing is sure any more
    result = offline.OfflineClassifier(model).classify("zxqv blorp")
    assert result.source == "offline:unsure" and result.confidence < 0.45


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


async def test_the_language_model_classifier_through_the_real_sdk(fake_anthropic):
    from plugyard.plugins.intents_llm import ModelClassifier

    fake = fake_anthropic(
        lambda body: [
            {"type": "tool_use", "id": "t", "name": "intent", "input": {"intent": "skill_building", "confidence": 0.8}}
        ]
    )
    result = await ModelClassifier().classify("wie werde ich besser im Schach")
    assert result == IntentResult("skill_building", 0.8, source="model")
    assert fake.requests[0]["tool_choice"] == {"type": "tool", "name": "intent"}


async def test_the_language_model_classifier_has_no_opinion_without_a_model():
    from plugyard.plugins.intents_llm import ModelClassifier

    assert await ModelClassifier().classify("anything") is None


def test_intents_fit_retrains_and_the_plugin_uses_the_new_model(tmp_path):
    data = tmp_path / "mine.jsonl"
    rows = [
        {"text": f"{w} please", "intent": intent}
        for intent, words in {
            "quick_task": ["sum", "add", "plus", "total"],
            "deep_learning": ["why", "how", "theory", "idea"],
        }.items()
        for w in words
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    env = subprocess_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "plugyard.cli", "intents", "fit", str(data), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["train"] == 8 and report["model"] == str(tmp_path / "data" / "intent_model.json")
    model = NgramIntentModel.load(report["model"])
    assert sorted(model.labels) == ["deep_learning", "quick_task"]
    bad = subprocess.run(
        [sys.executable, "-m", "plugyard.cli", "intents", "fit", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
