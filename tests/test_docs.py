"""docs/plugins.md is generated from the hookspecs; it must never fall behind them."""

import re
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


ARCHITECTURE = Path(__file__).parent.parent / "docs" / "architecture.md"
PACKAGE = Path(__file__).parent.parent / "plugyard"


PATH_LIKE = re.compile(r"^[\w.-]+(/|\.(py|json|js|css|mako|toml|md))$")


def house_tree(text: str) -> set[str]:
    """The paths the tree in docs/architecture.md's "The house" draws, relative to the repository.

    An entry is a line that starts with one or more names of files (``a.py b.py``) or one directory (``name/``),
    then two spaces or more before its description, indented two spaces deeper than its directory; a line starting
    with anything else continues a description."""
    block = text.split("## The house", 1)[1].split("```", 2)[1]
    paths: set[str] = set()
    parents: list[tuple[int, str]] = []
    for line in block.splitlines():
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0].split()
        if not names or not all(PATH_LIKE.match(name) for name in names):
            continue
        indent = len(line) - len(line.lstrip(" "))
        while parents and parents[-1][0] >= indent:
            parents.pop()
        prefix = "".join(name for _, name in parents)
        paths.update((prefix + name).rstrip("/") for name in names)
        if len(names) == 1 and names[0].endswith("/"):
            parents.append((indent, names[0]))
    return paths


def test_architecture_md_names_every_module():
    """Every module of plugyard/ is on the map: its file in the house tree (a package's __init__.py by its
    directory), or its path relative to plugyard/ or its dotted name anywhere in the document."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    drawn = house_tree(text)
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        entry = relative.parent if path.name == "__init__.py" else relative
        dotted = ".".join(entry.with_suffix("").parts) if path.name != "__init__.py" else ".".join(entry.parts)
        inside = str(path.relative_to(PACKAGE))
        if entry.as_posix() in drawn or inside in text or dotted in text:
            continue
        missing.append(relative.as_posix())
    assert missing == [], f"docs/architecture.md does not name these modules (add them to 'The house'): {missing}"


def test_the_house_tree_draws_nothing_that_is_not_there():
    drawn = house_tree(ARCHITECTURE.read_text(encoding="utf-8"))
    root = PACKAGE.parent
    stale = sorted(p for p in drawn if p.startswith("plugyard") and not (root / p).exists())
    assert stale == [], f"docs/architecture.md's house draws files that do not exist: {stale}"
