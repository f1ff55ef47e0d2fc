"""A subject with a comment, a purpose or the rest of the clause after it (a class of error found on the fourth
author's set, datasets/assist_blind5.jsonl), checked on messages that are not in it. The rules alone; the topic
model reads the same cleaning through its span notes."""

from __future__ import annotations

from datetime import date

import pytest

from plugyard.assistant.reading import chinese, english, read, topic_candidates

TODAY = date(2026, 12, 1)


def topic(message: str, intent: str) -> str:
    return read(message, intent, today=TODAY, topic_model=None).topic


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        ("下个月要做一个作品集给HR看，不知道先整理哪些", "task_decomposition", "作品集"),
        ("筹备婚礼好复杂啊，到底先订酒店还是先拍照", "task_decomposition", "婚礼"),
        ("想学做蛋糕送人，完全没经验", "skill_building", "做蛋糕"),
        ("为什么会有潮汐？能讲透一点吗", "deep_learning", "潮汐"),
        ("下周要给实习生讲Docker网络，我自己先得弄懂", "deep_learning", "Docker网络"),
        ("为啥水结冰的时候会有体积膨胀？", "deep_learning", "体积膨胀"),
    ],
)
def test_chinese_comment_or_purpose_after_the_subject_is_left_out(message, intent, want):
    assert topic(message, intent) == want


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        ("explain the halting problem without hand-waving please", "deep_learning", "halting problem"),
        ("I want to learn Excel well enough for my new job", "skill_building", "Excel"),
        (
            "we're organising a hackathon and nobody knows where to begin, split it into tasks",
            "task_decomposition",
            "hackathon",
        ),
        ("how do I get rid of this segmentation fault", "error_diagnosis", "segmentation fault"),
    ],
)
def test_english_comment_after_the_subject_is_left_out(message, intent, want):
    assert topic(message, intent) == want


@pytest.mark.parametrize(
    ("captured", "intent", "want"),
    [
        ("毕业相册做出来", "task_decomposition", "毕业相册"),
        ("书房重新装", "task_decomposition", "书房"),
        ("Photoshop用熟练", "skill_building", "Photoshop"),
        ("演讲稿写出来", "task_decomposition", "演讲稿"),
        ("毛衣送给奶奶", "skill_building", "毛衣"),
        ("拼图太难了", "skill_building", "拼图"),
        # not a comment: a subject that ends like one is kept
        ("有机化学", "deep_learning", "有机化学"),
        ("看图说话", "skill_building", "看图说话"),
        ("重新", "task_decomposition", "重新"),
    ],
)
def test_chinese_cleaning_takes_a_comment_off_the_end_of_a_capture(captured, intent, want):
    assert chinese.clean(captured, intent) == want


@pytest.mark.parametrize(
    ("captured", "want"),
    [
        ("the halting problem without hand-waving", "halting problem"),
        ("Spanish well enough to order food", "Spanish"),
        ("a food truck and no one here has run one", "food truck"),
        ("rid of this null pointer exception", "null pointer exception"),
    ],
)
def test_english_cleaning_takes_a_comment_off_the_end_of_a_capture(captured, want):
    assert english.clean(captured) == want


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        ("我是厨师，想学摄影，周末有空", "skill_building", "摄影"),
        ("老板让我下周把官网改版方案拿出来", "task_decomposition", "官网改版方案"),
        ("I'm a plumber and I want to learn Spanish for work", "skill_building", "Spanish"),
        ("My tutor said I should finally understand recursion", "deep_learning", "recursion"),
    ],
)
def test_who_the_learner_is_stated_first_is_no_subject(message, intent, want):
    assert topic(message, intent) == want


def test_who_the_learner_is_holds_no_candidate_for_the_topic_model():
    found = {
        c.text for c in topic_candidates("我是会计，想学吉他", "skill_building", today=TODAY, language="zh", rule="")
    }
    assert "吉他" in found and not found & {"会计", "计", "是会计"}
    found = {c.text for c in topic_candidates("I'm a nurse and want to learn yoga", "skill_building", today=TODAY,
                                              language="en", rule="")}  # fmt: skip
    assert "yoga" in found and "nurse" not in found
