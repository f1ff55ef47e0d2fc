"""Classes of error found on the fifth author's set (datasets/assist_blind6.jsonl), checked on messages that are
not in it, against a fixed today, per language."""

from __future__ import annotations

from datetime import date

import pytest

from plugyard.assistant.reading import read
from plugyard.assistant.reading.dates import deadline_of, strip_times

TODAY = date(2027, 3, 12)  # a Friday


@pytest.mark.parametrize(
    ("text", "deadline"),
    [
        # a month named alone after a digit (N2七月份, 第2七月 is no case): its 1st day, the next one
        ("托福和N1七月份都要考", "2027-07-01"),
        ("HSK5 九月考，还没开始准备", "2027-09-01"),
        ("CET4 6月份考试", "2027-06-01"),
        ("N2 2月考", "2028-02-01"),
        # spaces between the digits and 年/月/日/号
        ("雅思定在 5 月 20 日", "2027-05-20"),
        ("2027 年 11 月 3 号交报告", "2027-11-03"),
        ("下个月 8 号之前要交", "2027-04-08"),
        ("答辩在 6 月份", "2027-06-01"),
        # a month's end named with the month: that month's last day
        ("十二月底前要搬完家", "2027-12-31"),
        ("2月底要交", "2028-02-29"),
        ("明年1月底", "2028-01-31"),
        ("月底前交", "2027-03-31"),
        ("下个月底上线", "2027-04-30"),
    ],
)
def test_chinese_months_and_spaced_dates(text, deadline):
    found = deadline_of(text, TODAY)
    assert (found.isoformat() if found else None) == deadline


def test_a_spaced_date_is_taken_out_of_the_subject():
    assert "9" not in strip_times("GRE 定在 9 月 18 日，怎么复习", TODAY)
    assert read("托福 定在 9 月 18 日，怎么复习", "exam_preparation", today=TODAY).topic == "托福"


def rules_topic(message: str, intent: str) -> str:
    return read(message, intent, today=TODAY, topic_model=None).topic


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        # a cue character that begins a word (有机, 有限) is part of it
        ("有机化学期中考试怎么复习", "exam_preparation", "有机化学"),
        # a measure word after 一 is no part of the subject
        ("想和同学拍一部纪录片，帮我列个计划", "task_decomposition", "纪录片"),
        # a doer's possessive and a request's owner (学校今年的X我负责) around the subject
        ("学校今年的运动会我负责，不知道从哪开始", "task_decomposition", "运动会"),
        # who said it, before a time, is no subject
        ("老板说下周五前要把产品手册改版上线，帮我列个计划", "task_decomposition", "产品手册"),
        ("要在月底前把仓库整理好，帮我拆一下步骤", "task_decomposition", "仓库"),
        ("把车库改造成健身房，要分几步", "task_decomposition", "车库"),
        ("我们组的新版App下周五要上线，帮忙拆一下任务", "task_decomposition", "新版App"),
        ("老房子想翻新一下厨房，预算五万", "task_decomposition", "厨房"),
        # 咋, the colloquial 怎么
        ("HTTPS的握手到底咋回事，证书那块看不懂", "deep_learning", "HTTPS的握手"),
        ("口语咋练？下个月出国", "skill_building", "口语"),
        # 把X彻底搞明白; X特别在哪; a comment (而不是…) and a question about what was named (为什么要这样)
        ("我想把Python的闭包彻底搞明白，下周要讲", "deep_learning", "Python的闭包"),
        ("印象派到底特别在哪？想真正搞懂而不是死记", "deep_learning", "印象派"),
        ("经济学上的机会成本是怎么回事，为什么要这样算", "deep_learning", "机会成本"),
        ("彩虹为啥是弯的？背后的原理是啥", "deep_learning", "彩虹"),
        ("想理解一下TCP的拥塞控制，比如为啥要慢启动", "deep_learning", "TCP的拥塞控制"),
        # 练到能X, 坚持X, X总V不好
        ("想练到能跑全马，帮我安排下训练", "skill_building", "跑全马"),
        ("想每天坚持背单词，有没有合理的节奏", "skill_building", "背单词"),
        ("钢琴琶音总弹不好，怎么练", "skill_building", "钢琴琶音"),
        # a purpose after the subject is a comment (放我的游记), 放 inside a word is not (播放器)
        ("想搭一个博客放我的游记，帮我列步骤", "task_decomposition", "博客"),
        ("想做一个音乐播放器，帮我列步骤", "task_decomposition", "音乐播放器"),
        # a space between Chinese characters ends a clause
        ("明天考线代 还有三章没看 救命", "exam_preparation", "线代"),
    ],
)
def test_chinese_segment_boundaries_and_first_clauses(message, intent, want):
    assert rules_topic(message, intent) == want


