"""What the host offers itself: the plugin list as a resource, and one prompt per workflow pointing at the
tool that runs workflows (the assistant's assist), when there is one."""

from __future__ import annotations

import json

import pytest

import plugyard
import plugyard.plugins.workflows
from tests.mcp_server import feature_plugin

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

    from plugyard.assistant.plugin import AssistantPlugin
    from plugyard.core.host import PluginHost
    from plugyard.history.plugin import HistoryPlugin
    from plugyard.mcp_server.server import PlugyardServer

    plugins = {**plugyard_plugins, "history": HistoryPlugin(), "assistant": AssistantPlugin()}
    host = PluginHost(plugyard_config, entry_points=False, plugins=plugins)
    async with host.running(), Client(PlugyardServer(host)) as client:
        text = (await client.read_resource("plugyard://plugins")).contents[0].text
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        rendered = await client.get_prompt("run_errordiagnosis", {"message": "my build fails"})
    plugins = {p["name"]: p for p in json.loads(text)}
    assert plugins["feature"]["resources"][:2] == ["feature://readme", "feature://logo.png"]
    assert plugins["feature"]["prompts"] == ["review", "explain"]
    assert plugins["broken"]["status"] == "failed" and "RuntimeError: no disk" in plugins["broken"]["error"]
    assert all("settings" not in p for p in plugins.values())  # they name this machine's folders: CLI only
    workflow_prompts = {n for n in prompts if n.startswith("run_")}
    assert {"run_taskdecomposition", "run_progressiveexploration", "run_errordiagnosis"} <= workflow_prompts
    assert prompts["run_errordiagnosis"].arguments[0].name == "message"
    assert rendered.messages[0].content.text.startswith("my build fails")
    assert "`assist`" in rendered.messages[0].content.text


async def workflow_prompts(config, **plugins: object) -> dict[str, str]:
    """The run_* prompts a host with ``plugins`` lists, each rendered for one message."""
    from mcp import Client

    from plugyard.core.host import PluginHost
    from plugyard.mcp_server.server import PlugyardServer

    host = PluginHost(config, entry_points=False, plugins=plugins, strict=True)
    async with host.running(), Client(PlugyardServer(host)) as client:
        names = [p.name for p in (await client.list_prompts()).prompts if p.name.startswith("run_")]
        return {n: (await client.get_prompt(n, {"message": "plan my thesis"})).messages[0].content.text for n in names}


async def test_without_a_tool_that_runs_workflows_there_are_no_workflow_prompts(plugyard_config):
    # The workflows are registered, but nothing (no assistant) could run them: no prompt would lead anywhere.
    assert await workflow_prompts(plugyard_config, workflows=plugyard.plugins.workflows) == {}


async def test_workflow_prompts_name_whichever_tool_declares_run_workflow(plugyard_config):
    class Runner:
        @plugyard.hookimpl
        def register_tools(self, register):
            def run_it(message: str) -> str:
                """Run a workflow for a request."""
                return message

            register(run_it, capabilities=["run_workflow"])

    prompts = await workflow_prompts(plugyard_config, workflows=plugyard.plugins.workflows, runner=Runner())
    assert {"run_taskdecomposition", "run_progressiveexploration", "run_errordiagnosis"} <= set(prompts)
    assert all("plugyard's `run_it` tool" in text for text in prompts.values())
