"""The error a message is about, in either language: the exception type when one is named (the last
one of a traceback, which is the one raised), else an error code or the error as the learner names it."""

from __future__ import annotations

import re

_NOT_LATIN = r"(?<![A-Za-z0-9_.])"
_EXCEPTION = re.compile(
    _NOT_LATIN + r"(?:[A-Za-z_]\w*\.)*([A-Z][A-Za-z0-9]*(?:Error|Exception|Exit|Interrupt|Warning))(?![A-Za-z0-9_])"
)
_BARE = re.compile(_NOT_LATIN + r"(KeyboardInterrupt|StopIteration|SystemExit|GeneratorExit)(?![A-Za-z0-9_])")
_CODES = [
    (re.compile(r"exit(?:s|ed)?\s+(?:with\s+)?(?:code|status)\s+(\d+)", re.I), "exit code {0}"),
    (re.compile(r"退出码\s*(\d+)"), "退出码{0}"),
    # an errno-like code (ERESOLVE, EACCES), not the word ERROR; a numbered error (ERROR 1045, Error R10)
    (re.compile(_NOT_LATIN + r"(?!ERRORS?\b)(E[A-Z]{3,}|E\d{4})(?![A-Za-z0-9_])"), "{0}"),
    (re.compile(_NOT_LATIN + r"((?:ERROR|Error) [A-Z]?\d{2,5})(?![A-Za-z0-9_])"), "{0}"),
    # a log line quoted: what follows its severity ('fatal: refusing to merge unrelated histories')
    (
        re.compile(
            r"""['"‘“](?:error|fatal|panic|warning)(?::\s*(?:runtime )?error)?:\s*([a-z][^'"’”]{2,60}?)['"’”]""",
            re.I,
        ),
        "{0}",
    ),
    (re.compile(r"(undefined reference to [`'\"]?\w+)", re.I), "{0}"),
    # Codes by shape: a Windows stop code (IRQL_NOT_LESS_OR_EQUAL), a compiler's or database's numbered
    # error (TS2322, LNK2019, ORA-00942), an HTTP status with its reason, a spreadsheet error, a state a
    # tool reports in CamelCase (stuck in CrashLoopBackOff), an error message quoted after "fails with".
    (re.compile(_NOT_LATIN + r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![A-Za-z0-9_])"), "{0}"),
    (re.compile(_NOT_LATIN + r"([A-Z]{1,4}-?\d{4,5})(?![A-Za-z0-9_])"), "{0}"),
    (re.compile(r"(?<!\d)([1-5]\d\d(?: [A-Z][a-z]+)+)"), "{0}"),
    (re.compile(r"(#(?:VALUE|REF|NAME|DIV/0|N/A|NUM|NULL|SPILL|CALC)[!?]?)"), "{0}"),
    (re.compile(r"\b(?:stuck in|status(?: is)?|state(?: is)?|reason:?) ([A-Z][a-z]+(?:[A-Z][a-z]+){2,})\b"), "{0}"),
    (
        re.compile(
            r"\b(?:fails?|failed|failing|errors? out|crash(?:es|ed)?|dies|says|saying|complains|hitting|getting)"
            r"(?: with)? [`'\"‘“]([^`'\"’”.:]{3,60})(?:[`'\"’”.]|:\s*`?\w+`?[`'\"’”])",
            re.I,
        ),
        "{0}",
    ),
]
_NAMED_ZH = re.compile(
    r"(段错误|内存泄漏|内存溢出|死循环|栈溢出错误|栈溢出|空指针异常|空指针|死锁|数据竞争|"
    r"(?<!\d)\d{3,4}\s*错误|(?:跨域|编码|权限|超时|语法|类型)(?:错误|报错))"
)
_NAMED_EN = re.compile(
    r"\b(segmentation fault|segfault|memory leak|(?:[A-Z]{2,6} )?out of memory|deadlock|infinite loop|race condition|"
    r"stack overflow(?: error)?|nil pointer dereference|null pointer(?: exception|dereference)?|bus error|"
    r"use after free|double free|data race)\b",
    re.I,
)
# A log line not quoted ("panic: runtime error: index out of range" in a sentence): what follows the severity.
_LOG_LINE = re.compile(
    r"\b(?:panic|fatal|error)(?::\s*(?:runtime )?error)?:\s*([a-z][\w'-]*(?: [a-z][\w'-]*){1,7})"
    r"(?=\s*(?:$|[^\w\s]|[\u4e00-\u9fff]))"
)
# A log line with a bracketed tag ("[Vue warn]: Maximum recursive updates exceeded"): the message after it.
_TAGGED = re.compile(
    r"\[[A-Za-z][\w .-]{1,20}\]:?\s*([A-Z][a-z]+(?: [a-z][\w'-]*){1,7})(?=\s*(?:$|[^\w\s]|[\u4e00-\u9fff]))"
)
# What a device or tool says, not quoted, up to a conjunction ("the printer says paper jam but"); a short code
# it shows ("flashing E21").
_SAYS = re.compile(
    r"\b(?:says|shows|displays|reads|flashing|flashes|showing)\s+(?!(?:it|that|this|the|a|an|i|you|my|there|something|"
    r"nothing|no|to|me|us|so)\b)([a-z][\w-]*(?: [a-z][\w-]*){0,3}?|[A-Z]{1,3}\d{1,4}|\d[A-Z]\d{2,3})"
    r"(?=\s+(?:but|and|even|when|every|whenever|though|on|again)\b|\s*[,.;!?]|\s*$)"
)
_AN_ERROR_EN = re.compile(
    r"\b(?:getting|get|got|throws?|shows?|gives?|returns?|hit|hits|see|seeing|having)\s+"
    r"((?:(?:a|an|the|some)\s+)?(?:[\w-]+\s){0,2}?[\w-]+\s+error)\b|\b(?:a|an|the)\s+((?:[\w-]+\s){0,2}?[\w-]+\s+error)\b",
    re.I,
)
_AN_ERROR_ZH = re.compile(r"(?:报|出现|提示|抛出|遇到)了?\s*([^\s，。？！、,.?!]{1,8}?\s?错误)")
# An HTTP status shown alone (网页显示 404), else the message a tool shows (提示端口被占用).
_STATUS_ZH = re.compile(r"(?:显示|报|返回|提示|出现)了?\s*([1-5]\d\d)(?!\d)")
_ERROR_LINE = re.compile(r"(?:报错|错误|error)[:：]?\s*([A-Z][a-z]+(?: [\w'./-]+){1,8})")
_SHOWN_ZH = re.compile(r"(?:提示|报错说|错误信息是|显示)[:：]?\s*([^\s，。？！、,.?!:：]{3,15})")
# A Latin error message shown inside a Chinese sentence (报 undefined reference 错误, 提示 non-fast-forward):
# the whole message, up to the Chinese or the punctuation after it; an error code named as one (错误代码 0x80070643).
_LATIN_IN_ZH = re.compile(
    r"(?:报错|报|提示|显示|出现|返回)了?[:：]?\s*([A-Za-z][\w.+-]*(?:[ \t][A-Za-z0-9][\w.+-]*){0,5})"
    r"(?=\s*(?:错误|报错|异常)?\s*(?:$|[\u4e00-\u9fff，。？！；、,?!;]))"
)
_CODE_NAMED = re.compile(r"(?:错误代码|错误码|error code)\s*[:：]?\s*(0x[0-9A-Fa-f]+|[A-Z0-9-]{2,})", re.I)
_GENERIC = {"an", "a", "the", "this", "that", "weird", "strange", "some", "big", "my", "an error", "error"}


def _latin_in_chinese(message: str) -> str | None:
    if not re.search(r"[\u4e00-\u9fff]", message):
        return None
    for pattern in (_LATIN_IN_ZH, _CODE_NAMED):
        if m := pattern.search(message):
            found = re.sub(r"(?i)\s+error$", "", m[1].strip())
            # An acronym alone names no error (报 SSL 错误: "SSL 错误", read further on)
            if found.lower() not in _GENERIC and not re.fullmatch(r"[A-Z]{2,6}", found):
                return found
    return None


def error_topic(message: str) -> str | None:
    """The error named in ``message``, or None when none is."""
    exceptions = [m[1] for m in _EXCEPTION.finditer(message)] + [m[1] for m in _BARE.finditer(message)]
    if exceptions:
        # In a traceback the last exception is the one raised; in prose the first is what is asked about.
        return exceptions[-1] if "Traceback (most recent call last)" in message else exceptions[0]
    if shown := _latin_in_chinese(message):
        return shown
    for pattern, template in _CODES:
        if m := pattern.search(message):
            return template.format(m[1])
    for pattern in (_NAMED_ZH, _NAMED_EN, _LOG_LINE, _TAGGED, _SAYS):
        if m := pattern.search(message):
            return m[1]
    for pattern in (_AN_ERROR_EN, _AN_ERROR_ZH):
        for m in pattern.finditer(message):
            words = re.sub(r"(?i)^(?:a|an|the|some)\s+", "", next(g for g in m.groups() if g).strip())
            first = words.split()[0].lower() if " " in words else ""
            if words.lower() not in _GENERIC and first not in _GENERIC:
                return words
    for pattern in (_STATUS_ZH, _ERROR_LINE, _SHOWN_ZH):
        if m := pattern.search(message):
            return m[1]
    return None
