"""Quick tasks: answer from the message when a registered tool can, else suggest only tools that fit.

An ``Answerer`` is keyed by a capability (calculate, convert_units, diagnose_error, search_notes,
read_note, list_notes): it reads the tool's arguments from the message, in English or Chinese, and
words the tool's result. The assistant asks the host which tool offers the capability (so a third
party's or an upstream server's tool declaring it answers too, chosen by the router), runs it
through the pipeline (recorded, intent quick_task) and returns its answer. Nothing here names a
plugin. Suggestions are tools that declare a capability (history and assistant tools declare none,
so they are never suggested), matched with confidence.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from plugyard.core.tools import Tool

Reader = Callable[[str], dict[str, Any] | None]
Renderer = Callable[[Any, str], str]

_NUMBER = r"-?\d+(?:\.\d+)?"
_FUNCTIONS = ("sqrt", "factorial", "log10", "log2", "log", "sin", "cos", "tan", "exp", "abs", "round")


@dataclasses.dataclass(frozen=True, slots=True)
class Answerer:
    capability: str
    read: Reader
    render: Renderer
    cue: re.Pattern[str]
    """Words that say the request is for this capability even when its arguments cannot be read."""


# -- calculate ------------------------------------------------------------------------------------

_WORDS_EN = [
    (r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s+of\s+(\d+(?:\.\d+)?)", r"(\1 / 100 * \2)"),
    (r"(?:the\s+)?square root of\s+(\d+(?:\.\d+)?)", r"sqrt(\1)"),
    (r"(?:the\s+)?factorial of\s+(\d+)", r"factorial(\1)"),
    (r"(\d+)\s*(?:factorial|!)", r"factorial(\1)"),
    (r"\s*to the power of\s*", "**"),
    (r"\s*(?:raised to)\s*", "**"),
    (r"(\d)\s*squared\b", r"\1**2"),
    (r"(\d)\s*cubed\b", r"\1**3"),
    (r"\s*(?:multiplied by|times)\s*", "*"),
    (r"\s*(?:divided by|over)\s*", "/"),
    (r"\s*plus\s*", "+"),
    (r"\s*minus\s*", "-"),
    (r"\s*mod(?:ulo)?\s*", "%"),
]
_WORDS_ZH = [
    (r"(\d+(?:\.\d+)?)的(\d+(?:\.\d+)?)\s*[%％]", r"(\1 * \2 / 100)"),
    (r"百分之(\d+(?:\.\d+)?)", r"(\1 / 100)"),
    (r"(\d+(?:\.\d+)?)\s*[%％]", r"(\1 / 100)"),
    (r"根号\s*(\d+(?:\.\d+)?)", r"sqrt(\1)"),
    (r"(\d+)的阶乘", r"factorial(\1)"),
    (r"的(\d+)次方", r"**\1"),
    (r"的平方", "**2"),
    (r"的立方", "**3"),
    (r"乘以|乘", "*"),
    (r"除以", "/"),
    (r"加上?", "+"),
    (r"减去?", "-"),
]
_CALC_LEAD = re.compile(
    r"^(?:please\s+)?(?:what(?:'s| is)|calculate|compute|evaluate|work out|how much is|solve|"
    r"计算一下|计算|算一下|算算|请问|求)\s*",
    re.I,
)
_CALC_TAIL = re.compile(r"(?:等于多少|等于几|是多少|等于|多少|是几|=|\?|？|equals?|please)+\s*$", re.I)
_ARITHMETIC = re.compile(rf"^[\d.\s+\-*/%()]*(?:(?:{'|'.join(_FUNCTIONS)})\s*\([\d.\s+\-*/%()]*\)[\d.\s+\-*/%()]*)*$")


def read_expression(message: str) -> dict[str, Any] | None:
    """An arithmetic expression the calculator can evaluate, from English or Chinese words."""
    text = message.strip().replace("×", "*").replace("÷", "/").replace("^", "**").replace("（", "(").replace("）", ")")
    text = _CALC_LEAD.sub("", text)
    text = _CALC_TAIL.sub("", text).strip()
    text = re.sub(r"(?<=\d)\s*x\s*(?=\d)", "*", text)
    for pattern, replacement in _WORDS_EN:
        text = re.sub(pattern, replacement, text, flags=re.I)
    for pattern, replacement in _WORDS_ZH:
        text = re.sub(pattern, replacement, text)
    text = " ".join(text.split())
    if not text or not re.search(r"\d", text):
        return None
    has_operation = re.search(r"[+\-*/%]|\b(?:" + "|".join(_FUNCTIONS) + r")\(", text)
    if not has_operation or not _ARITHMETIC.fullmatch(text):
        return None
    return {"expression": text}


def _render_calculation(result: Any, language: str) -> str:
    return f"{result['expression']} = {result['text']}"


# -- convert_units --------------------------------------------------------------------------------

_UNITS_ZH = {
    "英里": "mi", "公里": "km", "千米": "km", "米": "m", "厘米": "cm", "毫米": "mm", "英寸": "in", "英尺": "ft",
    "码": "yd", "海里": "nmi", "千克": "kg", "公斤": "kg", "克": "g", "毫克": "mg", "斤": None, "磅": "lb",
    "盎司": "oz", "吨": "t", "摄氏度": "°C", "华氏度": "°F", "开尔文": "K", "升": "L", "毫升": "mL",
    "加仑": "gal", "小时": "h", "分钟": "min", "秒": "s", "天": "day", "周": "week", "年": "year",
    "平方米": "m²", "平方公里": "km²", "公顷": "ha", "亩": None, "立方米": "m³", "字节": "B",
}  # fmt: skip
_ZH_UNIT = "|".join(sorted((u for u in _UNITS_ZH if _UNITS_ZH[u]), key=len, reverse=True))
_UNIT_EN = r"[A-Za-z°µμ²³/][A-Za-z°µμ²³/ .]{0,24}?"
_CONVERT = [
    re.compile(rf"^(?:please\s+)?(?:convert\s+)?(?P<v>{_NUMBER})\s*(?P<f>{_UNIT_EN})\s+(?:to|in|into|as)\s+"
               rf"(?P<t>{_UNIT_EN})\s*\??$", re.I),
    re.compile(rf"^(?:what(?:'s| is)|how much is)\s+(?P<v>{_NUMBER})\s*(?P<f>{_UNIT_EN})\s+(?:in|to|as)\s+"
               rf"(?P<t>{_UNIT_EN})\s*\??$", re.I),
    re.compile(rf"^how many\s+(?P<t>{_UNIT_EN})\s+(?:is|are|in|make|equals?)\s+(?P<v>{_NUMBER})\s*"
               rf"(?P<f>{_UNIT_EN})\s*\??$", re.I),
    re.compile(rf"^(?:把)?\s*(?P<v>{_NUMBER})\s*(?:个)?(?P<f>{_ZH_UNIT}|[A-Za-z°]+)\s*(?:换算成|换算为|转换成|转换为|换成|"
               rf"等于多少|是多少|合多少|等于|折合)\s*(?P<t>{_ZH_UNIT}|[A-Za-z°]+)\s*[?？]?$"),
]  # fmt: skip


def _unit(text: str) -> str:
    text = text.strip().rstrip("?？. ")
    return _UNITS_ZH.get(text) or text


def read_conversion(message: str) -> dict[str, Any] | None:
    text = " ".join(message.strip().split())
    for pattern in _CONVERT:
        if m := pattern.match(text):
            return {"value": float(m["v"]), "from_unit": _unit(m["f"]), "to_unit": _unit(m["t"])}
    return None


def _render_conversion(result: Any, language: str) -> str:
    return str(result["text"])


# -- diagnose_error -----------------------------------------------------------------------------------

_ERROR_LINE = re.compile(r"(?<![A-Za-z0-9_.])[A-Z]\w*(?:Error|Exception)(?![A-Za-z0-9_])|Traceback \(most recent")


def read_error(message: str) -> dict[str, Any] | None:
    return {"text": message} if _ERROR_LINE.search(message) else None


def _render_diagnosis(result: Any, language: str) -> str:
    first = (result.get("suggestions") or [""])[0]
    return f"{result['summary']}\n{first}".strip()


# -- notes ----------------------------------------------------------------------------------------------

_SEARCH = [
    re.compile(r"^(?:please\s+)?(?:search|look through|check)\s+(?:in\s+)?(?:my\s+|the\s+)?notes\s+(?:for|about|on)\s+"
               r"(?P<q>.+?)\s*\??$", re.I),
    re.compile(r"^(?:please\s+)?find\s+(?:my\s+|the\s+)?notes?\s+(?:about|on|for|with|mentioning)\s+(?P<q>.+?)\s*\??$",
               re.I),
    re.compile(r"^what do (?:my|the) notes say about\s+(?P<q>.+?)\s*\??$", re.I),
    re.compile(r"^(?:搜索|查找|查一下|找一下|搜一下)(?:我的)?笔记(?:里|中)?(?:关于|有关)?(?P<q>.+?)(?:的内容|的笔记|相关的内容)?[?？]?$"),
    re.compile(r"^在(?:我的)?笔记(?:里|中)(?:找|搜|查)(?:一下)?(?P<q>.+?)[?？]?$"),
]  # fmt: skip
_LIST = re.compile(r"^(?:please\s+)?(?:list|show)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:my\s+|the\s+)?notes\s*\??$"
                   r"|^(?:列出|显示|看看)(?:我的|所有的?)?(?:全部)?笔记[?？]?$|^我有哪些笔记[?？]?$", re.I)  # fmt: skip
_READ = re.compile(r"^(?:please\s+)?(?:open|read|show)\s+(?:me\s+)?(?:my\s+|the\s+)?note\s+(?P<p>\S+\.\w{1,5})\s*$"
                   r"|^(?:打开|读一下|看看)笔记\s*(?P<zp>\S+\.\w{1,5})$", re.I)  # fmt: skip


def read_search(message: str) -> dict[str, Any] | None:
    text = message.strip()
    for pattern in _SEARCH:
        if m := pattern.match(text):
            query = m["q"].strip(" '\"“”")
            return {"query": query, "limit": 5} if query else None
    return None


def read_listing(message: str) -> dict[str, Any] | None:
    return {} if _LIST.match(message.strip()) else None


def read_path(message: str) -> dict[str, Any] | None:
    m = _READ.match(message.strip())
    return {"path": m["p"] or m["zp"]} if m else None


def _render_search(result: Any, language: str) -> str:
    if not result:
        return "笔记里没有找到。" if language == "zh" else "No note matches."
    return "\n".join(f"- {n['path']}: {n['title']} ({n['snippet']})" for n in result)


def _render_listing(result: Any, language: str) -> str:
    notes = result.get("notes", []) if isinstance(result, dict) else []
    if not notes:
        return "还没有笔记。" if language == "zh" else "No notes yet."
    return "\n".join(f"- {n['path']}" for n in notes[:50])


def _render_note(result: Any, language: str) -> str:
    text = str(result.get("text", ""))
    return f"{result.get('title', '')}\n\n{text[:2000]}".strip()


# Tried in this order: the most specific reading first.
ANSWERERS: tuple[Answerer, ...] = (
    Answerer("diagnose_error", read_error, _render_diagnosis, re.compile(r"traceback|exception|报错", re.I)),
    Answerer("convert_units", read_conversion, _render_conversion,
             re.compile(r"\bconvert\b|换算|\bin (?:km|miles?|celsius|fahrenheit|kg|pounds?)\b", re.I)),
    Answerer("calculate", read_expression, _render_calculation,
             re.compile(r"\bcalculate\b|\bcompute\b|\d\s*[-+*/^×÷]\s*\d|计算|阶乘|次方|根号|乘以|除以", re.I)),
    Answerer("read_note", read_path, _render_note, re.compile(r"\b(?:open|read) (?:the |my )?note\b|打开笔记", re.I)),
    Answerer("list_notes", read_listing, _render_listing, re.compile(r"\blist\b.{0,10}\bnotes\b|列出.{0,4}笔记", re.I)),
    Answerer("search_notes", read_search, _render_search, re.compile(r"\bnotes?\b|笔记", re.I)),
)  # fmt: skip

_STOP = {
    "what", "with", "this", "that", "have", "from", "your", "about", "into", "does", "help", "please", "make",
    "tell", "show", "give", "want", "need", "know", "some", "just", "also", "then", "them", "they", "will",
    "would", "could", "should", "there", "their", "which", "when", "where", "while", "how", "the", "and",
}  # fmt: skip


def suggestion_score(message: str, tool: Tool) -> float:
    """How confidently ``tool`` fits ``message``, in [0, 1]: 0.8 when the cue of one of its capabilities
    fires; else the share of the message's content words (4+ letters) found in its name and
    description, counted only when at least two are."""
    for answerer in ANSWERERS:
        if answerer.capability in tool.capabilities and answerer.cue.search(message):
            return 0.8
    words = {w for w in re.findall(r"[a-z][a-z0-9_]{3,}", message.lower()) if w not in _STOP}
    if not words:
        return 0.0
    text = f"{tool.name.replace('_', ' ')} {' '.join(tool.capabilities)} {tool.description}".lower()
    shared = sum(1 for w in words if re.search(rf"\b{re.escape(w)}", text))
    return round(shared / len(words), 2) if shared >= 2 else 0.0
