"""The candidates the topic model (``spans``) chooses among, with what the rules know of each: the words a
subject is cleaned of (``chinese.span_notes``, ``english.span_notes``), the cue words beside it, and the
error or exam the message names."""

from __future__ import annotations

import re
from datetime import date

from . import chinese, english, spans
from .dates import strip_times
from .errors import error_topic
from .exams import named_exam

SPAN_CHARS = 600
"""The topic model reads spans of the head of a message: bounded time."""


def topic_candidates(message: str, intent: str, *, today: date, language: str, rule: str) -> list[spans.Candidate]:
    """Every span of ``message`` (times taken out) and the rules' answer ``rule``, each with its features."""
    text = strip_times(message[:SPAN_CHARS], today, mark=spans.TIME_MARK)
    text = re.sub(rf"{spans.TIME_MARK}['’]s\b", spans.TIME_MARK, text)  # tomorrow's quiz: the 's of a time
    # who the learner is, stated first (我是会计; I'm a nurse and), holds no candidate: taken out like a time
    who = (chinese if language == "zh" else english).WHO_FIRST.match(text)
    if who and who.end() < len(text):
        text = spans.TIME_MARK + text[who.end() :]
    hints = {"error": (error_topic(message) or "") if intent == "error_diagnosis" else "", "exam": ""}
    if intent == "exam_preparation":
        hints["exam"] = named_exam(text.replace(spans.TIME_MARK, " ")) or ""
    if language == "zh":
        return spans.candidates(
            text, intent, language, rule, hints, lambda span: chinese.span_notes(span, intent), chinese.CUE_CHARS
        )
    return spans.candidates(text, intent, language, rule, hints, english.span_notes, english.CUE_WORDS)


__all__ = ["SPAN_CHARS", "topic_candidates"]
