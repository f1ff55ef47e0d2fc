"""What a diagnosed error likely means and what to try: rules per exception type and message."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Frame


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
    (("KeyError",), r"""^(?P<key>'[^']*'|"[^"]*"|[^\s\uff0c\u3002\uff1f\uff01]+)""", (
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


def where(frame: Frame) -> str:
    at = f"{frame.file}, line {frame.line}"
    if frame.function:
        return f"{at}, in {frame.function}"
    return f"{at}, column {frame.column}" if frame.column else at


def advice(exc_type: str, message: str, frames: list[Frame], user: Frame | None) -> tuple[list[str], list[str]]:
    short = exc_type.rsplit(".", 1)[-1]
    repeating = sorted({f.function or "?" for f in frames if f.repeated})
    fields = {
        "at": f" at {where(user)}" if user else "",
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


def merge(into: list[str], extra: list[str]) -> None:
    into.extend(x for x in extra if x not in into)
