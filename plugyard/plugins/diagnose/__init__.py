"""Turn a pasted Python traceback (or a bare error line) into a structured diagnosis.

Understands chained tracebacks ("During handling of the above exception..." and "The above
exception was the direct cause..."), SyntaxError's caret format, Python 3.11+ position
markers, "[Previous line repeated N more times]", a log or container prefix repeated on
every line, and error lines buried in other output (pytest's "E   IndexError: ...").
Likely causes and suggestions per kind of error are in ``advice``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import sysconfig
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from plugyard import hookimpl

from .advice import advice, merge, where

Relation = Literal["cause", "context"]


class Frame(BaseModel):
    file: str
    line: int
    function: str | None = Field(description="None for the location line of a SyntaxError.")
    code: str | None = Field(description="The source line as the traceback shows it.")
    column: int | None = Field(description="1-based column in `code` that the ^ markers point at, if shown.")
    is_user_code: bool = Field(description="False for the standard library, installed packages, frozen modules.")
    repeated: int = Field(description="How many more times Python says this frame repeated (recursion).")


class ChainedError(BaseModel):
    exception_type: str
    message: str
    frames: list[Frame]
    relation: Relation = Field(
        description="'cause': it directly caused the next exception (raise ... from ...); "
        "'context': the next exception was raised while handling it."
    )


class Diagnosis(BaseModel):
    exception_type: str
    message: str
    summary: str
    has_traceback: bool = Field(description="False when only an error line was found, without frames.")
    frames: list[Frame] = Field(description="The final exception's frames, outermost call first.")
    user_frame: Frame | None = Field(description="The innermost frame in the user's own code: look there first.")
    chain: list[ChainedError] = Field(description="Earlier exceptions of a chained traceback, oldest first.")
    likely_causes: list[str]
    suggestions: list[str]


# -- parsing ------------------------------------------------------------------------------

_HEADER = "Traceback (most recent call last):"
_CHAIN: dict[str, Relation] = {
    "The above exception was the direct cause of the following exception:": "cause",
    "During handling of the above exception, another exception occurred:": "context",
}
_FRAME = re.compile(r'^(\s*)File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*$')
_REPEATED = re.compile(r"^\s*\[Previous line repeated (\d+) more times?\]\s*$")
_MARKERS = re.compile(r"^\s*[\^~]+[\s\^~]*$")
_NAME = r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*"
_EXC_LINE = re.compile(rf"^(?P<type>{_NAME})(?::\s?(?P<msg>.*))?$")
_BARE = ("KeyboardInterrupt", "StopIteration", "StopAsyncIteration", "SystemExit", "GeneratorExit")
_EXC_SUFFIXES = ("Error", "Exception", "Warning", "Exit", "Interrupt", "Iteration")
# An error line buried in other text: only names that look like exceptions, to avoid prose.
_LOOSE = re.compile(rf"(?<![\w.])(?P<type>{_NAME}(?:Error|Exception)|{'|'.join(_BARE)})(?::\s*(?P<msg>.*))?$")
# A loose error line's message ends where full-width punctuation starts prose after it (a Chinese question).
_PROSE_CUT = re.compile(r"""(?:'[^']*'|"[^"]*"|[^'"\uff0c\u3002\uff1f\uff01\uff1b])*""")
_STDLIB = re.compile(r"(?i)(^|/)(lib/python\d+(\.\d+)?t?|python\d*/lib)/(?!(site|dist)-packages/)")
_LOCAL_STDLIB = tuple({sysconfig.get_paths()[k].replace("\\", "/").rstrip("/") + "/" for k in ("stdlib", "platstdlib")})


def is_user_code(path: str) -> bool:
    """Whether a frame's file is the user's own: not stdlib, not an installed package, not frozen."""
    p = path.replace("\\", "/")
    if p.startswith("<frozen ") or re.search(r"(?i)/(site|dist)-packages/", p):
        return False
    return not (_STDLIB.search(p) or p.startswith(_LOCAL_STDLIB))


