"""Lint and types are part of the suite: one command runs them all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    pytest.importorskip("ruff")
    result = _run("ruff", "check", "plugyard", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing():
    pytest.importorskip("mypy")
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_imports_no_feature_the_mcp_adapter_or_the_cli():
    offenders = []
    forbidden_names = (
        *(f"plugyard.{room}" for room in ("history", "learning", "assistant", "plugins", "mcp_server", "cli")),
        "import mcp",
        "from mcp",
    )
    for path in (REPO / "plugyard" / "core").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in forbidden_names:
            if forbidden in text:
                offenders.append(f"{path.relative_to(REPO)}: {forbidden}")
    assert offenders == []


def test_plugins_import_only_the_public_face():
    offenders = []
    for path in (REPO / "plugyard" / "plugins").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("from plugyard.", "import plugyard.")):
                offenders.append(f"{path.relative_to(REPO)}: {line}")
    assert offenders == []


def test_only_history_the_assistants_store_and_the_migrations_touch_the_database():
    offenders = []
    for path in (REPO / "plugyard").rglob("*.py"):
        if {"history", "migrations"} & set(path.parts) or path.parent.name == "assistant":
            continue
        text = path.read_text(encoding="utf-8")
        for marker in ("sqlalchemy", "sqlmodel", "aiosqlite", "asyncpg"):
            if f"import {marker}" in text or f"from {marker}" in text:
                offenders.append(f"{path.relative_to(REPO)}: {marker}")
    assert offenders == []


def _first_party() -> tuple[set[str], set[str]]:
    """The first-party plugins (entry points of plugyard's own modules) and the tools they register."""
    import importlib.metadata

    from plugyard.core.config import Config
    from plugyard.core.host import ENTRY_POINT_GROUP, PluginHost

    plugins = {
        ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.value.startswith("plugyard.")
    }
    host = PluginHost(Config(), strict=True).load()
    tools = {tool.name for tool in host.tools if tool.plugin in plugins}
    return plugins, tools


# Strings in core that equal a first-party plugin's name but mean something else, and why.
NOT_A_PLUGIN = {
    ("content.py", "assistant"): "an MCP message role (user or assistant)",
}


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module but its docstrings (documentation may give examples)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    found = []
    for node in ast.walk(tree):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(getattr(t, "id", None) == "MOVED_SECTIONS" for t in targets) and node.value is not None:  # type: ignore[attr-defined]
            # config.py: the old top-level tables of plugins.toml, read with a warning (the file's format
            # has a history; the plugin behind the table is not special-cased anywhere else).
            docstrings.update(id(n) for n in ast.walk(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_core_names_no_first_party_tool_or_plugin():
    import re

    plugins, tools = _first_party()
    assert {"history", "assistant", "notes", "intents"} <= plugins and {"assist", "search_notes"} <= tools
    offenders = []
    for path in sorted((REPO / "plugyard" / "core").rglob("*.py")):
        for line, text in _code_strings(path):
            named = {p for p in plugins if text.strip() == p or re.search(rf"plugins\.{re.escape(p)}\b", text)}
            named |= {t for t in tools if re.search(rf"(?<![\w.:/]){re.escape(t)}(?![\w(])", text)}
            named -= {p for (file, p) in NOT_A_PLUGIN if file == path.name}
            offenders += [f"{path.relative_to(REPO)}:{line}: {name!r} in {text[:60]!r}" for name in sorted(named)]
    assert offenders == []


def test_the_cli_kernel_imports_no_feature():
    offenders = []
    for path in (REPO / "plugyard" / "cli").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            for room in ("history", "learning", "assistant", "plugins"):
                if stripped.startswith((f"from plugyard.{room}", f"import plugyard.{room}")):
                    offenders.append(f"{path.relative_to(REPO)}: {stripped}")
    assert offenders == []
    # And at run time: the command line loads features only when a plugin's command is asked for.
    code = (
        "import sys, plugyard.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['plugyard', 'history'], ['plugyard', 'learning'], ['plugyard', 'assistant'], ['plugyard', 'plugins'])))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # plugyard's face re-exports the history's errors, so the history package's errors module is there.
    assert result.stdout.strip() == "['plugyard.history', 'plugyard.history.errors']"


def test_first_party_plugins_hold_no_module_state_and_never_name_themselves():
    """A plugin with state is a class (one instance per host); a module-level plugin has no hook that
    keeps anything. And no plugin asks for its settings by a literal name."""
    import ast
    import importlib.metadata

    from plugyard.core.host import ENTRY_POINT_GROUP

    offenders = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not ep.value.startswith("plugyard."):
            continue
        module, _, attr = ep.value.partition(":")
        path = REPO / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                offenders.append(f"{ep.name}: global {', '.join(node.names)}")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "settings_for"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                offenders.append(f"{ep.name}: settings_for({node.args[0].value!r})")
        if not attr:
            # A module plugin: its hook functions must not write module-level containers.
            names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
            for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
                for node in ast.walk(fn):
                    target = getattr(node, "targets", None) or [getattr(node, "target", None)]
                    for t in target:
                        if isinstance(t, ast.Subscript) and getattr(t.value, "id", None) in names:
                            offenders.append(f"{ep.name}: {fn.name} writes module-level {t.value.id}")  # type: ignore[union-attr]
    assert offenders == []


MAX_MODULE_LINES = 500


def test_no_module_is_over_500_lines():
    sizes = {
        path.relative_to(REPO).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in (REPO / "plugyard").rglob("*.py")
    }
    over = sorted(f"{name} ({n})" for name, n in sizes.items() if n > MAX_MODULE_LINES)
    assert over == [], f"split these by reason to change (lines in brackets): {over}"
