"""Time expressions in English and Chinese: the deadline a message states, and every span that is a
date, a duration or a frequency (so the topic can be read without them).

Relative dates count from a ``today`` the caller passes. The conventions (weeks start on Monday;
"next Friday" and 下周五 are the Friday of next week; "next week" alone is next week's Monday; a day
and month without a year is the next one on or after today; a stated date beats a vaguer phrase
beside it) are written out in datasets/README.md, and bench/bench_extraction.py measures them.

dateparser and jionlp were measured against these rules on the development set (bench/RESULTS.md):
dateparser misreads 下周三, 12月20日 and 下个月15号 and reads "next Friday" as this week's; jionlp
reads Chinese well but no English and weighs over 200 MB. Neither is a dependency.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Callable
from datetime import date, timedelta

_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")],
        1,
    )
    for name in names
}  # fmt: skip
_WEEKDAYS_EN = {
    name: number
    for number, names in enumerate(
        [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thurs"),
         ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]
    )
    for name in names
}  # fmt: skip
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_UNIT_EN = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
            "year": "year", "years": "year", "fortnight": "fortnight", "wk": "week", "wks": "week"}  # fmt: skip
_NUMBER_EN = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
              "couple of": 2, "few": 3}  # fmt: skip
_DIGITS_ZH = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}  # fmt: skip

_ORD = r"(?:st|nd|rd|th)?"
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WD_RE = "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True))
_NUM_EN_RE = r"\d+|" + "|".join(sorted(_NUMBER_EN, key=len, reverse=True))
_NUM_ZH = r"[0-9零〇一二两三四五六七八九十]+|半"


def zh_number(text: str) -> int | None:
    """A number written in digits or in Chinese numerals up to 99 (十五, 二十, 两)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        high = _DIGITS_ZH.get(tens, 0) if tens else 1
        low = _DIGITS_ZH.get(units, 0) if units else 0
        return high * 10 + low if (not tens or tens in _DIGITS_ZH) and (not units or units in _DIGITS_ZH) else None
    if len(text) == 1 and text in _DIGITS_ZH:
        return _DIGITS_ZH[text]
    return None


def _en_number(text: str) -> int | None:
    text = text.strip().lower()
    return int(text) if text.isdigit() else _NUMBER_EN.get(text)


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _shift(today: date, count: int, unit: str) -> date:
    if unit == "day":
        return today + timedelta(days=count)
    if unit == "week":
        return today + timedelta(weeks=count)
    if unit == "fortnight":
        return today + timedelta(weeks=2 * count)
    if unit == "month":
        return add_months(today, count)
    return add_months(today, 12 * count)


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def _monday(today: date, weeks_ahead: int) -> date:
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)


