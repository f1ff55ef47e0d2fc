"""The topic model: the reader with it on messages written for these tests (not from the labelled sets), the
shipped model's fingerprint against the data it was trained on, training it, and the rules alone when the
model file is absent or broken."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from plugyard.assistant.reading import fit as topic_fit
from plugyard.assistant.reading import read, rule_topic, spans

TODAY = date(2027, 2, 1)  # a Monday
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        ("Can you help me get ready for my linear algebra exam on Friday?", "exam_preparation", "linear algebra"),
        ("I want to finally understand how garbage collection works in Java", "deep_learning", "garbage collection"),
        ("Break down writing my grant proposal into steps, it's due in 3 weeks", "task_decomposition",
         "grant proposal"),
        ("Getting a ZeroDivisionError when I average an empty list, why?", "error_diagnosis", "ZeroDivisionError"),
        ("Organic chemistry midterm next Monday. I'm behind on reaction mechanisms.", "exam_preparation",
         "organic chemistry"),
        ("We're moving to a new office at the end of the month, plan it out for me", "task_decomposition",
         "moving to a new office"),
        ("Explain Bayesian inference to me like a patient teacher would", "deep_learning", "Bayesian inference"),
        ("My chess endgames are weak, how do I improve them?", "skill_building", "chess endgames"),
        ("what does a CORS error mean and how do I get rid of it", "error_diagnosis", "CORS error"),
    ],
)  # fmt: skip
def test_english_topics_with_the_model(message, intent, want):
    assert read(message, intent, today=TODAY).topic.casefold() == want.casefold()  # the conventions: any case


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        ("下周五考线性代数，帮我做个复习计划", "exam_preparation", "线性代数"),
        ("我想彻底搞懂垃圾回收机制", "deep_learning", "垃圾回收机制"),
        ("帮我把写毕业设计拆成小任务，三周后要交", "task_decomposition", "毕业设计"),
        ("想提高钢琴视奏能力，有什么练习方法", "skill_building", "钢琴视奏"),
        ("运行脚本时报 ZeroDivisionError，怎么回事", "error_diagnosis", "ZeroDivisionError"),
        ("能给我讲讲贝叶斯推断吗，我一直没弄明白", "deep_learning", "贝叶斯推断"),
        ("我的国际象棋残局很弱，怎么练", "skill_building", "国际象棋残局"),
        ("网页一直报跨域错误，后端已经加了请求头", "error_diagnosis", "跨域错误"),
    ],
)
def test_chinese_topics_with_the_model(message, intent, want):
    assert read(message, intent, today=TODAY).topic == want


def test_latin_error_messages_inside_chinese_are_read_whole():
    assert read("编译时报 undefined reference 错误", "error_diagnosis", today=TODAY).topic == "undefined reference"
    npm = read("npm 报 EACCES permission denied，怎么办", "error_diagnosis", today=TODAY)
    assert npm.topic == "EACCES permission denied"
    assert read("安装失败，错误代码 0x80240017", "error_diagnosis", today=TODAY).topic == "0x80240017"


def test_the_deadline_does_not_depend_on_the_model():
    for model in ("shipped", None):
        reading = read("帮我把写毕业设计拆成小任务，三周后要交", "task_decomposition", today=TODAY, topic_model=model)
        assert reading.deadline == date(2027, 2, 22)


def test_the_shipped_model_names_the_data_it_was_trained_on():
    model = spans.TopicModel.load(spans.SHIPPED_MODEL)
    rows = topic_fit.load_rows(topic_fit.default_sets())
    readings = topic_fit.readings_for(topic_fit.default_sets())
    retrained = topic_fit.fit(rows, readings)
    assert model.meta["trained_on"] == len(rows) and model.meta["data"] == spans.fingerprint(rows)
    assert model.meta["readings"] == len(readings) and model.meta["readings_data"] == retrained.meta["readings_data"]
    # Training is deterministic: the shipped weights are what the labelled sets give today.
    assert json.loads(retrained.to_json())["weights"] == json.loads(model.to_json())["weights"]


def test_the_fingerprint_changes_with_a_label():
    rows = topic_fit.load_rows(topic_fit.default_sets())[:5]
    changed = [dict(rows[0], topic=rows[0]["topic"] + "x"), *rows[1:]]
    assert spans.fingerprint(rows) != spans.fingerprint(changed)


@pytest.mark.parametrize("content", [None, "{not json", '{"format": "something else", "weights": {}}', "[1, 2]"])
def test_without_a_usable_model_the_rules_read_alone(tmp_path, caplog, content):
    path = tmp_path / "topic_model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="plugyard.assistant.reading.spans"):
        assert spans.shipped(path) is None
        assert spans.shipped(path) is None  # remembered: one warning, not one a message
    warnings = [r for r in caplog.records if r.name == "plugyard.assistant.reading.spans"]
    assert len(warnings) == 1 and "rules alone" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    message = "I want to get better at public speaking"
    alone = read(message, "skill_building", today=TODAY, topic_model=None)
    assert alone.topic == rule_topic(message, "skill_building", today=TODAY, language="en")[0] == "public speaking"


def test_training_on_a_few_messages_learns_them(tmp_path):
    rows = [
        {"text": "help me learn the banjo", "intent": "skill_building", "today": "2027-02-01", "topic": "banjo"},
        {"text": "I want to master the ukulele", "intent": "skill_building", "today": "2027-02-01",
         "topic": "ukulele"},
        {"text": "quiz me on tax law by Friday", "intent": "exam_preparation", "today": "2027-02-01",
         "topic": "tax law"},
    ]  # fmt: skip
    data = tmp_path / "assist_mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "model.json"
    done = subprocess.run(
        [sys.executable, "-m", "plugyard.assistant.reading.fit", str(data), "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    model = spans.TopicModel.load(out)
    assert model.meta["data"] == spans.fingerprint(topic_fit.load_rows([data])) and model.meta["trained_on"] == 3
    for row in rows:
        assert topic_fit.read_with(model, row) == row["topic"]


def test_fit_says_in_one_line_what_is_wrong_with_its_input(tmp_path):
    bad = tmp_path / "assist_bad.jsonl"
    bad.write_text('{"text": "no labels here"}\n', encoding="utf-8")
    for args in ([str(bad)], [str(tmp_path / "missing.jsonl")]):
        done = subprocess.run(
            [sys.executable, "-m", "plugyard.assistant.reading.fit", *args, "--out", str(tmp_path / "m.json")],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )  # fmt: skip
        assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr and not (tmp_path / "m.json").exists()


def test_the_bench_scores_a_set_given_by_path(tmp_path):
    rows = [
        {"text": "Help me prepare for my calculus final next Friday", "intent": "exam_preparation",
         "today": "2026-12-01", "topic": "calculus", "deadline": "2026-12-11"},
        {"text": "我想彻底搞懂递归", "intent": "deep_learning", "today": "2026-12-01", "topic": "递归",
         "deadline": None},
    ]  # fmt: skip
    path = tmp_path / "new_blind.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "bench/bench_extraction.py", "--set", str(path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| en | 1 | 1/1 (100.0%) | 1/1 (100.0%)" in done.stdout and "| zh | 1 | 1/1 (100.0%)" in done.stdout
    missing = subprocess.run(
        [sys.executable, "bench/bench_extraction.py", "--set", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr


def test_every_label_left_out_of_training_is_in_its_set_and_out_of_the_rows():
    for name, texts in topic_fit.LABELS_NOT_TRAINED.items():
        path = topic_fit.DATASETS / name
        in_set = {json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
        assert set(texts) <= in_set, name
        assert not {r["text"] for r in topic_fit.load_rows([path])} & set(texts)
