"""Reading a request: topics, goals, deadlines and levels in English and Chinese, relative dates
against a fixed today; the labelled development set as a regression guard (bench/RESULTS.md has the
figures, and the blind set's)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from plugyard.assistant.reading import goal_for, level_of, read
from plugyard.assistant.reading.dates import deadline_of, strip_times

TODAY = date(2026, 12, 1)  # a Tuesday
DATASETS = Path(__file__).parents[2] / "datasets"


@pytest.mark.parametrize(
    ("message", "intent", "topic"),
    [
        ("I have a physics exam on December 20", "exam_preparation", "physics"),
        ("explain recursion deeply", "deep_learning", "recursion"),
        ("Explain in depth how recursion really works under the hood", "deep_learning", "recursion"),
        ("I want to really understand how TCP congestion control works", "deep_learning", "TCP congestion control"),
        ("Help me prepare for my calculus final next Friday", "exam_preparation", "calculus"),
        ("Break down my thesis into manageable tasks by 2030-03-01", "task_decomposition", "thesis"),
        ("I have to clean out the garage this weekend, make me a plan", "task_decomposition", "garage"),
        ("I want to get better at public speaking", "skill_building", "public speaking"),
        ("I get IndexError: list index out of range in my loop", "error_diagnosis", "IndexError"),
        ("my program hits a segmentation fault when reading the file", "error_diagnosis", "segmentation fault"),
    ],
)
def test_english_topics_leave_out_cues_politeness_dates_and_meta_words(message, intent, topic):
    assert read(message, intent, today=TODAY).topic == topic


@pytest.mark.parametrize(
    ("message", "intent", "topic"),
    [
        ("我总是学不会递归，能帮我彻底搞懂吗", "deep_learning", "递归"),
        ("把2027年1月10日的产品发布拆解成任务", "task_decomposition", "产品发布"),
        ("我想每天练习盲打", "skill_building", "盲打"),
        ("我要准备数学期末考试，下周三考试", "exam_preparation", "数学"),
        ("我想做一个个人网站，帮我分解步骤", "task_decomposition", "个人网站"),
        ("我想提高自己的演讲能力", "skill_building", "演讲"),
        ("帮我准备一下有机化学期中考试", "exam_preparation", "有机化学"),
        ("我的代码报错 KeyError: 'name'，怎么办？", "error_diagnosis", "KeyError"),
        ("区块链的共识机制我总是搞不明白", "deep_learning", "区块链的共识机制"),
    ],
)
def test_chinese_topics_keep_words_whole(message, intent, topic):
    # 有 is no cue inside 有机化学, 学 none inside 数学: the subject comes out whole.
    assert read(message, intent, today=TODAY).topic == topic


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        ("我下周三有数学期末考试", "2026-12-09"),
        ("12月20日考物理", "2026-12-20"),
        ("下个月15号考英语六级", "2027-01-15"),
        ("in 10 days", "2026-12-11"),
        ("the 18th of December", "2026-12-18"),
        ("next week, it's on the 18th of December", "2026-12-18"),  # the stated date beats "next week"
        ("Help me prepare for my calculus final next Friday", "2026-12-11"),  # next week's Friday
        ("quiz on Thursday", "2026-12-03"),  # the coming one
        ("明天考化学", "2026-12-02"),
        ("后天考试", "2026-12-03"),
        ("两周后考宏观经济学", "2026-12-15"),
        ("by the end of the month", "2026-12-31"),
        ("end of next month", "2027-01-31"),
        ("下周", "2026-12-07"),  # next week alone: its Monday
        ("January 10", "2027-01-10"),  # no year: the next one
        ("in a month", "2027-01-01"),
        ("teach me to juggle by Christmas", "2026-12-25"),
        ("I study 30 minutes a day", None),  # a frequency is no deadline
        ("每天练习半小时，每周三次", None),
        ("help me study for the SAT", None),  # SAT is an exam, not Saturday
        ("by next summer", None),  # vague
    ],
)
def test_deadlines_in_both_languages_against_a_fixed_today(text, deadline):
    found = deadline_of(text, TODAY)
    assert (found.isoformat() if found else None) == deadline


def test_relative_dates_move_with_today():
    assert deadline_of("next Friday", date(2026, 12, 4)) == date(2026, 12, 11)  # a Friday: next week's
    assert deadline_of("下个月15号", date(2027, 12, 20)) == date(2028, 1, 15)  # over the year's end
    assert deadline_of("December 20", date(2026, 12, 21)) == date(2027, 12, 20)  # passed: next year's


def test_times_are_taken_out_before_the_topic_is_read():
    assert strip_times("我要在月底前写完年终总结", TODAY).replace(" ", "") == "我要在前写完年终总结"
    assert read("把2027年1月10日的产品发布拆解成任务", "task_decomposition", today=TODAY).deadline == date(2027, 1, 10)


def test_given_fields_win_over_the_reading():
    reading = read(
        "I have a physics exam on December 20",
        "exam_preparation",
        today=TODAY,
        topic="quantum mechanics",
        deadline=date(2027, 1, 5),
        level="advanced",
    )
    assert (reading.topic, reading.deadline, reading.level) == ("quantum mechanics", date(2027, 1, 5), "advanced")
    assert reading.goal == "pass the quantum mechanics exam"


def test_goals_and_levels_are_worded_in_the_learners_language():
    assert read("I need to repaint the bedroom", "task_decomposition", today=TODAY).goal == "repaint bedroom"
    assert goal_for("deep_learning", "递归", "zh") == "真正理解递归"
    assert goal_for("exam_preparation", "GRE", "en") == "pass the GRE"
    assert goal_for("task_decomposition", "thesis", "en") == "finish the thesis"
    assert level_of("I'm a complete beginner") == "beginner" and level_of("我是零基础") == "beginner"
    assert level_of("explain recursion") is None


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_development_set_stays_read(language):
    """A regression guard on the set the rules were developed on (optimistic by construction)."""
    rows = [json.loads(line) for line in (DATASETS / "assist_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r["intent"] != "quick_task" and r["lang"] == language]
    assert len(rows) >= 100
    topics = deadlines = 0
    for row in rows:
        reading = read(row["text"], row["intent"], today=date.fromisoformat(row["today"]))
        topics += _norm(reading.topic) == _norm(row["topic"])
        deadlines += (reading.deadline.isoformat() if reading.deadline else None) == row["deadline"]
    assert topics / len(rows) >= 0.95 and deadlines / len(rows) >= 0.98
