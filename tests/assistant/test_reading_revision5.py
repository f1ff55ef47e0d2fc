"""Classes of error found on the sixth author's set (datasets/assist_blind8.jsonl), checked on messages that are
not in it, against a fixed today, per language; and the topic model's spans in Chinese written in clauses
separated by spaces."""

from __future__ import annotations

from datetime import date

import pytest

from plugyard.assistant.reading import read, topic_candidates
from plugyard.assistant.reading.dates import deadline_of, strip_times
from plugyard.assistant.reading.errors import error_topic

TODAY = date(2027, 5, 14)  # a Friday


def rules_topic(message: str, intent: str) -> str:
    return read(message, intent, today=TODAY, topic_model=None).topic


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        # a measure word after 一 (一段, 一件, 一道) is no part of the subject
        ("想在暑假学会一段爵士舞，从哪开始", "skill_building", "爵士舞"),
        ("帮我把做一道佛跳墙拆成步骤", "task_decomposition", "佛跳墙"),
        # 月考, 模考, 周测 are kinds of exam, as 期末 is
        ("女儿高一 化学模考又没及格 下周三还要考", "exam_preparation", "化学"),
        ("英语月考就在周一，完形填空总错", "exam_preparation", "英语"),
        ("数学周测怎么准备", "exam_preparation", "数学"),
        # a space beside a time taken out ends a clause too; an adverb alone (又, 还) is no subject
        ("生物会考 下周二又要考了 实验题全忘了", "exam_preparation", "生物"),
    ],
)
def test_chinese_topics(message, intent, want):
    assert rules_topic(message, intent) == want


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        # how X <verb>s: the verb that ends the clause, not one inside the subject (route, bond, store are verbs)
        ("Can you explain how DNS cache poisoning works, I run a small ISP", "deep_learning", "DNS cache poisoning"),
        ("explain how OSPF route calculation works, I only know static routes", "deep_learning",
         "OSPF route calculation"),
        ("how does type 1 diabetes develop? my nephew has it", "deep_learning", "type 1 diabetes"),
        ("I want to see how garbage collection works end to end", "deep_learning", "garbage collection"),
        ("I want to know how scar tissue develops after surgery", "deep_learning", "scar tissue"),
        # a vague time (next year, over the next few months) is no part of the subject and no deadline
        ("I'm taking the GRE next year, where do I start", "exam_preparation", "GRE"),
        ("help me get better at calligraphy over the next few months", "skill_building", "calligraphy"),
        # who the learner is, with where they are from, stated first
        ("I am nurse from Manila, my English listening is very poor, how to improve", "skill_building",
         "English listening"),
    ],
)  # fmt: skip
def test_english_topics(message, intent, want):
    assert rules_topic(message, intent) == want


def test_who_the_learner_is_holds_no_candidate():
    found = topic_candidates(
        "Hello, I am teacher from Lagos, my spoken French is poor",
        "skill_building",
        today=TODAY,
        language="en",
        rule="spoken French",
    )
    texts = {c.text for c in found}
    assert "spoken French" in texts and not any("Lagos" in t for t in texts)


def test_vague_years_are_no_deadline():
    assert deadline_of("I'm sitting the CPA exam sometime next year", TODAY) is None
    assert deadline_of("want to be fluent this year", TODAY) is None
    assert "year" not in strip_times("planning the GMAT next year, how to start", TODAY)
    assert deadline_of("by the end of the year", TODAY) == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("message", "want"),
    [
        # ERROR is no errno code (ERESOLVE, EACCES are); a numbered error keeps its number
        ("psql 报 ERROR 1064 (42000): You have an error in your SQL syntax", "ERROR 1064"),
        ("my Heroku dyno crashes with Error H10 every morning", "Error H10"),
        ("npm fails with EACCES permission denied", "EACCES"),
        # a log line with a bracketed tag: the message after the tag
        ("控制台一直报 [Vue warn]: Invalid prop type 页面白屏", "Invalid prop type"),
        ("the console prints [HMR] Waiting for update signal from WDS and nothing reloads", None),
        # a code a device shows that starts with a digit (5B00, 3E01)
        ("my printer shows 3E01 and refuses to print", "3E01"),
    ],
)
def test_errors(message, want):
    found = error_topic(message)
    if want is None:
        assert found != "Waiting"
    else:
        assert found == want


def test_a_space_between_chinese_characters_bounds_the_model_s_spans():
    found = topic_candidates(
        "想考CFA 公司报销 不知道怎么开始", "exam_preparation", today=TODAY, language="zh", rule="CFA"
    )
    texts = {c.text for c in found}
    assert "CFA" in texts and "CFA 公司" in texts  # beside a Latin word a space is soft: Rust 的所有权
    assert not any("报销 不" in t or "报销 " in t for t in texts)  # between Chinese characters, a clause ends