def _coming(today: date, weekday: int, *, same_day: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    return today + timedelta(days=ahead if ahead or same_day else 7)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_on_or_after(today: date, month: int, day: int) -> date | None:
    found = _safe_date(today.year, month, day)
    if found is not None and found < today:
        found = _safe_date(today.year + 1, month, day)
    return found


def _day_of_month(today: date, day: int) -> date | None:
    found = _safe_date(today.year, today.month, day)
    if found is not None and found >= today:
        return found
    first = add_months(today.replace(day=1), 1)
    return _safe_date(first.year, first.month, day)


@dataclasses.dataclass(frozen=True, slots=True)
class TimeSpan:
    """A time expression found in a message: where it is, and the day it names (None for durations,
    frequencies and vague times). ``rank`` says how exact it is: a stated date (3) beats a relative
    day (2), which beats a week or a month (1)."""

    start: int
    end: int
    day: date | None
    rank: int


Reader = Callable[[re.Match[str], date], tuple[date | None, int]]
_RULES: list[tuple[re.Pattern[str], Reader]] = []


def rule(pattern: str, flags: int = re.I) -> Callable[[Reader], Reader]:
    """Register ``read`` for the matches of ``pattern``: it returns the day named and its rank."""

    def add(read: Reader) -> Reader:
        _RULES.append((re.compile(pattern, flags), read))
        return read

    return add


# -- stated dates ---------------------------------------------------------------------------------


@rule(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
def _iso(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return _safe_date(int(m[1]), int(m[2]), int(m[3])), 3


@rule(
    rf"\b(?:on |by |before |due |until |till )?(?:the )?(\d{{1,2}}){_ORD}(?: day)? (?:of )?({_MONTH_RE})\b"
    r"\.?(?:,? (\d{4}))?"
)
def _day_month(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month = _MONTHS[m[2].lower()]
    if m[3]:
        return _safe_date(int(m[3]), month, int(m[1])), 3
    return _next_on_or_after(today, month, int(m[1])), 3


@rule(rf"\b(?:on |by |before |due |until |till )?({_MONTH_RE})\.? (?:the )?(\d{{1,2}}){_ORD}\b(?:,? (\d{{4}}))?")
def _month_day(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month = _MONTHS[m[1].lower()]
    if m[3]:
        return _safe_date(int(m[3]), month, int(m[2])), 3
    return _next_on_or_after(today, month, int(m[2])), 3


@rule(rf"\b(?:in|by|during) ({_MONTH_RE}),? (?:on |by )?the (\d{{1,2}}){_ORD}\b")
def _month_then_day(m: re.Match[str], today: date) -> tuple[date | None, int]:
    """ "in September, on the 18th": one date said in two parts (the day alone would be this month's)."""
    return _next_on_or_after(today, _MONTHS[m[1].lower()], int(m[2])), 3


@rule(r"\b(?:on |by |before |due |until |till )(\d{1,2})/(\d{1,2})\b(?!/)")
def _slashed(m: re.Match[str], today: date) -> tuple[date | None, int]:
    """ "on 12/18": month first (a day above 12 first is read day first, 18/12)."""
    first, second = int(m[1]), int(m[2])
    month, day = (second, first) if first > 12 >= second else (first, second)
    return (_next_on_or_after(today, month, day), 3) if month <= 12 else (None, 0)


@rule(r"\b(?:on|by|before|until|till|due|(?:mon|tues|wednes|thurs|fri|satur|sun)day,?) the (\d{1,2})(?:st|nd|rd|th)\b")
def _the_nth(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return _day_of_month(today, int(m[1])), 3


@rule(r"(?:(\d{4})\s*年|(明年|今年))?\s*(" + _NUM_ZH + r")\s*月\s*(" + _NUM_ZH + r")(?:\s*[日号])?", 0)
def _zh_month_day(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month, day = zh_number(m[3]), zh_number(m[4])
    if month is None or day is None:
        return None, 0
    if m[1]:
        return _safe_date(int(m[1]), month, day), 3
    if m[2] == "明年":
        return _safe_date(today.year + 1, month, day), 3
    if m[2] == "今年":
        return _safe_date(today.year, month, day), 3
    return _next_on_or_after(today, month, day), 3


@rule(r"(下个?月|本月|这个月)\s*(" + _NUM_ZH + r")\s*[日号]", 0)
def _zh_next_month_day(m: re.Match[str], today: date) -> tuple[date | None, int]:
    day = zh_number(m[2])
    if day is None:
        return None, 0
    base = add_months(today.replace(day=1), 1 if m[1].startswith("下") else 0)
    return _safe_date(base.year, base.month, day), 3


@rule(r"(?<![月\d])(" + _NUM_ZH + r")[号](?![线楼])", 0)
def _zh_day(m: re.Match[str], today: date) -> tuple[date | None, int]:
    day = zh_number(m[1])
    return (_day_of_month(today, day), 3) if day else (None, 0)


# -- relative days ---------------------------------------------------------------------------------


@rule(r"\b(?:the )?day after tomorrow\b")
def _overmorrow(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return today + timedelta(days=2), 2


@rule(r"\btomorrow\b")
def _tomorrow(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return today + timedelta(days=1), 2


@rule(r"\b(?:today|tonight|this (?:evening|afternoon))\b")
def _today(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return today, 2


@rule(r"大后天|后天|明天|明早|明晚|今天|今晚|今日|明日", 0)
def _zh_days(m: re.Match[str], today: date) -> tuple[date | None, int]:
    offset = {"大后天": 3, "后天": 2}.get(m[0], 0 if m[0].startswith("今") else 1)
    return today + timedelta(days=offset), 2


@rule(rf"\b(?:in|within)\s+(?:the next\s+)?({_NUM_EN_RE})\s+({'|'.join(_UNIT_EN)})\b(?: (?:from now|time))?")
def _in_n(m: re.Match[str], today: date) -> tuple[date | None, int]:
    count = _en_number(m[1])
    return (_shift(today, count, _UNIT_EN[m[2].lower()]), 2) if count else (None, 0)


@rule(r"\b(?:in|within) (?:a|one) (week|month|year|fortnight)\b")
def _in_one(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return _shift(today, 1, _UNIT_EN[m[1].lower()]), 2


@rule(
    rf"\b({_NUM_EN_RE})\s+({'|'.join(_UNIT_EN)})\s+(?:from now|left|to go|away|until|till|before|to prepare)\b"
    rf"|\b(?:i have|i've got|there are|only|still have)\s+({_NUM_EN_RE})\s+({'|'.join(_UNIT_EN)})\b"
    rf"|\b(?:it's|it is|is|are|exam's)\s+in\s+({_NUM_EN_RE})\s+({'|'.join(_UNIT_EN)})\b"
)
def _n_left(m: re.Match[str], today: date) -> tuple[date | None, int]:
    number, unit = next((a, b) for a, b in ((m[1], m[2]), (m[3], m[4]), (m[5], m[6])) if a)
    count = _en_number(number)
    return (_shift(today, count, _UNIT_EN[unit.lower()]), 2) if count else (None, 0)


@rule(r"(?:还有|还剩|只有)?(" + _NUM_ZH + r")\s*(个)?(天|周|星期|礼拜|月|年)(?:后|之后|以后|内|之内|以内|左右后)", 0)
def _zh_in_n(m: re.Match[str], today: date) -> tuple[date | None, int]:
    count = 0 if m[1] == "半" else zh_number(m[1])
    if m[3] == "月" and m[1] == "半":
        return today + timedelta(days=15), 2
    if not count or (m[3] == "月" and not m[2] and m[1] not in ("两",) and not m[1].isdigit() and count > 12):
        return None, 0
    unit = {"天": "day", "月": "month", "年": "year"}.get(m[3], "week")
    return _shift(today, count, unit), 2


@rule(r"(?:还有|还剩|只剩|只有)(" + _NUM_ZH + r")\s*(个)?(天|周|星期|礼拜|月)", 0)
def _zh_left(m: re.Match[str], today: date) -> tuple[date | None, int]:
    count = zh_number(m[1])
    unit = {"天": "day", "月": "month"}.get(m[3], "week")
    return (_shift(today, count, unit), 2) if count else (None, 0)


# -- weekdays ----------------------------------------------------------------------------------------


@rule(rf"\b(next|this|coming|this coming|on|by|before|until|till)?\s*({_WD_RE})\b(?!\s+(?:morning|night)s)")
def _weekday(m: re.Match[str], today: date) -> tuple[date | None, int]:
    name, prefix = m[2], (m[1] or "").lower()
    if len(name) <= 4 and not name.endswith("day") and (not prefix or name.isupper()):
        return None, 0  # "sat", "SAT", "sun" alone are words, not days
    weekday = _WEEKDAYS_EN[name.lower()]
    if prefix == "next":
        return _monday(today, 1) + timedelta(days=weekday), 2
    return _coming(today, weekday, same_day=prefix == "this"), 2


@rule(r"(下下|下|这|本)?个?(?:周|星期|礼拜)([一二三四五六日天末])(?![次回遍个])", 0)
def _zh_weekday(m: re.Match[str], today: date) -> tuple[date | None, int]:
    weekday = _WEEKDAYS_ZH[m[2]]
    weeks = {"下下": 2, "下": 1}.get(m[1] or "", 0)
    if weeks:
        return _monday(today, weeks) + timedelta(days=weekday), 2
    return _coming(today, weekday, same_day=bool(m[1])), 2


# -- weeks, months, ends -------------------------------------------------------------------------------


@rule(r"\b(?:by |before |at |until )?(?:the )?(?:end of (?:(this|the|next) )?(week|month|year)|()(year)[- ]end)\b")
def _end_of(m: re.Match[str], today: date) -> tuple[date | None, int]:
    nxt = (m[1] or "").lower() == "next"
    if m[4]:  # "by year end"
        return date(today.year, 12, 31), 1
    if m[2].lower() == "week":
        return _monday(today, 1 if nxt else 0) + timedelta(days=6), 1
    if m[2].lower() == "month":
        return _month_end(add_months(today.replace(day=1), 1 if nxt else 0)), 1
    return date(today.year + (1 if nxt else 0), 12, 31), 1


@rule(r"\b(?:this|the|next) weekend\b")
def _weekend(m: re.Match[str], today: date) -> tuple[date | None, int]:
    if m[0].lower().startswith("next"):
        return _monday(today, 1) + timedelta(days=5), 2
    return _coming(today, 5, same_day=True), 2


@rule(r"\b(?:the )?week after next\b")
def _week_after_next(m: re.Match[str], today: date) -> tuple[date | None, int]:
    return _monday(today, 2), 1


@rule(r"\bnext (week|month)\b")
def _next_period(m: re.Match[str], today: date) -> tuple[date | None, int]:
    if m[1].lower() == "week":
        return _monday(today, 1), 1
    return add_months(today.replace(day=1), 1), 1


@rule(r"(下下|下|本|这)个?(周|星期|礼拜|月)(初|底|末)?", 0)
def _zh_period(m: re.Match[str], today: date) -> tuple[date | None, int]:
    ahead = {"下下": 2, "下": 1}.get(m[1], 0)
    if m[2] == "月":
        first = add_months(today.replace(day=1), ahead)
        return (_month_end(first) if m[3] in ("底", "末") else first), 1
    if m[3] in ("底", "末"):
        return _monday(today, ahead) + timedelta(days=5), 1
    return (_monday(today, ahead), 1) if ahead else (None, 0)


@rule(r"(?<![本这下])(月底|月末|年底|年末|周末)", 0)
def _zh_ends(m: re.Match[str], today: date) -> tuple[date | None, int]:
    if m[1] in ("月底", "月末"):
        return _month_end(today), 1
    if m[1] == "周末":
        return _coming(today, 5, same_day=True), 2
    return date(today.year, 12, 31), 1


# -- holidays on a fixed date and months named alone ------------------------------------------------------

_HOLIDAYS = {"christmas eve": (12, 24), "christmas day": (12, 25), "christmas": (12, 25), "xmas": (12, 25),
             "new year's eve": (12, 31), "new years eve": (12, 31), "new year's day": (1, 1), "new year": (1, 1),
             "valentine's day": (2, 14), "halloween": (10, 31), "平安夜": (12, 24), "圣诞节": (12, 25),
             "圣诞": (12, 25), "元旦": (1, 1), "跨年": (12, 31), "情人节": (2, 14), "国庆节": (10, 1), "国庆": (10, 1),
             "劳动节": (5, 1), "五一": (5, 1), "万圣节": (10, 31)}  # fmt: skip


@rule("|".join(re.escape(h) for h in sorted(_HOLIDAYS, key=len, reverse=True)))
def _holiday(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month, day = _HOLIDAYS[m[0].lower()]
    return _next_on_or_after(today, month, day), 2


@rule(rf"\b(?:in|by|before|until|during|early) ({_MONTH_RE})\b(?! \d)(?!\w)")
def _month_alone(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month = _MONTHS[m[1].lower()]
    if month == today.month:
        return None, 1  # a time (taken out of the subject) that names no deadline
    return _next_on_or_after(today, month, 1), 1


@rule(
    r"(?<![月个])(明年|今年)?((?<!\d)\d+|[零〇一二两三四五六七八九十]+)\s*月"
    r"(?:份|(?!\s*[\d一二三四五六七八九十日号底末初中内个]))",
    0,
)
def _zh_month_alone(m: re.Match[str], today: date) -> tuple[date | None, int]:
    month = zh_number(m[2])
    if month and month <= 12 and m[1]:  # 明年3月: that year's
        return _safe_date(today.year + (1 if m[1] == "明年" else 0), month, 1), 1
    if not month or month > 12:
        return None, 0
    if month == today.month:
        return None, 1
    return _next_on_or_after(today, month, 1), 1


@rule(r"(?<![月个])(明年|今年)?((?<!\d)\d+|[零〇一二两三四五六七八九十]+)\s*月(?:份)?(底|末)", 0)
def _zh_month_end(m: re.Match[str], today: date) -> tuple[date | None, int]:
    """十二月底, 3月底: that month's last day (the next one on or after today)."""
    month = zh_number(m[2])
    if not month or month > 12:
        return None, 0
    year = today.year + (1 if m[1] == "明年" else 0)
    if not m[1] and month < today.month:
        year += 1
    return date(year, month, calendar.monthrange(year, month)[1]), 2


# -- durations, frequencies and vague times: spans to strip, never deadlines -----------------------------

_NOT_DEADLINES = [
    re.compile(r"(?:好几|几|很多|无数)(?:遍|次|回)"),
    re.compile(
        rf"\b(?:for\s+)?(?:about\s+)?(?:{_NUM_EN_RE}|half an?)\s*(?:-\s*)?(?:minutes?|mins?|hours?|hrs?|h)\b"
        r"(?:\s+(?:a|per|each|every)\s+(?:day|night|evening|morning|week|weekday))?",
        re.I,
    ),
    re.compile(rf"\b(?:{_NUM_EN_RE}|once|twice)\s+(?:times?\s+)?(?:a|per|each|every)\s+(?:day|week|month)\b", re.I),
    re.compile(rf"\b(?:{_NUM_EN_RE}|several|many|a (?:dozen|few|couple of|hundred)|dozens of)\s+times\b", re.I),
    re.compile(r"\b(?:every|each)\s+(?:single\s+)?(?:day|evening|morning|night|week|weekday|weekend)s?\b", re.I),
    re.compile(r"\b(?:daily|weekly|nightly|every ?day)\b", re.I),
    re.compile(rf"\bfor\s+(?:the\s+(?:next|past)\s+)?(?:{_NUM_EN_RE})\s+(?:days?|weeks?|months?|years?)\b", re.I),
    re.compile(
        r"\b(?:by |before |until |in |this |next )(?:the )?(?:summer|winter|spring|autumn|fall|semester|term)\b"
        r"|\bsoon(?:-?ish)?\b|\bsomeday\b|\beventually\b|\b(?:sometime |some time )?(?:next|this) year\b"
        r"|\b(?:over|in|within|during) the (?:next|coming) (?:few|couple of|several) (?:days|weeks|months)\b",
        re.I,
    ),
    re.compile(r"(?:每天晚上|每天早上|每天|每日|每晚|每周|每个?星期|每个?月|天天)(?:" + _NUM_ZH + r"次)?"),
    # When work can happen, not a limit: "我们只有周末能干活", "平时周末", "on weekends".
    re.compile(r"(?:只有|只能|只在|一般|通常|平时|每逢|每个|每)(?:在)?周末|\b(?:only )?(?:on |at )?weekends\b", re.I),
    # 次 in a name is no count: TCP三次握手, 二次函数, 三次方程
    re.compile(r"(?:" + _NUM_ZH + r")\s*(?:个)?(?:小时|分钟|钟头|次(?!握手|函数|方程|多项式|元|幂|型)|遍|回)(?:左右)?"),
    re.compile(r"(?:明年|今年)?(?:夏天|冬天|春天|秋天|暑假|寒假|下学期|这学期|开学)(?:前|之前|以前)?"),
]


def time_spans(text: str, today: date) -> list[TimeSpan]:
    """Every time expression in ``text``, longest first where they overlap, in text order."""
    found: list[TimeSpan] = []
    for pattern, read in _RULES:
        for m in pattern.finditer(text):
            if not m[0].strip():
                continue
            day, rank = read(m, today)
            if rank:  # (None, 0): no time at all ("the SAT"); (None, 1+): a time that names no day
                found.append(TimeSpan(m.start(), m.end(), day, rank))
    for pattern in _NOT_DEADLINES:
        found.extend(TimeSpan(m.start(), m.end(), None, 0) for m in pattern.finditer(text) if m[0].strip())
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    kept: list[TimeSpan] = []
    for span in found:
        if kept and span.start < kept[-1].end:
            last = kept[-1]
            if span.end > last.end and span.rank > last.rank:
                kept[-1] = span
            continue
        kept.append(span)
    return kept


def deadline_of(text: str, today: date) -> date | None:
    """The deadline the message states, or None: the most exact time expression that names a day on
    or after today (the first of equals). Durations and frequencies name no day."""
    spans = [s for s in time_spans(text, today) if s.day is not None and s.day >= today]
    if not spans:
        return None
    best = max(spans, key=lambda s: s.rank)
    return best.day


def strip_times(text: str, today: date, mark: str = " ") -> str:
    """``text`` without its time expressions (each replaced by ``mark``, a space unless told)."""
    out, at = [], 0
    for span in time_spans(text, today):
        out.append(text[at : span.start])
        out.append(mark)
        at = span.end
    out.append(text[at:])
    return "".join(out)


__all__ = ["TimeSpan", "add_months", "deadline_of", "strip_times", "time_spans", "zh_number"]
