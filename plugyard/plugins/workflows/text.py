"""Text helpers the workflows share: the request's language, its topic, note lookups, deadlines."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from plugyard import Run, detect_language

_STOP = {
    "help",
    "me",
    "my",
    "the",
    "a",
    "an",
    "to",
    "for",
    "and",
    "of",
    "in",
    "on",
    "how",
    "what",
    "why",
    "do",
    "i",
    "want",
    "need",
    "can",
    "you",
    "with",
    "into",
    "is",
    "it",
    "this",
    "that",
    "get",
    "make",
    "give",
    "please",
    "prepare",
    "preparing",
    "exam",
    "final",
    "finals",
    "test",
    "plan",
    "break",
    "down",
    "understand",
    "really",
    "explain",
    "learn",
    "better",
    "improve",
    "next",
    "week",
    "month",
    "days",
    "steps",
    "step",
    "tasks",
    "task",
    "deep",
    "depth",
    "truly",
    "study",
    "about",
    "from",
    "should",
    "does",
    "work",
    "works",
    "at",
    "by",
}
_ZH_FILLER = re.compile(
    r"(帮我|请|我想|我要|我的|怎么|如何|怎样|一下|深入|理解|彻底|搞懂|准备|复习|考试|期末|期中|计划|拆分|分解|"
    r"提高|提升|学习|练习|能力|的|了|吗|呢|？|\?|，|。|！)"
)


def is_chinese(text: str) -> bool:
    return detect_language(text) == "zh"


def topic_of(message: str) -> str:
    """A short topic phrase: the message without requests and filler words."""
    if is_chinese(message):
        topic = _ZH_FILLER.sub(" ", message)
        parts = [p for p in re.split(r"\s+", topic) if p]
        return max(parts, key=len)[:20] if parts else message[:20]
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9+#.-]*", message) if w.lower() not in _STOP]
    return " ".join(words[:4]) or message[:40]


def note_query(topic: str) -> str:
    """search_notes wants every word to match: the most telling single word of the topic."""
    if is_chinese(topic):
        return topic[:4]
    words = sorted(topic.split(), key=len, reverse=True)
    return words[0].lower() if words else topic


async def find_notes(run: Run, topic: str) -> list[dict[str, Any]]:
    query = note_query(topic)
    if not query.strip() or not run.has_capability("search_notes"):
        return []
    found = await run.call("search_notes", {"query": query, "limit": 5}, required=False)
    return [{"path": n["path"], "title": n["title"], "snippet": n["snippet"]} for n in found or []]


_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "末": 5,
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
}
_ZH_NUM = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text in _ZH_NUM:
        return _ZH_NUM[text]
    if text in {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}:
        return ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"].index(text) + 1
    return None


def parse_deadline(message: str, today: date) -> date | None:
    """A deadline stated in the message (English or Chinese), or None."""
    text = message.lower()
    if m := re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.search(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(st|nd|rd|th)?\b", text):
        d = date(today.year, _MONTHS[m[1]], int(m[2]))
        return d if d >= today else date(today.year + 1, d.month, d.day)
    if m := re.search(r"(\d{1,2})月(\d{1,2})[日号]", text):
        d = date(today.year, int(m[1]), int(m[2]))
        return d if d >= today else date(today.year + 1, d.month, d.day)
    if re.search(r"\b(tomorrow)\b|明天|明早", text):
        return today + timedelta(days=1)
    if m := re.search(r"\bin (\w+) (day|week|month)s?\b", text):
        n = _number(m[1])
        if n:
            return today + timedelta(days=n * {"day": 1, "week": 7, "month": 30}[m[2]])
    if m := re.search(r"(\d+|[一两二三四五六七八九十])(天|周|个?星期|个月)", text):
        n = _number(m[1])
        if n:
            return today + timedelta(days=n * (1 if m[2] == "天" else 30 if m[2].endswith("月") else 7))
    if m := re.search(r"\b(next )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", text):
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead + (7 if m[1] and ahead < 7 - today.weekday() else 0))
    if m := re.search(r"(下周|下星期|周|星期)([一二三四五六日天末])", text):
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7 or 7
        if m[1] in ("下周", "下星期"):
            ahead = 7 - today.weekday() + _WEEKDAYS[m[2]]
        return today + timedelta(days=ahead)
    if re.search(r"next week|下周", text):
        return today + timedelta(days=7)
    if re.search(r"end of (the )?month|月底", text):
        nxt = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        return nxt - timedelta(days=1)
    return None
