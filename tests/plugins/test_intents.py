"""The intents plugins: the offline cascade (rules, the n-gram model, its dataset, retraining), the model classifier."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from plugyard import IntentResult
from plugyard.plugins import intents as offline
from plugyard.plugins.intents import model as ngram
from plugyard.plugins.intents.model import NgramIntentModel
from tests.conftest import REPO, subprocess_env

pytestmark = pytest.mark.anyio
DATA = REPO / "datasets" / "intents.jsonl"


def test_the_dataset_is_big_bilingual_balanced_and_split():
    rows = ngram.read_jsonl(DATA)
    assert len(rows) >= 700
    assert sum(r["lang"] == "zh" for r in rows) / len(rows) >= 0.45
    # "dev" is the old "test" split: the rules were revised looking at it, so it is tuning data, not held out
    # (the held-out file, datasets/intents_heldout.jsonl, is written by someone else and read by no test).
    assert {r["split"] for r in rows} == {"train", "dev"}
    counts = Counter(r["intent"] for r in rows)
    assert set(counts) == set(offline.RULES) and max(counts.values()) <= 1.2 * min(counts.values())
    for lang in ("en", "zh"):
        per_intent = Counter(r["intent"] for r in rows if r["lang"] == lang)
        assert min(per_intent.values()) >= 0.3 * len(rows) / len(counts)
    texts = [" ".join(r["text"].lower().split()) for r in rows]
    assert len(set(texts)) == len(texts)


def test_the_shipped_model_is_trained_on_the_dataset_and_meets_its_targets_in_cross_validation():
    rows = ngram.read_jsonl(DATA)
    model = NgramIntentModel.load(offline.SHIPPED_MODEL)
    # trained on train + dev, as `plugyard intents fit datasets/intents.jsonl` does, with the plugin's lexicon
    assert model.meta["trained_on"] == len(rows) and model.meta["data"] == offline.fingerprint(rows)
    assert model.lexicon == offline.LEXICON
    meta = model.meta
    assert meta["cv_macro_f1"] >= 0.90 and abs(meta["cv_macro_f1_en"] - meta["cv_macro_f1_zh"]) <= 0.05
    # the saved model predicts as the trained one did (features, lexicon and thresholds survived the file)
    classifier = offline.OfflineClassifier(model)
    right = sum(classifier.classify(r["text"]).intent == r["intent"] for r in rows)
    assert right / len(rows) >= 0.97


def test_rules_decide_alone_and_decisive_rules_win():
    assert offline.rule_intent("Traceback (most recent call last):\n  ...\nKeyError: 'exam'") == "error_diagnosis"
    assert offline.rule_intent("查一下我那篇考试技巧的笔记") == "quick_task"
    assert offline.rule_intent("帮我准备数学期末考试") == "exam_preparation"
    assert offline.rule_intent("我想深入理解递归的原理") == "deep_learning"
    # two intents' rules fire: the model decides
    assert offline.rule_intent("I want to improve my exam prep and need a checklist for it") is None
    # broad cues are lexicon features for the model, not rules: too often wrong alone
    for message in ("why does my build fail", "为什么我的循环停不下来", "我想练习口语", "plan my week", "帮我规划一下"):
        assert offline.rule_intent(message) is None, message


def test_a_lexicon_adds_bilingual_cue_features_and_travels_with_the_model(tmp_path):
    lexicon = {"exam": r"\bexams?\b|考试"}
    compiled = ngram.compile_lexicon(lexicon)
    assert "x:exam" in ngram.features("My EXAM is Friday", compiled)
    assert "x:exam" in ngram.features("周五考试", compiled)
    assert "x:exam" not in ngram.features("周五考试", None)
    texts = ["exam on friday", "明天考试", "convert 5 km", "换算一下"] * 3
    labels = ["exam_preparation", "exam_preparation", "quick_task", "quick_task"] * 3
    model = NgramIntentModel.fit(texts, labels, lexicon=lexicon, epochs=5)
    assert "x:exam" in model.weights
    model.save(tmp_path / "m.json")
    loaded = NgramIntentModel.load(tmp_path / "m.json")
    assert loaded.lexicon == lexicon
    assert loaded.probabilities("the exam") == pytest.approx(model.probabilities("the exam"))
    # a model saved before lexicons existed still loads
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    del data["lexicon"]
    (tmp_path / "old.json").write_text(json.dumps(data), encoding="utf-8")
    assert NgramIntentModel.load(tmp_path / "old.json").lexicon == {}


def test_fit_trains_on_every_split_but_the_held_out_ones():
    rows = [
        {"text": text, "intent": intent, "split": split, "lang": "en"}
        for split in ("train", "dev", "test")
        for text, intent in (("exam tomorrow", "exam_preparation"), ("convert 3 km", "quick_task")) * 3
    ]
    model, report = offline.fit(rows, folds=2, epochs=3)
    assert (report["train"], report["test"]) == (12, 6) and "macro_f1" in report and "cv_macro_f1_en" in report
    assert model.meta["data"] == offline.fingerprint([r for r in rows if r["split"] != "test"])
    seen: list[tuple[str, int, int]] = []
    _, dev_held_out = offline.fit(
        rows, folds=2, epochs=3, held_out=("dev", "test"), progress=lambda *step: seen.append(step)
    )
    assert [done for _, done, _ in seen] == list(range(1, 10)) and {total for *_, total in seen} == {9}
    assert [stage for stage, *_ in seen[::3]] == [
        "cross-validation fold 1 of 2",
        "cross-validation fold 2 of 2",
        "the final model",
    ]
    assert (dev_held_out["train"], dev_held_out["test"]) == (6, 12)


def test_an_unsure_model_answer_is_reported_below_the_threshold():
    model = NgramIntentModel.load(offline.SHIPPED_MODEL)
    model.thresholds.threshold = 1.0  # nothing is sure any more
    result = offline.OfflineClassifier(model).classify("zxqv blorp")
    assert result.source == "offline:unsure" and result.confidence < 0.45


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
        [sys.executable, "-m", "plugyard", "intents", "fit", str(data), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout holds the report only; progress goes to stderr
    assert report["train"] == 8 and report["model"] == str(tmp_path / "data" / "intent_model.json")
    assert done.stderr.splitlines() == [
        *(f"training cross-validation fold {n} of 5..." for n in range(1, 6)),
        "training the final model...",
    ]
    model = NgramIntentModel.load(report["model"])
    assert sorted(model.labels) == ["deep_learning", "quick_task"] and model.lexicon == offline.LEXICON
    bad = subprocess.run(
        [sys.executable, "-m", "plugyard", "intents", "fit", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2


def test_intents_fit_names_the_file_and_line_that_is_not_json(tmp_path):
    from click.testing import CliRunner

    from plugyard.cli import main

    data = tmp_path / "garbage.jsonl"
    data.write_text('{"text": "what is 2+2", "intent": "quick_task"}\n\ngarbage\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["intents", "fit", str(data)])
    assert result.exit_code == 2
    assert f"Invalid value for FILE: {data}:3: not JSON (Expecting value)" in result.output