@dataclasses.dataclass
class _RawFrame:
    file: str
    line: int
    function: str | None
    code: str | None = None
    code_indent: int = 0
    column: int | None = None
    repeated: int = 0

    def model(self) -> Frame:
        return Frame(
            file=self.file,
            line=self.line,
            function=self.function,
            code=self.code,
            column=self.column,
            is_user_code=is_user_code(self.file),
            repeated=self.repeated,
        )


@dataclasses.dataclass
class _Block:
    relation: Relation | None = None
    frames: list[_RawFrame] = dataclasses.field(default_factory=list)
    exc_type: str | None = None
    message: list[str] = dataclasses.field(default_factory=list)


def _looks_like_exception(name: str, has_message: bool) -> bool:
    last = name.rsplit(".", 1)[-1]
    if last in _BARE or last.endswith(_EXC_SUFFIXES):
        return True
    # Custom exceptions (class Oops(Exception)) still print 'Oops: message' after the frames.
    return has_message and last[:1].isupper()


def _strip_prefix(lines: list[str]) -> list[str]:
    """Drop a prefix (a log stamp, 'app_1  | ') that stands before the header and every line."""
    for line in lines:
        at = line.find(_HEADER)
        if at > 0 and line[:at].strip():
            prefix = line[:at]
            return [ln[len(prefix) :] if ln.startswith(prefix) else ln for ln in lines]
        if at >= 0:
            return [ln[at:] if at and ln[:at].isspace() else ln for ln in lines]
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _marker_column(markers: str, frame: _RawFrame) -> int | None:
    # Python prints code and markers with the same indentation; '^' is the failing part and
    # '~' only its surroundings, so prefer the first '^'.
    at = markers.find("^")
    at = at if at >= 0 else markers.find("~")
    return max(1, at - frame.code_indent + 1) if at >= 0 else None


def _parse_blocks(lines: list[str]) -> list[_Block]:
    parser = _BlockParser()
    for raw in lines:
        parser.feed(raw.rstrip())
    return [b for b in parser.blocks if b.exc_type is not None]


class _BlockParser:
    """Reads a traceback line by line into blocks (one per exception of a chain)."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.current: _Block | None = None
        self.pending: Relation | None = None
        self.frame_indent = 0
        self.in_message = False

    def feed(self, line: str) -> None:
        stripped = line.strip()
        if self._header(stripped) or self._frame(line):
            return
        current = self.current
        if current is None:
            return
        if self.in_message:
            if stripped:
                current.message.append(line)
            else:
                self.in_message = False
            return
        if not self._frame_detail(current, line, stripped):
            self._exception_line(current, stripped)

    def _start_block(self) -> _Block:
        self.current = _Block(relation=self.pending)
        self.blocks.append(self.current)
        self.pending = None
        return self.current

    def _header(self, stripped: str) -> bool:
        """'Traceback (most recent call last):' opens a block; a chain line says how the next relates."""
        if stripped == _HEADER:
            self._start_block()
        elif stripped in _CHAIN:
            self.pending = _CHAIN[stripped]
        else:
            return False
        self.in_message = False
        return True

    def _frame(self, line: str) -> bool:
        frame = _FRAME.match(line)
        if not frame:
            return False
        current = self.current
        if current is None or current.exc_type is not None:
            # Frames without a header: SyntaxError output, or a paste missing its first line.
            current = self._start_block()
        self.frame_indent, self.in_message = len(frame.group(1)), False
        current.frames.append(_RawFrame(frame["file"], int(frame["line"]), frame["func"]))
        return True

    def _frame_detail(self, current: _Block, line: str, stripped: str) -> bool:
        """A frame's repeat count, its source line or its position markers."""
        repeated = _REPEATED.match(line)
        if repeated and current.frames:
            current.frames[-1].repeated = int(repeated.group(1))
            return True
        if current.exc_type is None and current.frames and stripped and _indent(line) > self.frame_indent:
            last = current.frames[-1]
            if _MARKERS.match(line):
                if last.code is not None and last.column is None:
                    last.column = _marker_column(line, last)
            elif last.code is None:
                last.code, last.code_indent = stripped, _indent(line)
            return True
        return False

    def _exception_line(self, current: _Block, stripped: str) -> None:
        exc = _EXC_LINE.match(stripped)
        if current.exc_type is None and exc and _looks_like_exception(exc["type"], exc["msg"] is not None):
            current.exc_type = exc["type"]
            current.message = [exc["msg"] or ""]
            self.in_message = True


