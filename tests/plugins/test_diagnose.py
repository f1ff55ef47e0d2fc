"""The diagnose plugin: parsing tracebacks (real ones from this interpreter, and pasted ones)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.plugins import diagnose
from plugyard.plugins.diagnose import Diagnosis, is_user_code, parse_traceback


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def real_traceback(tmp_path: Path, source: str) -> str:
    """Run ``source`` as a file of its own and return the traceback this Python prints for it."""
    path = tmp_path / "user_app.py"
    path.write_text(source)
    try:
        exec(compile(source, str(path), "exec"), {"__name__": "user_app"})
    except BaseException:
        return traceback.format_exc()
    raise AssertionError("the source did not raise")


def advice(d: Diagnosis) -> str:
    return "\n".join(d.likely_causes + d.suggestions)


# -- real tracebacks ------------------------------------------------------------------------


def test_a_real_traceback_gives_type_message_frames_and_the_user_frame(tmp_path: Path) -> None:
    text = real_traceback(tmp_path, "def last(items):\n    return items[3]\n\nlast([1, 2])\n")
    d = parse_traceback(text)
    assert (d.exception_type, d.message) == ("IndexError", "list index out of range")
    assert d.has_traceback
    assert [(f.function, f.line) for f in d.frames[-2:]] == [("<module>", 4), ("last", 2)]
    assert d.user_frame is not None
    assert (d.user_frame.file, d.user_frame.function, d.user_frame.code) == (
        str(tmp_path / "user_app.py"),
        "last",
        "return items[3]",
    )
    assert "len()" in advice(d)
    assert d.summary.startswith("IndexError: list index out of range (at ")


def test_a_real_error_inside_the_standard_library_points_at_the_users_call(tmp_path: Path) -> None:
    text = real_traceback(tmp_path, "import json\n\ndef load(s):\n    return json.loads(s)\n\nload('')\n")
    d = parse_traceback(text)
    assert d.exception_type == "json.decoder.JSONDecodeError"
    assert not d.frames[-1].is_user_code
    assert d.user_frame is not None and d.user_frame.function == "load"
    assert "not JSON" in advice(d)
    assert any("surfaced inside" in s for s in d.suggestions)


def test_a_real_chained_traceback_keeps_the_earlier_exception_and_how_it_led_on(tmp_path: Path) -> None:
    source = (
        "def port(cfg):\n"
        "    try:\n"
        "        return cfg['port']\n"
        "    except KeyError as exc:\n"
        "        raise RuntimeError('no port configured') from exc\n"
        "\n"
        "def main():\n"
        "    try:\n"
        "        port({})\n"
        "    except RuntimeError:\n"
        "        1 / 0\n"
        "\n"
        "main()\n"
    )
    d = parse_traceback(real_traceback(tmp_path, source))
    assert d.exception_type == "ZeroDivisionError"
    assert [(c.exception_type, c.message, c.relation) for c in d.chain] == [
        ("KeyError", "'port'", "cause"),
        ("RuntimeError", "no port configured", "context"),
    ]
    assert d.chain[0].frames[-1].code == "return cfg['port']"
    assert "divisor" in advice(d)
    assert any(c.startswith("It started with KeyError") for c in d.likely_causes)


def test_a_real_recursion_error_reports_the_repeated_frame(tmp_path: Path) -> None:
    text = real_traceback(tmp_path, "def down(n):\n    return down(n + 1)\n\ndown(0)\n")
    d = parse_traceback(text)
    assert d.exception_type == "RecursionError"
    repeated = [f for f in d.frames if f.repeated]
    assert repeated and repeated[0].function == "down" and repeated[0].repeated > 100
    assert "(down)" in advice(d)


def test_a_real_syntax_error_gives_its_location_and_caret_column(tmp_path: Path) -> None:
    try:
        compile("x = 1\nprint('hi'\n", str(tmp_path / "broken.py"), "exec")
    except SyntaxError as exc:
        text = "".join(traceback.format_exception_only(exc))
    d = parse_traceback(text)
    assert d.exception_type == "SyntaxError"
    assert "never closed" in d.message
    assert d.user_frame is not None
    assert (d.user_frame.line, d.user_frame.function, d.user_frame.code) == (2, None, "print('hi'")
    assert d.user_frame.column == 6
    assert "never closed" in advice(d) and "column 6" in advice(d)


def test_a_real_marker_line_under_code_gives_the_failing_column(tmp_path: Path) -> None:
    text = real_traceback(tmp_path, "data = {'a': 1}\nvalue = 2 + data['b']\n")
    d = parse_traceback(text)
    assert d.user_frame is not None and d.user_frame.code == "value = 2 + data['b']"
    assert d.user_frame.column == 17  # the subscript "['b']"


# -- pasted text ----------------------------------------------------------------------------

PASTED = """Traceback (most recent call last):
  File "/home/ann/project/main.py", line 12, in <module>
    run()
  File "/home/ann/project/main.py", line 8, in run
    total = compute(rows)
  File "/home/ann/.venv/lib/python3.12/site-packages/pandas/core/frame.py", line 40, in compute
    return self._get(key)
