"""Turn a pasted Python traceback (or a bare error line) into a structured diagnosis.

Understands chained tracebacks ("During handling of the above exception..." and "The above
exception was the direct cause..."), SyntaxError's caret format, Python 3.11+ position
markers, "[Previous line repeated N more times]", a log or container prefix repeated on
every line, and error lines buried in other output (pytest's "E   IndexError: ...").
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
            return m["type"], m["msg"].strip()
        if m and bare is None:
            bare = m["type"], ""
    return bare


# -- advice -------------------------------------------------------------------------------

# (exception types, message pattern, likely causes, suggestions); the first match wins.
# Templates use the pattern's named groups, {at} (" at FILE, line N, in F" for the user's
# innermost frame, or "") and {repeating} (the recursing functions).
# fmt: off
_RULES: list[tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]] = [
    (("IndexError",), r"(?P<kind>\w+) (?:assignment )?index out of range", (
        "An index is past the end of the {kind}: valid indexes run from 0 to len-1 (or -len to -1).",
        "The {kind} is shorter than expected, possibly empty, so even [0] or [-1] fails.",
        "An off-by-one loop such as range(len(x) + 1), or an index taken from another, longer sequence.",
    ), (
        "Print len() of the {kind} and the index just before the failing line{at}.",
        "Loop over the items directly (for item in items) or with enumerate() instead of by position.",
        "Guard access to the first or last item: `if items: first = items[0]`.",
    )),
    (("KeyError",), r"^(?P<key>.+)$", (
        "The dictionary has no key {key}: it was never set, or is spelt or cased differently.",
        "The key has another type than the stored ones (for example '1' versus 1).",
        "Records from JSON, CSV or an API lack this field for some entries.",
    ), (
        "Use d.get({key}, default) where the key may be missing, or test `{key} in d` first.",
        "Print list(d.keys()) just before the failing line{at} and compare.",
    )),
    (("AttributeError",), r"'NoneType' object has no attribute '(?P<attr>[^']+)'", (
        "The value you used .{attr} on is None, not the object you expected.",
        "A function returned None: a path without a return statement, or an in-place method's result "
        "(list.sort(), list.append(), dict.update()) was assigned.",
        "A lookup found nothing: re.match()/re.search(), dict.get() or a query returned None.",
    ), (
        "Find where the value was assigned and check that every path producing it returns something.",
        "Handle the not-found case (`if value is None: ...`) before using .{attr}{at}.",
        "Don't assign in-place results: write `items.sort()`, not `items = items.sort()`.",
    )),
    (("AttributeError",), r"module '(?P<module>[^']+)' has no attribute '(?P<attr>[^']+)'", (
        "A file or folder of yours named {module} shadows the real module, or a circular import left "
        "{module} half-initialised.",
        "{attr} does not exist in the installed version of {module}, or is a submodule to import itself.",
    ), (
        "print({module}.__file__) to see which file was imported; rename a local {module}.py if it is yours.",
        "For a circular import, move one import into the function that uses it.",
    )),
    (("AttributeError",), r"'(?P<type>[^']+)' object has no attribute '(?P<attr>[^']+)'", (
        "The value is a {type}, which has no attribute {attr}: a typo, or the variable holds another type.",
        "The attribute is set only on a code path (for example in __init__) that did not run.",
    ), ("Check the spelling; print(type(value)) and dir(value) just before the failing line{at}.",)),
    (("TypeError",), r"(?P<func>\S+)\(\) takes (?P<expected>[\w ]+?) positional arguments? "
                     r"but (?P<given>\d+)", (
        "{func}() accepts {expected} positional argument(s) but was called with {given}.",
        "If {func} is a method, its definition may lack `self`: Python passes the instance first.",
    ), (
        "Compare the call{at} with the `def {func}(...)` signature.",
        "Add `self` as the first parameter of methods, or mark the function @staticmethod.",
    )),
    (("TypeError",), r"(?P<func>\S+)\(\) missing \d+ required (?:positional |keyword-only )?"
                     r"arguments?: (?P<names>.+)", (
        "{func}() was called without {names}.",
        "An instance method was called on the class (Class.method()) instead of on an instance.",
    ), (
        "Pass {names} in the call{at}, or give the parameter a default value.",
        "Create an instance first: obj = Class(...); obj.method(...).",
    )),
    (("TypeError",), r"(?P<func>\S+)\(\) got an unexpected keyword argument '(?P<kw>[^']+)'", (
        "{func}() has no parameter named {kw}: a typo, or it belongs to another version of the library.",
    ), ("Check the signature with help({func}) and the version of the library you have installed.",)),
    (("TypeError",), r"unsupported operand type\(s\) for (?P<op>.+?): "
                     r"'(?P<left>[^']+)' and '(?P<right>[^']+)'", (
        "Python cannot apply {op} to a {left} and a {right}.",
        "One operand has an unexpected type: a number still a str (from input() or a file), or None.",
    ), (
        "Convert explicitly first: int(x), float(x) or str(x).",
        "Print type() of both operands just before the failing line{at}.",
    )),
    (("TypeError",), r'can only concatenate (?P<left>\w+) \(not "(?P<right>\w+)"\)', (
        "A {left} is being joined with + to a {right}.",
    ), ("Convert the {right} with str(), or build the text with an f-string: f\"total: {{count}}\".",)),
    (("TypeError",), r"'(?P<type>[^']+)' object is not (?P<what>callable|subscriptable|iterable)", (
        "A {type} is used as if it were {what}: a variable may shadow a function (list = ..., sum = 0), "
        "or a function was used without calling it (f[0] for f()[0]).",
        "A value is None or a number where a container was expected (loop over range(n), not n).",
    ), ("Print type() of the value{at}; rename variables that shadow built-in functions.",)),
    (("NameError",), r"name '(?P<name>[^']+)' is not defined", (
        "{name} is used but not defined in this scope: a typo, or defined later or in another function.",
        "{name} comes from a module that was never imported.",
    ), ("Check the spelling and that {name} is assigned or imported before the failing line{at} runs.",)),
    (("UnboundLocalError",), r"(?:cannot access local variable|local variable) '(?P<name>[^']+)'", (
        "{name} is assigned somewhere in this function, which makes it local in all of it, "
        "but it is read before that assignment runs.",
        "{name} gets a value only inside an if/for/try branch that did not run.",
    ), (
        "Give {name} a value before the branch (for example {name} = None).",
        "To change a module-level {name}, declare `global {name}` (`nonlocal` in a nested function), "
        "or better pass it in and return the new value.",
    )),
    (("ModuleNotFoundError", "ImportError"), r"No module named '(?P<module>[^']+)'", (
        "{module} is not installed in the Python environment that ran this code (another one may have it).",
        "The import name is misspelt, or differs from the package's name on PyPI.",
    ), (
        "Install it into this interpreter: `python -m pip install {package}`.",
        "Check which interpreter ran (`python -c \"import sys; print(sys.executable)\"`) and activate "
        "the right virtualenv.",
    )),
    (("ImportError",), r"cannot import name '(?P<name>[^']+)' from "
                       r"(?:partially initialized module )?'(?P<module>[^']+)'", (
        "{name} does not exist in the installed {module} (misspelt, renamed, removed or added later).",
        "A circular import, or a local file named {module}.py shadowing the real module.",
    ), (
        "Check the spelling and the installed version (pip show {module}).",
        "If the message mentions a circular import, move one import into the function that uses it.",
    )),
    (("ZeroDivisionError",), r"", (
        "A divisor (right side of /, // or %) is zero.",
        "Often an average over an empty list (sum(x) / len(x) with no items), or a count that stayed 0.",
    ), (
        "Guard the division (`if divisor: ...`), returning a default or raising a clearer error.",
        "Find out why the divisor is zero{at}: print it and check for empty input.",
    )),
    (("RecursionError",), r"maximum recursion depth", (
        "A recursive function has no base case, or never reaches it (the argument does not move toward it).",
        "Functions call each other endlessly, such as a property or __getattr__ that uses itself.",
        "The input is legitimately deeper than Python's default limit of about 1000 frames.",
    ), (
        "Check the base case of the repeating call{repeating}.",
        "Rewrite deep recursion as a loop with an explicit stack; raise sys.setrecursionlimit only if "
        "the depth is truly bounded.",
    )),
    (("FileNotFoundError",), r"No such file or directory: '(?P<path>[^']*)'", (
        "The file '{path}' does not exist at that path (typo, wrong extension or case).",
        "A relative path is resolved against the current working directory, not the script's folder.",
    ), (
        "Build paths from the script's location: Path(__file__).parent / 'name'.",
        "Print os.getcwd() and Path('{path}').resolve() to see where Python looks.",
    )),
    (("ValueError",), r"(?:invalid literal for int\(\) with base \d+|could not convert string to float): "
                      r"(?P<value>.*)", (
        "{value} is not a number that int() or float() can read.",
        "The text has a decimal point (int() takes whole numbers only), a unit, a ',' decimal mark or a "
        "thousands separator, or is empty ('' from a blank line or CSV cell).",
    ), (
        "Validate input with try/except ValueError and report the bad value.",
        "For decimals use float() (or int(float(s))); strip whitespace and skip empty strings.",
    )),
    (("JSONDecodeError",), r"", (
        "The text is not JSON: often empty, or an HTML error page returned instead of the expected JSON.",
    ), ("Print the raw text (and HTTP status) before parsing it.",)),
    (("SyntaxError",), r"'(?P<bracket>[(\[{])' was never closed", (
        "The bracket {bracket} opened{at} is never closed.",
    ), ("Add the matching closing bracket.",)),
    (("SyntaxError",), r"unterminated (?:triple-quoted )?string literal", (
        "A string{at} has no closing quote.",
    ), ("Close the string with the quote it started with; escape quotes inside it.",)),
    (("SyntaxError",), r"expected ':'", (
        "A line starting if/elif/else/for/while/def/class/try/except/with lacks its final ':'.",
    ), ("Add ':' at the end of the statement{at}.",)),
    (("IndentationError", "TabError"), r"", (
        "The indentation{at} does not match its block: a missing or extra indent, or tabs mixed with spaces.",
    ), ("Indent blocks with 4 spaces consistently; let your editor convert tabs to spaces.",)),
    (("SyntaxError",), r"", (
        "The code{at} is not valid Python; the real mistake is often just before the marked spot "
        "(an unclosed bracket or quote on an earlier line, a missing comma or operator, '=' for '==').",
    ), ("Look at the marked line and the one before it.",)),
]

# Names people use without importing them, and the import that defines them.
_IMPORTS = {"np": "import numpy as np", "pd": "import pandas as pd", "plt": "import matplotlib.pyplot as plt",
            "Path": "from pathlib import Path", "datetime": "from datetime import datetime",
            "defaultdict": "from collections import defaultdict",
            "Counter": "from collections import Counter"}
_IMPORTS |= {m: f"import {m}" for m in ("os", "sys", "re", "json", "math", "random", "time", "csv")}
# Import names whose PyPI package is called differently.
_PYPI = {"cv2": "opencv-python", "PIL": "Pillow", "yaml": "PyYAML", "sklearn": "scikit-learn",
         "bs4": "beautifulsoup4", "dotenv": "python-dotenv", "dateutil": "python-dateutil"}
# fmt: on


def _where(frame: Frame) -> str:
    at = f"{frame.file}, line {frame.line}"
    if frame.function:
        return f"{at}, in {frame.function}"
    return f"{at}, column {frame.column}" if frame.column else at


def _advice(exc_type: str, message: str, frames: list[Frame], user: Frame | None) -> tuple[list[str], list[str]]:
    short = exc_type.rsplit(".", 1)[-1]
    repeating = sorted({f.function or "?" for f in frames if f.repeated})
    fields = {
        "at": f" at {_where(user)}" if user else "",
        "repeating": f" ({', '.join(repeating)})" if repeating else "",
    }
    for types, pattern, causes, suggestions in _RULES:
        m = re.search(pattern, message) if short in types else None
        if m is None:
            continue
        fields |= {k: v or "" for k, v in m.groupdict().items()}
        if "module" in fields:
            top = fields["module"].split(".")[0]
            fields["package"] = _PYPI.get(top, top)
        found = [c.format_map(fields) for c in causes], [s.format_map(fields) for s in suggestions]
        if short == "NameError" and fields["name"] in _IMPORTS:
            found[1].insert(0, f"Add `{_IMPORTS[fields['name']]}` at the top of the file.")
        return found
    return (
        [f"The program raised {exc_type}{fields['at']}" + (f": {message}" if message else ".")],
        [f"Check the values used on the failing line{fields['at']}: print them, or stop there with breakpoint()."],
    )


def _merge(into: list[str], extra: list[str]) -> None:
    into.extend(x for x in extra if x not in into)


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
        causes, suggestions = _advice(exc_type, message, [], None)
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
    causes, suggestions = _advice(final.exc_type, message, frames, user)
    if frames and not frames[-1].is_user_code and user is not None:
        suggestions.append(
            f"The error surfaced inside {frames[-1].file}, but the cause is usually what your code "
            f"passed to it at {_where(user)}."
        )
    if chain and chain[0].exception_type != final.exc_type:
        root = chain[0]
        root_user = next((f for f in reversed(root.frames) if f.is_user_code), None)
        root_causes, root_suggestions = _advice(root.exception_type, root.message, root.frames, root_user)
        _merge(causes, [f"It started with {root.exception_type}: {c}" for c in root_causes])
        _merge(suggestions, root_suggestions)
    first_line = message.split("\n", 1)[0]
    summary = f"{final.exc_type}: {first_line}" if first_line else final.exc_type
    return Diagnosis(
        exception_type=final.exc_type,
        message=message,
        summary=summary + (f" (at {_where(user)})" if user else ""),
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
