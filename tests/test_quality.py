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
