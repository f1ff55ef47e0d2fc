"""Fixtures for the assistant: a host with the first-party assistant plugins and a notes folder
(the Anthropic fake, ``fake_anthropic``, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from plugyard.assistant.plugin import AssistantPlugin
from plugyard.core.config import Config, parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.plugins import calculator, diagnose, intents, intents_llm, notes, workflows
from tests.conftest import is_postgres, upgrade_to_head


@pytest.fixture
def notes_dir(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "recursion.md").write_text("# Recursion\nA function that calls itself needs a base case.\n")
    (root / "indexerror.md").write_text("# IndexError\nlist index out of range: check len() before indexing.\n")
    (root / "calculus.md").write_text("# Calculus\nlimits, derivatives, integrals. Calculus exam tips.\n")
    return root


@pytest.fixture
def assistant_config(db_url: str, notes_dir: Path) -> Callable[..., Config]:
    if is_postgres(db_url):
        # Servers never migrate PostgreSQL themselves: play the operator's `plugyard db upgrade`.
        upgrade_to_head(db_url)

    def make(**assistant: Any) -> Config:
        plugins: dict[str, Any] = {"notes": {"root": str(notes_dir)}, "history": {"flush_interval": 0.05}}
        if assistant:
            plugins["assistant"] = assistant
        return parse_config({"database": {"url": db_url}, "plugins": plugins})

    return make


def assistant_plugins() -> dict[str, object]:
    return {
        "history": HistoryPlugin(),
        "assistant": AssistantPlugin(),
        "intents": intents.IntentsPlugin(),
        "intents_llm": intents_llm,
        "workflows": workflows,
        "diagnose": diagnose,
        "notes": notes,
        "calculator": calculator,
    }


@pytest.fixture
def assistant_host(assistant_config: Callable[..., Config]) -> Callable[..., Any]:
    @asynccontextmanager
    async def run(extra: dict[str, object] | None = None, **settings: Any) -> AsyncIterator[PluginHost]:
        plugins = assistant_plugins()
        plugins.update(extra or {})
        host = PluginHost(assistant_config(**settings), entry_points=False, plugins=plugins, strict=True).load()
        async with host.running():
            yield host

    return run
