"""pytest fixtures for plugin authors, registered through the ``pytest11`` entry point.

A plugin's tests read like a user's session::

    import pytest
    import my_plugin

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def plugyard_plugins():
        return {"my_plugin": my_plugin}          # the plugins under test (the history recorder is always added)

    async def test_shout(plugyard_client, plugyard_history):
        result = await plugyard_client.call_tool("shout", {"text": "hi"})
        assert result.content[0].text == "HI"   # a str return is plain text
        [call] = await plugyard_history.calls()
        assert call["tool_name"] == "shout" and call["success"]

Fixtures (override the first three in your conftest.py or test module):

- ``plugyard_plugins``: ``{name: module_or_object}`` to load (default: none besides history).
- ``plugyard_settings``: a plugins.toml-shaped dict merged into the test configuration,
  e.g. ``{"plugins": {"my_plugin": {"root": "..."}}}``.
- ``plugyard_entry_points``: also load installed entry-point plugins (default ``False``).
- ``plugyard_config``: the ``Config`` (a temporary SQLite database, fast flushes).
- ``plugyard_host``: a running ``PluginHost`` (strict: a broken plugin fails the test).
- ``plugyard_client``: an in-memory MCP client session against it (protocol 2026-07-28;
  parametrize ``plugyard_client_mode`` with ``"legacy"`` for the 2025-11-25 handshake).
- ``plugyard_history``: the recorded calls of this test.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from plugyard.core.config import MOVED_SECTIONS, Config, parse_config
from plugyard.core.host import ENTRY_POINT_GROUP, PluginHost

RECORDER = "plugyard.history.plugin:HistoryPlugin"
"""The entry point of the plugin that records calls; the kit uses the name it is installed under."""


def recorder_entry_point() -> importlib.metadata.EntryPoint:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.value == RECORDER:
            return ep
    raise RuntimeError(f"no plugin of the {ENTRY_POINT_GROUP!r} entry-point group is {RECORDER}: reinstall plugyard")


class RecordedHistory:
    """The calls recorded while a test ran, read back from its database."""

    def __init__(self, host: PluginHost, recorder: str | None = None) -> None:
        self._host = host
        self._name = recorder or recorder_entry_point().name

    def _plugin(self) -> Any:
        plugin = self._host.get_plugin(self._name)
        if plugin is None or not callable(getattr(plugin, "recorded_calls", None)):
            raise RuntimeError(f"the {self._name} plugin, which records calls, is not loaded in this host")
        return plugin

    async def calls(self, **equal: Any) -> list[dict[str, Any]]:
        """Every recorded call, oldest first; keyword arguments filter on columns."""
        calls: list[dict[str, Any]] = await self._plugin().recorded_calls(**equal)
        return calls

    async def last(self) -> dict[str, Any]:
        calls = await self.calls()
        if not calls:
            raise AssertionError("no tool call was recorded")
        return calls[-1]


@pytest.fixture
def plugyard_plugins() -> dict[str, object]:
    return {}


@pytest.fixture
def plugyard_settings() -> dict[str, Any]:
    return {}


@pytest.fixture
def plugyard_entry_points() -> bool:
    return False


@pytest.fixture
def plugyard_client_mode() -> str:
    return "auto"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def kit_config(folder: Path, settings: dict[str, Any]) -> Config:
    """A temporary SQLite database in ``folder``, fast flushes, and ``settings`` (plugins.toml-shaped)
    merged on top. Settings given in the recorder's old place (``[history]``) get the defaults there."""
    recorder = recorder_entry_point().name
    recording = {"flush_interval": 0.02, "journal": str(folder / "plugyard-test-journal.jsonl")}
    old = next((o for o, plugin in MOVED_SECTIONS.items() if plugin == recorder and o in settings), None)
    base: dict[str, Any] = {"database": {"url": f"sqlite+aiosqlite:///{folder / 'plugyard-test.db'}"}}
    base.update({old: recording} if old is not None else {"plugins": {recorder: recording}})
    return parse_config(_merge(base, settings), folder / "plugins.toml")


@pytest.fixture
def plugyard_config(tmp_path: Path, plugyard_settings: dict[str, Any]) -> Config:
    return kit_config(tmp_path, plugyard_settings)


@pytest.fixture
async def plugyard_host(
    plugyard_config: Config, plugyard_plugins: dict[str, object], plugyard_entry_points: bool
) -> AsyncIterator[PluginHost]:
    plugins = dict(plugyard_plugins)
    if not plugyard_entry_points:
        recorder = recorder_entry_point()
        plugins.setdefault(recorder.name, recorder.load()())
    host = PluginHost(plugyard_config, strict=True, entry_points=plugyard_entry_points, plugins=plugins)
    async with host.running():
        yield host


@pytest.fixture
async def plugyard_client(plugyard_host: PluginHost, plugyard_client_mode: str) -> AsyncIterator[Any]:
    from mcp import Client

    from plugyard.mcp_server.server import PlugyardServer

    async with Client(PlugyardServer(plugyard_host), mode=plugyard_client_mode) as client:
        yield client


@pytest.fixture
def plugyard_history(plugyard_host: PluginHost) -> RecordedHistory:
    return RecordedHistory(plugyard_host)