@pytest.mark.parametrize(
    ("message", "want"),
    [
        ("跑训练的时候 GPU out of memory，咋办", "GPU out of memory"),
        ("服务跑着就 panic: runtime error: slice bounds out of range，怎么修", "slice bounds out of range"),
        ("前端一直跨域报错，后端是Django", "跨域报错"),
        ("git says 'fatal: not a git repository' in my project folder", "not a git repository"),
    ],
)
def test_errors_named_inside_a_log_line(message, want):
    assert rules_topic(message, "error_diagnosis") == want


@pytest.mark.parametrize(
    ("message", "intent", "want"),
    [
        # "X due <time>": what is due
        ("lab report due tomorrow, how do i split it up", "task_decomposition", "lab report"),
        # a filler or comment after the subject
        ("organising a baby shower haha. it's in May, where do I start", "task_decomposition", "baby shower"),
        ("need to set up an Etsy shop for my dad's woodwork by next week", "task_decomposition", "Etsy shop"),
        ("how do I get better at chess over time", "skill_building", "chess"),
        ("I need the intuition behind eigenvectors clear in my head before Monday", "deep_learning", "eigenvectors"),
        # the task said another way: promised, put together, in charge of, dealing with, an activity said first
        ("I promised I'd repaint the bedroom before my parents visit", "task_decomposition", "bedroom"),
        ("I need to put together a conference poster. what are the parts", "task_decomposition", "conference poster"),
        ("I'm in charge of the school bake sale. 40 families, no plan yet", "task_decomposition", "school bake sale"),
        (
            "first time dealing with a visa application. could you break the whole thing into steps",
            "task_decomposition",
            "visa application",
        ),
        ("moving to a new city in June and I haven't started packing", "task_decomposition", "moving to a new city"),
        # split the work up for the two of us: no subject there
        (
            "We're launching a newsletter, me and a friend. Split the work up into tasks for the two of us",
            "task_decomposition",
            "newsletter",
        ),
        # what was learnt but not understood; a deep dive on X
        ("I've memorized the Krebs cycle but it doesn't click", "deep_learning", "Krebs cycle"),
        ("I'd love a deep dive on quantitative easing", "deep_learning", "quantitative easing"),
        # skills: able to, a habit of, conversational in, get into
        ("want to be able to swim 1k in under 30 min", "skill_building", "swim 1k"),
        ("help me build a habit of reading research papers", "skill_building", "reading research papers"),
        ("I want to be somewhat conversational in Portuguese by then", "skill_building", "Portuguese"),
        ("I'd love to get into pottery, mainly wheel throwing", "skill_building", "pottery"),
    ],
)
def test_english_subjects_said_another_way(message, intent, want):
    assert rules_topic(message, intent) == want


@pytest.mark.parametrize(
    ("message", "want"),
    [
        ("the scanner says feeder jam but nothing is stuck", "feeder jam"),
        ("my oven is flashing F3 and won't heat", "F3"),
        (
            'why does Vue keep saying "Maximum recursive updates exceeded. This means..."',
            "Maximum recursive updates exceeded",
        ),
        ("keep hitting `use of moved value: data` in my rust code", "use of moved value"),
    ],
)
def test_english_errors_a_tool_says(message, want):
    assert rules_topic(message, "error_diagnosis") == want
