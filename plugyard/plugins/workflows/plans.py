"""Plans without a model: templates written around a clean topic, per kind of request and language,
with estimates that fit the request (a thesis is hundreds of hours, a party an afternoon or two).

Kinds: ``exam`` (its hours grow with the days left), ``writing``, ``build``, ``event``, ``renovation``
and ``project`` (the rest) for tasks; ``concept`` and ``skill`` for the learning paths. A task's size
(small, medium, large) is read from the topic's words in either language.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

# kind -> words of the topic that say it (English, Chinese)
_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("writing", re.compile(r"thesis|dissertation|paper|essay|report|review|novel|book|article|proposal|chapter|"
                           r"application|statement|cover letter|résumé|resume|blog post|论文|报告|小说|书|文章|"
                           r"申请|简历|开题|总结|作文|稿", re.I)),
    ("build", re.compile(r"website|site|app|game|store|shop|software|tool|service|api|bot|plugin|migration|"
                         r"redesign|refactor|launch|podcast|channel|网站|博客|App|应用|游戏|网店|店|系统|迁移|改版|"
                         r"发布|公众号|程序|小程序", re.I)),
    ("renovation", re.compile(r"kitchen|bathroom|garden|garage|house|apartment makeover|renovat|厨房|卫生间|房子|"
                              r"装修|花园", re.I)),
    ("event", re.compile(r"wedding|party|trip|travel|moving|move|offsite|conference|talk|festival|run|dinner|"
                         r"婚礼|派对|聚会|旅行|搬家|年会|团建|活动|节目|演出|出国|留学", re.I)),
]  # fmt: skip
_LARGE = re.compile(r"thesis|dissertation|novel|book|app|game|startup|wedding|abroad|毕业论文|毕业设计|小说|书|"
                    r"App|游戏|婚礼|出国|留学|咖啡店|店|开一家", re.I)  # fmt: skip
_SMALL = re.compile(r"essay|cover letter|résumé|resume|party|dinner|checklist|talk|作文|简历|派对|聚会|节目", re.I)

# Total hours of a task, by kind and size (small, medium, large).
_HOURS = {
    "writing": (6, 30, 300),
    "build": (10, 40, 160),
    "renovation": (16, 60, 160),
    "event": (6, 16, 80),
    "project": (6, 16, 60),
}

# (title, share of the total) per kind; {t} is the topic.
_STEPS: dict[str, dict[str, list[tuple[str, float]]]] = {
    "exam": {
        "en": [("Collect the syllabus, past papers and your notes for {t}", 0.05),
               ("Make a one-page summary of each {t} topic", 0.25),
               ("Practise problems on the weakest {t} topics", 0.35),
               ("Sit a timed mock {t} exam", 0.15),
               ("Go through every mistake and redo those problems", 0.2)],
        "zh": [("整理{t}的考试大纲、往年真题和笔记", 0.05),
               ("把{t}的每个知识点总结成一页提纲", 0.25),
               ("针对{t}的薄弱知识点做练习题", 0.35),
               ("限时完成一套{t}模拟题", 0.15),
               ("复盘错题并重做", 0.2)],
    },
    "writing": {
        "en": [("Pin down the question, scope and outline of the {t}", 0.08),
               ("Gather and read the sources for the {t}", 0.27),
               ("Write the first full draft of the {t}", 0.4),
               ("Revise the {t}: structure first, then sentences", 0.17),
               ("Proofread, format and submit the {t}", 0.08)],
        "zh": [("确定{t}的主题、范围和提纲", 0.08),
               ("收集并阅读{t}需要的资料", 0.27),
               ("写完{t}的完整初稿", 0.4),
               ("修改{t}：先改结构，再改语句", 0.17),
               ("校对、排版并提交{t}", 0.08)],
    },
    "build": {
        "en": [("Write down what the {t} must do and for whom", 0.08),
               ("Sketch the {t}: its parts, pages or screens", 0.12),
               ("Build a first working version of the {t}", 0.45),
               ("Test the {t} with real users or data and fix what breaks", 0.23),
               ("Launch the {t} and note what to improve next", 0.12)],
        "zh": [("写清楚{t}要做什么、给谁用", 0.08),
               ("画出{t}的结构：模块、页面或界面", 0.12),
               ("做出{t}的第一个可用版本", 0.45),
               ("用真实用户或数据测试{t}并修复问题", 0.23),
               ("上线{t}，记录下一步的改进", 0.12)],
    },
    "renovation": {
        "en": [("Measure the {t} and decide what must change", 0.08),
               ("Set the budget and get quotes or materials for the {t}", 0.17),
               ("Clear and prepare the {t}", 0.15),
               ("Do the main work on the {t}", 0.45),
               ("Finish, clean up and check the {t}", 0.15)],
        "zh": [("测量{t}，确定要改什么", 0.08),
               ("定好预算，为{t}询价或备料", 0.17),
               ("清空并准备好{t}", 0.15),
               ("完成{t}的主体施工", 0.45),
               ("收尾、清洁并验收{t}", 0.15)],
    },
    "event": {
        "en": [("Fix the date, budget and guest list for the {t}", 0.12),
               ("Book what the {t} needs: place, travel, suppliers", 0.3),
               ("Plan the {t} hour by hour", 0.2),
               ("Prepare everything for the {t} and confirm the bookings", 0.28),
               ("Run the {t} and close it out: payments, thanks, notes", 0.1)],
        "zh": [("确定{t}的日期、预算和人员名单", 0.12),
               ("预订{t}需要的场地、交通和服务", 0.3),
               ("排好{t}当天的流程", 0.2),
               ("准备{t}的物品并确认所有预订", 0.28),
               ("完成{t}并收尾：结账、致谢、记录", 0.1)],
    },
    "project": {
        "en": [("Define what 'done' means for {t}", 0.08),
               ("Gather what {t} needs: materials, tools, people", 0.17),
               ("Do the first big piece of {t}", 0.4),
               ("Review {t} and fix the biggest gaps", 0.22),
               ("Finish and deliver {t}", 0.13)],
        "zh": [("明确{t}的完成标准", 0.08),
               ("准备{t}需要的资料、工具和人手", 0.17),
               ("完成{t}最大的一块工作", 0.4),
               ("检查{t}并补上最大的缺口", 0.22),
               ("收尾并交付{t}", 0.13)],
    },
}  # fmt: skip


def task_kind(intent: str | None, topic: str) -> str:
    if intent == "exam_preparation":
        return "exam"
    for kind, pattern in _KINDS:
        if pattern.search(topic):
            return kind
    return "project"


def task_hours(kind: str, topic: str, *, today: date, deadline: date | None, level: str | None) -> float:
    """The total a plan of ``kind`` should take: an exam's grows with the days left (about 1.5 hours
    a day, 4 to 40 hours; a beginner gets a third more); a task's is set by its size."""
    if kind == "exam":
        days = (deadline - today).days if deadline is not None else 14
        hours = min(40.0, max(4.0, 1.5 * max(days, 1)))
        return round(hours * (1.33 if level == "beginner" else 1.0), 1)
    small, medium, large = _HOURS.get(kind, _HOURS["project"])
    if _LARGE.search(topic):
        return float(large)
    if _SMALL.search(topic):
        return float(small)
    return float(medium)


def template_plan(
    intent: str | None, topic: str, language: str, *, today: date, deadline: date | None, level: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """The kind of the request and its subtasks (title, minutes), from the templates."""
    kind = task_kind(intent, topic)
    hours = task_hours(kind, topic, today=today, deadline=deadline, level=level)
    steps = _STEPS[kind]["zh" if language == "zh" else "en"]
    subtasks = [
        {"title": title.format(t=topic), "minutes": max(15, round(hours * share * 60 / 5) * 5)}
        for title, share in steps
    ]
    return kind, subtasks


def hours_text(minutes: int, language: str) -> str:
    hours = minutes / 60
    if language == "zh":
        return f"{minutes} 分钟" if minutes < 90 else f"约 {hours:.0f} 小时" if hours >= 10 else f"约 {hours:.1f} 小时"
    return f"{minutes} min" if minutes < 90 else f"about {hours:.0f} h" if hours >= 10 else f"about {hours:.1f} h"