AttributeError: 'NoneType' object has no attribute 'group'
"""


def test_frames_in_site_packages_are_not_user_code() -> None:
    d = parse_traceback(PASTED)
    assert [f.is_user_code for f in d.frames] == [True, True, False]
    assert d.user_frame is not None and d.user_frame.line == 8
    assert "returned None" in advice(d) and ".group" in advice(d)


def test_a_prefix_repeated_on_every_line_is_stripped() -> None:
    prefixed = "\n".join("web_1  | " + line for line in PASTED.splitlines())
    d = parse_traceback("starting server\n" + prefixed)
    assert d.exception_type == "AttributeError"
    assert len(d.frames) == 3 and d.frames[0].code == "run()"


def test_an_indented_paste_is_understood() -> None:
    d = parse_traceback("\n".join("    " + line for line in PASTED.splitlines()))
    assert d.exception_type == "AttributeError" and len(d.frames) == 3


def test_windows_paths_and_crlf_are_understood() -> None:
    text = (
        "Traceback (most recent call last):\r\n"
        '  File "C:\\Users\\ann\\app.py", line 3, in <module>\r\n'
        "    main()\r\n"
        '  File "C:\\Python312\\Lib\\json\\decoder.py", line 9, in decode\r\n'
        "    raise ValueError\r\n"
        "ValueError: bad\r\n"
    )
    d = parse_traceback(text)
    assert [f.is_user_code for f in d.frames] == [True, False]
    assert d.user_frame is not None and d.user_frame.file == "C:\\Users\\ann\\app.py"


def test_a_multi_line_message_is_kept_whole() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 1, in <module>\n'
        "    Model(x='a')\n"
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for Model\n"
        "x\n"
        "  Input should be a valid integer [type=int_parsing, input_value='a', input_type=str]\n"
    )
    d = parse_traceback(text)
    assert d.exception_type == "pydantic_core._pydantic_core.ValidationError"
    assert d.message.splitlines() == [
        "1 validation error for Model",
        "x",
        "  Input should be a valid integer [type=int_parsing, input_value='a', input_type=str]",
    ]
    assert d.summary.startswith("pydantic_core._pydantic_core.ValidationError: 1 validation error for Model (at")


def test_a_custom_exception_class_is_recognised() -> None:
    d = parse_traceback('Traceback (most recent call last):\n  File "a.py", line 1, in f\n    boom()\nOops: it broke\n')
    assert (d.exception_type, d.message) == ("Oops", "it broke")
    assert "Oops" in d.likely_causes[0]


def test_an_error_line_without_a_traceback_is_diagnosed() -> None:
    d = parse_traceback("I ran my script and got\nIndexError: list index out of range\nwhat now?")
    assert (d.exception_type, d.message) == ("IndexError", "list index out of range")
    assert not d.has_traceback and d.frames == [] and d.user_frame is None
    assert "off-by-one" in advice(d)


def test_a_pytest_failure_line_is_diagnosed() -> None:
    d = parse_traceback(">       assert parse(x)\nE       KeyError: 'name'\n\ntests/test_a.py:3: KeyError")
    assert (d.exception_type, d.message) == ("KeyError", "'name'")
    assert "d.get('name', default)" in advice(d)


def test_a_bare_exception_name_is_diagnosed() -> None:
    assert parse_traceback("^C\nKeyboardInterrupt").exception_type == "KeyboardInterrupt"


@pytest.mark.parametrize("text", ["all tests passed", "Error handling is hard", "", "ValueError('x') is raised"])
def test_text_without_a_recognisable_error_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="no Python error found"):
        parse_traceback(text)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("IndexError: list index out of range", "valid indexes run from 0 to len-1"),
        ("IndexError: string index out of range", "past the end of the string"),
        ("KeyError: 'user_id'", "no key 'user_id'"),
        ("AttributeError: 'NoneType' object has no attribute 'split'", "items = items.sort()"),
        ("AttributeError: 'list' object has no attribute 'lower'", "The value is a list"),
        ("AttributeError: module 'random' has no attribute 'randint'", "random.py"),
        (
            "AttributeError: partially initialized module 'app' has no attribute 'x' "
            "(most likely due to a circular import)",
            "circular import",
        ),
        ("TypeError: Dog.bark() takes 1 positional argument but 2 were given", "lack `self`"),
        ("TypeError: area() missing 1 required positional argument: 'height'", "called without 'height'"),
        ("TypeError: load() got an unexpected keyword argument 'encodng'", "no parameter named encodng"),
        ("TypeError: unsupported operand type(s) for +: 'int' and 'str'", "apply + to a int and a str"),
        ('TypeError: can only concatenate str (not "int") to str', "str()"),
        ("TypeError: 'int' object is not callable", "shadow a function"),
        ("TypeError: 'NoneType' object is not subscriptable", "None"),
        ("NameError: name 'np' is not defined", "import numpy as np"),
        ("NameError: name 'totl' is not defined. Did you mean: 'total'?", "typo"),
        (
            "UnboundLocalError: cannot access local variable 'count' where it is not associated",
            "global count",
        ),
        ("UnboundLocalError: local variable 'count' referenced before assignment", "global count"),
        ("ModuleNotFoundError: No module named 'yaml'", "python -m pip install PyYAML"),
        ("ModuleNotFoundError: No module named 'requests.adapters'", "python -m pip install requests"),
        (
            "ImportError: cannot import name 'Lst' from 'typing' (/usr/lib/python3.12/typing.py)",
            "pip show typing",
        ),
        ("ZeroDivisionError: division by zero", "empty list"),
        ("RecursionError: maximum recursion depth exceeded in comparison", "base case"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'data.csv'", "Path(__file__).parent"),
        ("ValueError: invalid literal for int() with base 10: '3.5'", "int(float(s))"),
        ("ValueError: could not convert string to float: '1,5'", "',' decimal mark"),
        ("SyntaxError: '(' was never closed", "never closed"),
        ("SyntaxError: unterminated string literal (detected at line 1)", "closing quote"),
        ("SyntaxError: expected ':'", "final ':'"),
        ("SyntaxError: invalid syntax", "unclosed bracket"),
        ("IndentationError: unexpected indent", "indentation"),
        ("IndentationError: expected an indented block after 'if' statement on line 3", "indentation"),
        ("TabError: inconsistent use of tabs and spaces in indentation", "tabs"),
    ],
)
def test_common_errors_get_specific_causes_and_suggestions(error: str, expected: str) -> None:
    d = parse_traceback(error)
    assert d.likely_causes and d.suggestions
    assert expected in advice(d)
    assert not any("{" in line and "}" in line and 'f"' not in line for line in d.likely_causes)


def test_an_uncommon_error_still_gets_a_generic_diagnosis() -> None:
    d = parse_traceback("LookupError: unknown encoding: utf-9")
    assert d.likely_causes == ["The program raised LookupError: unknown encoding: utf-9"]
    assert "breakpoint()" in d.suggestions[0]


@pytest.mark.parametrize(
    ("path", "user"),
    [
        ("/home/ann/app.py", True),
        ("<stdin>", True),
        ("/usr/lib/python3.11/json/decoder.py", False),
        ("/usr/local/lib/python3.12/site-packages/requests/api.py", False),
        ("/home/ann/.venv/lib/python3.13t/site-packages/x.py", False),
        ("/usr/lib/python3/dist-packages/apt/cache.py", False),
        ("C:\\Python312\\Lib\\asyncio\\runners.py", False),
        ("C:\\proj\\.venv\\Lib\\site-packages\\x.py", False),
        ("<frozen importlib._bootstrap>", False),
        ("/home/ann/library/python/notes.py", True),
    ],
)
def test_user_code_excludes_stdlib_installed_packages_and_frozen_modules(path: str, user: bool) -> None:
    assert is_user_code(path) is user


# -- through the host -----------------------------------------------------------------------


async def call(arguments: dict[str, Any]) -> Any:
    host = PluginHost(parse_config({}), entry_points=False, plugins={"diagnose": diagnose})
    async with host.running():
        return await host.call_tool("parse_traceback", arguments)


@pytest.mark.anyio
async def test_the_tool_returns_a_structured_diagnosis() -> None:
    outcome = await call({"text": PASTED})
    assert outcome.success, outcome.error_message
    assert isinstance(outcome.result, Diagnosis)
    assert outcome.result.exception_type == "AttributeError"


@pytest.mark.anyio
async def test_the_tool_reports_text_without_an_error_as_a_failed_call() -> None:
    outcome = await call({"text": "hello"})
    assert not outcome.success
    assert outcome.error_type == "ValueError"
    assert "no Python error found" in (outcome.error_message or "")


def test_the_tool_is_registered_read_only_idempotent_for_diagnose_error() -> None:
    host = PluginHost(parse_config({}), entry_points=False, plugins={"diagnose": diagnose}).load()
    tool = host.tools.get("parse_traceback")
    assert tool is not None
    assert tool.capabilities == ("diagnose_error",)
    assert (tool.read_only, tool.idempotent) == (True, True)
    assert tool.input_schema["required"] == ["text"]
    assert [t.name for t in host.tools.with_capability("diagnose_error")] == ["parse_traceback"]


def test_a_question_after_a_loose_error_line_is_not_part_of_its_message():
    # "我的代码报错 KeyError: 'name'，怎么办？" once gave the fix "Use d.get('name'，怎么办？, default)".
    diagnosis = parse_traceback("我的代码报错 KeyError: 'name'，怎么办？")
    assert diagnosis.message == "'name'"
    assert diagnosis.suggestions[0].startswith("Use d.get('name', default)")
    english = parse_traceback("KeyError: 'name' when I read the JSON, what's wrong?")
    assert english.suggestions[0].startswith("Use d.get('name', default)")
    quoted = parse_traceback("KeyError: '你好，世界'")  # full-width punctuation inside the key stays in it
    assert quoted.message == "'你好，世界'"
