"""Reading a request: its topic (the subject), its goal (what the learner wants done), its deadline and
the learner's level, in English or Chinese. What the caller gave wins over what is read.

``read(message, intent, today=...)``: times are found first (``dates``) and taken out, then the error
named (``errors``) for error_diagnosis, else the language's cue patterns (``english``, ``chinese``); an
exam named by itself (``exams``: LSAT, 英语六级) when no cue carries a subject.
The conventions the labelled sets follow are in datasets/README.md; bench/bench_extraction.py scores
them (bench/RESULTS.md).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Literal

from plugyard.core.intents import detect_language

from . import chinese, english, spans
from .dates import deadline_of, strip_times
from .errors import error_topic
from .features import topic_candidates

Level = Literal["beginner", "intermediate", "advanced"]
Language = Literal["en", "zh"]

_LEVELS: list[tuple[re.Pattern[str], Level]] = [
    (re.compile(r"\b(?:beginner|novice|newbie|new to|never (?:done|used|tried|learned|studied)|from scratch|"
                r"complete noob|for dummies|basics)\b|初学者|零基础|新手|入门|小白|刚开始学", re.I), "beginner"),
    (re.compile(r"\b(?:intermediate|some experience|know the basics)\b|中级|有一定基础|进阶", re.I), "intermediate"),
    (re.compile(r"\b(?:advanced|expert|professional level|in great depth)\b|高级|精通|专家", re.I), "advanced"),
]  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    """What a request says, as plain data (JSON-ready through ``dataclasses.asdict``)."""

    topic: str
    goal: str
    deadline: date | None
    level: Level | None
    language: Language
    verb: str | None = None
    """The learner's own verb for a task or a skill (renovate, 装修), used in the goal."""


def level_of(message: str) -> Level | None:
    for pattern, level in _LEVELS:
        if pattern.search(message):
            return level
    return None


_TOPIC_CHARS = 2_000


def _acronym(topic: str) -> bool:
    return bool(re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,}", topic))


def goal_for(intent: str, topic: str, language: Language, verb: str | None = None) -> str:
    """What the learner wants done, worded around the topic."""
    if language == "zh":
        return {
            "exam_preparation": f"准备好{topic}考试" if not topic.endswith(("考试", "级", "证")) else f"准备好{topic}",
            "task_decomposition": f"{verb or '完成'}{topic}",
            "error_diagnosis": f"解决{topic}",
            "deep_learning": f"真正理解{topic}",
            "skill_building": f"提高{topic}" if not topic.startswith(("做", "画", "用", "写")) else f"学会{topic}",
        }.get(intent, topic)
    if intent == "exam_preparation":
        return f"pass the {topic}" + ("" if _acronym(topic) else " exam")
    if intent == "task_decomposition":
        if verb:
            return f"{verb.lower()} {topic}"
        words = topic.split()
        the = "" if not words or topic[:1].isupper() or words[0].endswith("ing") else "the "
        return f"finish {the}{topic}"
    if intent == "error_diagnosis":
        return f"fix the {topic}"
    if intent == "deep_learning":
        return f"understand {topic}"
    if intent == "skill_building":
        return f"get better at {topic}"
    return topic


def read(
    message: str,
    intent: str,
    *,
    today: date,
    topic: str | None = None,
    goal: str | None = None,
    deadline: date | None = None,
    level: Level | None = None,
    topic_model: TopicModelChoice = "shipped",
) -> Reading:
    """Read ``message``; each of ``topic``, ``goal``, ``deadline`` and ``level`` given wins. ``topic_model``:
    the model that chooses the topic among the message's spans and the rules' reading (None: the rules alone)."""
    language: Language = "zh" if detect_language(message) == "zh" else "en"
    verb: str | None = None
    if not topic:
        topic, verb = read_topic(message, intent, today=today, language=language, model=topic_model)
    return Reading(
        topic=topic,
        goal=goal or goal_for(intent, topic, language, verb),
        deadline=deadline if deadline is not None else deadline_of(message, today),
        level=level or level_of(message),
        language=language,
        verb=verb,
    )


def rule_topic(message: str, intent: str, *, today: date, language: Language) -> tuple[str, str | None]:
    """The topic by the rules alone (and the learner's verb, when there is one)."""
    if intent == "error_diagnosis" and (named := error_topic(message)):
        return named, None
    # The subject is stated early; the cue patterns cost the square of a clause's length, so both are bounded.
    text = strip_times(message[:_TOPIC_CHARS], today, mark=chinese.TIME_MARK if language == "zh" else " ")
    module = chinese if language == "zh" else english
    topic, verb = module.read_topic(text, intent)
    if not topic:
        topic = " ".join(message.split())[:60]
    return topic, verb


TopicModelChoice = spans.TopicModel | None | Literal["shipped"]
"""A topic model, None for the rules alone, or "shipped": the one shipped with plugyard (``spans.shipped``)."""


def read_topic(
    message: str, intent: str, *, today: date, language: Language, model: TopicModelChoice = "shipped"
) -> tuple[str, str | None]:
    """The topic (and the learner's verb, when there is one): the rules' reading, then the topic model's
    choice among the message's spans and that reading."""
    topic, verb = rule_topic(message, intent, today=today, language=language)
    if model == "shipped":
        model = spans.shipped()
    if model is None:
        return topic, verb
    chosen = model.pick(topic_candidates(message, intent, today=today, language=language, rule=topic))
    if not chosen or spans.norm(chosen) == spans.norm(topic):
        return topic, verb
    return chosen, verb if verb and spans.norm(chosen) in spans.norm(topic) else None


__all__ = [
    "Level",
    "Reading",
    "TopicModelChoice",
    "deadline_of",
    "goal_for",
    "level_of",
    "read",
    "read_topic",
    "rule_topic",
    "topic_candidates",
]
