"""Tokens for tool search, in English and Chinese.

- Identifiers split on ``_ - . /`` and on camelCase (``getWeatherForecast`` -> get, weather, forecast).
- Latin words are lowercased, NFKC-normalised (full-width letters become plain), English stop words
  dropped, and reduced to a stem by a small suffix rule (plurals, -ing, -ed, -ly): ``files`` and
  ``file``, ``converting`` and ``convert`` meet. Numbers of two or more digits are kept.
- Chinese (Han characters) is not split on spaces: each run of Han characters gives its overlapping
  character bigrams, and a one-character run the character itself. Bigrams beat word segmentation
  (jieba) on our query sets and need no dictionary (figures: bench/RESULTS.md, "Tool search").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PIECES = re.compile(r"[0-9A-Za-z]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

STOP_WORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below between both but by
    can could did do does doing done down during each either else etc every few for from further get gets got had
    has have having he her here hers him his how i if in into is it its itself just me more most my no nor not
    now of off on once only or other our ours out over own please same she should so some such than that the
    their theirs them then there these they this those through to too under until up us use used using very via
    want was we were what when where which while who whom why will with would you your yours yourself
    """.split()
)
"""English words that say nothing about which tool fits (kept small: 'search', 'list', 'file' stay)."""

_CHINESE_STOP = frozenset("的了是在和与或及把被给对从向我你他她它们这那哪吗呢吧啊请帮一个")
"""Han characters that only glue a sentence together: a bigram made of two of them is dropped."""


def split_identifier(text: str) -> list[str]:
    """``get_weather-forecast.v2`` / ``getWeatherForecast`` -> their lowercase parts."""
    parts: list[str] = []
    for piece in _PIECES.findall(text):
        parts.extend(p.lower() for p in _CAMEL.split(piece) if p)
    return parts


def stem(word: str) -> str:
    """A light English stem: enough for plurals and common verb forms to meet, nothing clever."""
    if len(word) <= 3 or not word.isascii() or not word.isalpha():
        return word
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("ly", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("xes", "ches", "shes", "zes", "oes")):
                continue
            base = word[: len(word) - len(suffix)] + keep
            if suffix in ("ing", "ed") and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running -> run, stopped -> stop
            return base
    return word


def han_grams(run: str) -> Iterator[str]:
    """A run of Han characters as overlapping bigrams (a single character as itself)."""
    if len(run) == 1:
        if run not in _CHINESE_STOP:
            yield run
        return
    for i in range(len(run) - 1):
        gram = run[i : i + 2]
        if not (gram[0] in _CHINESE_STOP and gram[1] in _CHINESE_STOP):
            yield gram


def terms_with_words(text: str) -> list[tuple[str, str]]:
    """Every (term, the word it came from) of ``text``, in order, repeats kept."""
    normal = unicodedata.normalize("NFKC", text)
    out: list[tuple[str, str]] = []
    for piece in _PIECES.findall(normal):
        if _HAN.match(piece):
            out.extend((gram, gram) for gram in han_grams(piece))
            continue
        for part in _CAMEL.split(piece):
            word = part.lower()
            term = _latin_term(word)
            if term is not None:
                out.append((term, word))
    return out


@functools.lru_cache(maxsize=65_536)
def _latin_term(word: str) -> str | None:
    """A lowercase Latin word's term, or None for a stop word, a single digit or letter (words repeat
    endlessly in tool descriptions: each is worked out once)."""
    if not word or word in STOP_WORDS or len(word) < 2:
        return None
    return word if word.isdigit() else stem(word)


def terms(text: str) -> list[str]:
    """The terms of ``text`` (a tool's name, description, a query), in order, repeats kept."""
    return [term for term, _word in terms_with_words(text)]
