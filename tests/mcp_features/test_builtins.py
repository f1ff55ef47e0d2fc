"""What the host offers itself: the plugin list as a resource, one prompt per workflow."""

from __future__ import annotations

import json

import pytest

import plugyard
import plugyard.plugins.workflows
from tests.mcp_features import feature_plugin

pytestmark = pytest.mark.anyio


@pytest.fixture
def plugyard_plugins() -> dict[str, object]:
    class Broken:
        @plugyard.hookimpl
        def register_resources(self, register):
            raise RuntimeError("no disk")

    return {"feature": feature_plugin, "workflows": plugyard.plugins.workflows, "broken": Broken()}


async def test_the_plugin_list_shows_what_each_registered_and_load_errors(plugyard_config, plugyard_plugins):
    from mcp import Client

    from plugyard.core.host import PluginHost
    from plugyard.history.plugin import HistoryPlugin
    from plugyard.mcp_server.server import PlugyardServer

    host = PluginHost(plugyard_config, entry_points=False, plugins={**plugyard_plugins, "history": HistoryPlugin()})
    async with host.running(), Client(PlugyardServer(host)) as client:
        text = (await client.read_resource("plugyard://plugins")).contents[0].text
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        rendered = await client.get_prompt("run_errordiagnosis", {"message": "my build fails"})
    plugins = {p["name"]: p for p in json.loads(text)}
    assert plugins["feature"]["resources"][:2] == ["feature://readme", "feature://logo.png"]
    assert plugins["feature"]["prompts"] == ["review", "explain"]
    assert plugins["broken"]["status"] == "failed" and "RuntimeError: no disk" in plugins["broken"]["error"]
    workflow_prompts = {n for n in prompts if n.startswith("run_")}
    assert {"run_taskdecomposition", "run_progressiveexploration", "run_errordiagnosis"} <= workflow_prompts
    assert prompts["run_errordiagnosis"].arguments[0].name == "message"
    assert rendered.messages[0].content.text.startswith("my build fails")
    assert "`assist`" in rendered.messages[0].content.text
