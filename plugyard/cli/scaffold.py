"""``plugyard new-plugin NAME``: a ready plugin package whose tests pass out of the box."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import click

from plugyard.cli.context import guard
from plugyard.core.errors import PlugyardError

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


class ScaffoldError(PlugyardError):
    """The plugin cannot be created (bad name, or the folder already exists)."""


PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "plugyard-{dist}"
version = "0.1.0"
description = "{title}: a plugyard plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["plugyard"]

[project.optional-dependencies]
test = ["pytest>=8", "anyio>=4"]

# This line is what makes plugyard find the plugin once the package is installed.
[project.entry-points.plugyard]
{name} = "{module}"

[tool.setuptools]
packages = ["{module}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MODULE = '''\
"""{title}: a plugyard plugin.

Every hook plugyard offers is documented in plugyard's docs/plugins.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from plugyard import ToolContext, hookimpl


class Settings(BaseModel):
    """Read from the [plugins.{name}] table of plugins.toml; unknown keys are errors."""

    max_chars: int = Field(default=100_000, ge=1)


class WordCount(BaseModel):
    words: int
    lines: int
    characters: int


def {tool}(text: Annotated[str, Field(description="The text to count")], ctx: ToolContext) -> WordCount:
    """Count the words, lines and characters of a text."""
    if len(text) > ctx.settings.max_chars:
        # A tool's exception reaches the client as an error result, and is recorded.
        raise ValueError(f"texts longer than {{ctx.settings.max_chars}} characters are refused")
    return WordCount(words=len(text.split()), lines=len(text.splitlines()), characters=len(text))


@hookimpl
def plugin_settings() -> type[Settings]:
    return Settings


@hookimpl
def register_tools(register) -> None:  # type: ignore[no-untyped-def]
    # The tool's name is the function's: named after the plugin, so it clashes with no other plugin's.
    register({tool}, read_only=True, idempotent=True, capabilities=["count_words"])

'''

TESTS = '''\
"""Tests that read like a user's session, with plugyard's test kit (plugyard.testing)."""

from __future__ import annotations

import pytest

import {module}

pytestmark = pytest.mark.anyio


@pytest.fixture
def plugyard_plugins():
    return {{"{name}": {module}}}


async def test_{tool}_answers_over_mcp(plugyard_client):
    result = await plugyard_client.call_tool("{tool}", {{"text": "one two\\nthree"}})
    assert not result.is_error
    assert result.structured_content == {{"words": 3, "lines": 2, "characters": 13}}


async def test_every_call_is_recorded(plugyard_client, plugyard_history):
    await plugyard_client.call_tool("{tool}", {{"text": "hello"}})
    call = await plugyard_history.last()
    assert call["tool_name"] == "{tool}" and call["plugin_name"] == "{name}" and call["success"]


@pytest.mark.parametrize("plugyard_settings", [{{"plugins": {{"{name}": {{"max_chars": 5}}}}}}])
async def test_texts_over_the_configured_limit_are_refused(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("{tool}", {{"text": "too long"}})
    assert result.is_error and "longer than 5 characters" in result.content[0].text
    assert (await plugyard_history.last())["error_type"] == "ValueError"
'''

README = """\
# plugyard-{dist}

{title}: a [plugyard](https://pypi.org/project/plugyard/) plugin.

With the Python of the environment plugyard is installed in:

```sh
python -m pip install -e ".[test]"   # install it (plugyard finds it through its entry point)
python -m plugyard plugins           # it is listed
python -m plugyard call {tool} text="hello plugin world"
python -m pytest                     # its tests, with plugyard's test kit
```

Settings go in plugins.toml:

```toml
[plugins.{name}]
max_chars = 100000
```
"""


def tool_name(name: str) -> str:
    """The template tool's name for plugin ``name``: ``word-tools`` -> ``word_tools_count_words``."""
    return name.replace("-", "_") + "_count_words"


def _invalid(name: str) -> str:
    return f"{name!r} is invalid: use lower-case letters, digits, '-' and '_', starting with a letter"


def create_plugin(name: str, directory: Path) -> Path:
    """Write the package for plugin ``name`` under ``directory``; returns its folder."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(f"plugin name {_invalid(name)}")
    dist = name.replace("_", "-")
    module = "plugyard_" + name.replace("-", "_")
    title = name.replace("-", " ").replace("_", " ").capitalize()
    root = directory / f"plugyard-{dist}"
    if root.exists():
        raise ScaffoldError(f"{root} already exists; choose another name or directory")
    values = {"name": name, "dist": dist, "module": module, "title": title, "tool": tool_name(name)}
    files = {
        root / "pyproject.toml": PYPROJECT,
        root / "README.md": README,
        root / module / "__init__.py": MODULE,
        root / "tests" / f"test_{module}.py": TESTS,
    }
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return root


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package's folder.",
)
def new_plugin(name: str, directory: Path) -> None:
    """Create a ready plugin package NAME: pyproject.toml with the entry point, a tool, a hook, tests.

    The folder and the distribution are named plugyard-NAME (the module plugyard_NAME); the plugin
    itself is NAME, and its example tool NAME_count_words."""
    if not NAME.fullmatch(name):  # the argument as typed: a usage error (exit 2), as for any bad argument
        raise click.BadParameter(_invalid(name), param_hint="NAME")
    root = guard(lambda: create_plugin(name, directory))
    module = "plugyard_" + name.replace("-", "_")
    click.echo(f"created {root}: distribution {root.name}, module {module}, plugin {name!r}, tool {tool_name(name)!r}")
    # The interpreter plugyard runs under: a bare `pip` outside an activated venv installs elsewhere.
    python = shlex.quote(sys.executable)
    click.echo(
        f"next: cd {shlex.quote(str(root))} && {python} -m pip install -e '.[test]' && "
        f"{python} -m plugyard plugins && {python} -m pytest"
    )