def _loose_error(lines: list[str]) -> tuple[str, str] | None:
    """The last error line with a message, else the last bare one ('path.py:3: KeyError')."""
    bare: tuple[str, str] | None = None
    for line in reversed(lines):
        m = _LOOSE.search(line.rstrip())
        if m and m["msg"]:
            return m["type"], _PROSE_CUT.match(m["msg"].strip())[0].strip()  # type: ignore[index]
        if m and bare is None:
            bare = m["type"], ""
    return bare


def parse_traceback(
    text: Annotated[str, Field(min_length=1, max_length=200_000, description="A Python traceback or error output.")],
) -> Diagnosis:
    """Diagnose a Python error from its traceback, or from any text containing an error line
    such as "IndexError: list index out of range".

    Returns the exception type and message, the stack frames (file, line, function, code),
    the innermost frame in the user's own code (skipping the standard library and installed
    packages), earlier exceptions of a chained traceback, and likely causes with concrete
    suggestions for common errors. Works on SyntaxError/IndentationError output too.
    """
    lines = _strip_prefix(text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(8).split("\n"))
    blocks = _parse_blocks(lines)
    if not blocks:
        found = _loose_error(lines)
        if found is None:
            raise ValueError(
                "no Python error found in the text: expected a traceback starting with "
                f"{_HEADER!r}, or a line such as 'ValueError: invalid literal for int()'"
            )
        exc_type, message = found
        causes, suggestions = advice(exc_type, message, [], None)
        return Diagnosis(
            exception_type=exc_type,
            message=message,
            summary=f"{exc_type}: {message}" if message else exc_type,
            has_traceback=False,
            frames=[],
            user_frame=None,
            chain=[],
            likely_causes=causes,
            suggestions=suggestions,
        )
    final = blocks[-1]
    assert final.exc_type is not None
    frames = [f.model() for f in final.frames]
    user = next((f for f in reversed(frames) if f.is_user_code), None)
    message = "\n".join(final.message).strip()
    chain = [
        ChainedError(
            exception_type=b.exc_type or "",
            message="\n".join(b.message).strip(),
            frames=[f.model() for f in b.frames],
            relation=nxt.relation or "context",
        )
        for b, nxt in itertools.pairwise(blocks)
    ]
    causes, suggestions = advice(final.exc_type, message, frames, user)
    if frames and not frames[-1].is_user_code and user is not None:
        suggestions.append(
            f"The error surfaced inside {frames[-1].file}, but the cause is usually what your code "
            f"passed to it at {where(user)}."
        )
    if chain and chain[0].exception_type != final.exc_type:
        root = chain[0]
        root_user = next((f for f in reversed(root.frames) if f.is_user_code), None)
        root_causes, root_suggestions = advice(root.exception_type, root.message, root.frames, root_user)
        merge(causes, [f"It started with {root.exception_type}: {c}" for c in root_causes])
        merge(suggestions, root_suggestions)
    first_line = message.split("\n", 1)[0]
    summary = f"{final.exc_type}: {first_line}" if first_line else final.exc_type
    return Diagnosis(
        exception_type=final.exc_type,
        message=message,
        summary=summary + (f" (at {where(user)})" if user else ""),
        has_traceback=True,
        frames=frames,
        user_frame=user,
        chain=chain,
        likely_causes=causes,
        suggestions=suggestions,
    )


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(parse_traceback, capabilities=["diagnose_error"], read_only=True, idempotent=True)
