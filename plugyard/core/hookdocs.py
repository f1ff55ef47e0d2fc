"""Render docs/plugins.md from the hookspecs' docstrings, so the two never differ.

``python -m plugyard.core.hookdocs`` rewrites docs/plugins.md; a test fails when it is stale.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from plugyard.core import hookspecs

HEADER = """\
# Writing plugyard plugins

<!-- Generated from plugyard/core/hookspecs.py by `python -m plugyard.core.hookdocs`; edit the docstrings there. -->

A plugin is a module, or a class that plugyard instantiates once per host, whose functions marked
`@plugyard.hookimpl` are named after the hooks below. Implement any subset; accept any subset of a hook's
parameters, by name. Ship it as a package with an entry point in the `plugyard` group:

```toml
[project.entry-points.plugyard]
my_plugin = "my_package.plugin"
```

`plugyard new-plugin NAME` writes such a package, with tests that use the test kit. The kit
(`plugyard.testing`, loaded by pytest automatically once plugyard is installed) gives your tests
`plugyard_host`, `plugyard_client` (an in-memory MCP session) and `plugyard_history` (the calls recorded
during the test); choose the plugins under test by overriding the `plugyard_plugins` fixture, and
their settings with `plugyard_settings`.

The fixtures are async: mark async tests for anyio (`pytestmark = pytest.mark.anyio` at the top of the module;
anyio's pytest plugin comes with plugyard and runs them on asyncio); without it they are not run. By default only
the history plugin (the recorder) is loaded, not your plugin, even installed: name it in `plugyard_plugins`
(`{"<name>": module_or_object}`, loaded under that name), or set `plugyard_entry_points` to `True` to load every
installed plugyard plugin through its entry point, yours under the name it is installed as (as `plugyard serve`
would; the host is strict, so one that fails to load fails the test). `plugyard_settings` is plugins.toml as a
dict, merged over the kit's (a temporary SQLite database, fast flushes): `{"plugins": {"<name>": {"<key>": value}}}`,
one table per plugin, validated against its `plugin_settings` model as at start-up. Override a fixture in a module
or conftest.py, or per test with `@pytest.mark.parametrize("plugyard_settings", [{...}])`:

```python
import pytest
import my_package.plugin

pytestmark = pytest.mark.anyio


@pytest.fixture
def plugyard_plugins():
    return {"my_plugin": my_package.plugin}


@pytest.fixture
def plugyard_settings(tmp_path):
    return {"plugins": {"my_plugin": {"root": str(tmp_path)}}}


async def test_a_call_is_answered_and_recorded(plugyard_client, plugyard_history):
    result = await plugyard_client.call_tool("my_tool", {"text": "hi"})
    assert not result.is_error
    assert (await plugyard_history.last())["plugin_name"] == "my_plugin"
```

Everything a plugin imports comes from the public face, `plugyard`: `hookimpl`, `ToolContext`, `ToolCall`,
`ToolOutcome`, `Veto`, `IntentResult`, `Workflow`, the content types (`Text`, `Image`, `Audio`,
`EmbeddedResource`, `ResourceLink`, `ToolResult`, `PromptMessage`), `Elicitation` and the errors.

## Hooks
"""


def _specs() -> list[tuple[str, object]]:
    marker = f"{hookspecs.PROJECT}_spec"
    found = [(name, obj) for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, marker)]
    # Document in the order the contract file declares them.
    return sorted(found, key=lambda item: inspect.getsourcelines(item[1])[1])


def render() -> str:
    parts = [HEADER]
    for name, spec in _specs():
        options = getattr(spec, f"{hookspecs.PROJECT}_spec")
        signature = str(inspect.signature(spec)).replace("'", "")  # type: ignore[arg-type]
        parts.append(f"\n### `{name}{signature}`\n")
        if options.get("firstresult"):
            parts.append("\n*First result wins: the first implementation that returns something other than `None`.*\n")
        parts.append("\n" + inspect.cleandoc(spec.__doc__ or "") + "\n")
    return "".join(parts)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "docs" / "plugins.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
