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
