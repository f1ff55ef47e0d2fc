"""Named exams and certificates, in either language: the subject of an exam request that names no
subject around an exam word ("GRE in 3 weeks. Quant is my weak side." is about the GRE).

Read by shape, not from a list of messages: an acronym of capitals (LSAT, TOEFL, JLPT N3), a Chinese
level exam (英语六级, 计算机二级, CFA一级), a driving-test part (驾照科目四), and the few Chinese exams
known by a short name (雅思, 托福, 高考, 考研)."""

from __future__ import annotations

import re

_ACRONYM = re.compile(r"(?<![\w])([A-Z]{2,6}(?:\s?N[1-5]|\s(?:Level|Part|Step|Paper)\s?(?:[1-3]|I{1,3}))?)(?![\w])")
# Capitals that are no exam: the pronoun, times of day, file kinds, places, the request's own words.
_NOT_EXAMS = {
    "I", "OK", "AM", "PM", "ASAP", "FAQ", "PDF", "TV", "USA", "UK", "US", "EU", "CV", "DIY", "WWI", "WWII",
    "TIPS", "HELP", "PLEASE", "PLS", "ETA", "FYI", "BTW", "IMO", "LOL", "OMG", "EOD", "TODO", "NOT",
}  # fmt: skip
_ZH = re.compile(
    r"((?:驾照)?科目[一二三四1-4]|[\u4e00-\u9fffA-Za-z]{1,4}[一二三四五六七八九十]级|"
    # 高考数学, 考研政治: the paper of it
    r"(?:雅思|托福|高考|中考|考研|专升本|教资|国考|省考|法考|司考|会考)"
    r"(?:数学|语文|英语|物理|化学|生物|政治|历史|地理|专业课|口语|听力|阅读|写作)?)"
)


def named_exam(text: str) -> str | None:
    """The exam or certificate ``text`` names by itself (not "the physics exam"), or None."""
    if m := _ZH.search(text):
        return m[1]
    for m in _ACRONYM.finditer(text):
        if m[1].upper() not in _NOT_EXAMS:
            return m[1]
    return None


__all__ = ["named_exam"]
