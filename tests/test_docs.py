"""docs/plugins.md is generated from the hookspecs; it must never fall behind them."""

from pathlib import Path

from plugyard.core.hookdocs import render

DOCS = Path(__file__).parent.parent / "docs" / "plugins.md"


def test_plugins_md_matches_the_hookspecs():
    assert DOCS.read_text(encoding="utf-8") == render(), "run: python -m plugyard.core.hookdocs"


def test_every_hook_is_documented_in_plugins_md():
    from plugyard.core import hookspecs

    text = DOCS.read_text(encoding="utf-8")
    for name in dir(hookspecs):
        if hasattr(getattr(hookspecs, name), "plugyard_spec"):
            assert f"### `{name}(" in text
