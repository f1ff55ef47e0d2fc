"""Resources, templates, prompts and completion registered by a plugin, over a real MCP session."""

from __future__ import annotations

import base64

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference

import plugyard
from plugyard.mcp_server.server import PlugyardServer
from tests.mcp_server import feature_plugin

pytestmark = pytest.mark.anyio


async def test_static_resources_and_templates_are_listed_with_their_plugin(plugyard_client):
    resources = {r.uri: r for r in (await plugyard_client.list_resources()).resources}
    templates = {t.uri_template: t for t in (await plugyard_client.list_resource_templates()).resource_templates}
    assert resources["feature://readme"].mime_type == "text/markdown"
    assert resources["feature://readme"].description == "The plugin's readme."
    assert resources["feature://readme"].meta == {"plugyard/plugin": "feature"}
    assert resources["feature://logo.png"].name == "logo"
    assert set(templates) == {"feature://notes/{name}", "feature://counts/{kind}/{day}"}
    assert "plugyard://plugins" in resources  # the host's own


async def test_text_binary_templated_and_json_resources_are_read(plugyard_client):
    readme = (await plugyard_client.read_resource("feature://readme")).contents[0]
    logo = (await plugyard_client.read_resource("feature://logo.png")).contents[0]
    note = (await plugyard_client.read_resource("feature://notes/alpha")).contents[0]
    counts = (await plugyard_client.read_resource("feature://counts/calls/2026-01-02")).contents[0]
    assert readme.text == "# Feature plugin" and readme.mime_type == "text/markdown"
    assert base64.b64decode(logo.blob) == feature_plugin.PNG and logo.mime_type == "image/png"
    assert note.text == "first note" and note.uri == "feature://notes/alpha"
    assert counts.mime_type == "application/json" and '"day": "2026-01-02"' in counts.text


async def test_unknown_and_failing_resources_are_errors_naming_the_plugin(plugyard_client):
    with pytest.raises(MCPError, match="feature://nope"):
        await plugyard_client.read_resource("feature://nope")
    with pytest.raises(MCPError, match="plugin 'feature' failed: KeyError"):
        await plugyard_client.read_resource("feature://notes/gamma")


async def test_prompts_with_arguments_render_messages(plugyard_client):
    prompts = {p.name: p for p in (await plugyard_client.list_prompts()).prompts}
    review = prompts["review"]
    assert [(a.name, a.required, a.description) for a in review.arguments] == [
        ("code", True, "The code to review"),
        ("language", False, None),
    ]
    rendered = await plugyard_client.get_prompt("review", {"code": "x = 1", "language": "perl"})
    assert rendered.description == "Ask for a code review."
    [message] = rendered.messages
    assert message.role == "user" and message.content.text == "Review this perl code:\nx = 1"
    explained = await plugyard_client.get_prompt("explain", {"topic": "MCP"})
    kinds = [(m.role, m.content.type) for m in explained.messages]
    assert kinds == [("assistant", "text"), ("user", "text"), ("user", "resource"), ("user", "image")]
    with pytest.raises(MCPError, match=r"missing \['code'\]"):
        await plugyard_client.get_prompt("review", {})
    with pytest.raises(MCPError, match="unknown prompt 'nope'"):
        await plugyard_client.get_prompt("nope", {})


async def test_prompt_arguments_and_template_parameters_complete(plugyard_client):
    assert plugyard_client.server_capabilities.completions is not None
    lang = await plugyard_client.complete(
        PromptReference(type="ref/prompt", name="review"), {"name": "language", "value": "p"}
    )
    note = await plugyard_client.complete(
        ResourceTemplateReference(type="ref/resource", uri="feature://notes/{name}"), {"name": "name", "value": "b"}
    )
    kind = await plugyard_client.complete(
        ResourceTemplateReference(type="ref/resource", uri="feature://counts/{kind}/{day}"),
        {"name": "kind", "value": "c"},
    )
    none = await plugyard_client.complete(
        PromptReference(type="ref/prompt", name="review"), {"name": "code", "value": ""}
    )
    assert lang.completion.values == ["python", "perl"]
    assert note.completion.values == ["beta"]
    assert kind.completion.values == ["calls", "cards"]
    assert none.completion.values == []


async def test_a_clash_names_both_plugins(plugyard_config):
    class Copycat:
        @plugyard.hookimpl
        def register_resources(self, register):
            register(lambda: "mine", uri="feature://readme")

        @plugyard.hookimpl
        def register_prompts(self, register):
            def review(code: str) -> str:
                return code

            register(review)

    from plugyard.core.host import PluginHost

    host = PluginHost(plugyard_config, entry_points=False, plugins={"feature": feature_plugin, "copycat": Copycat()})
    host.load()
    error = host.infos["copycat"].error or ""
    assert "resource 'feature://readme' is registered by both plugin 'feature' and plugin 'copycat'" in error
    assert "prompt 'review' is registered by both plugin 'feature' and plugin 'copycat'" in error
    assert host.resources.find("feature://readme")[0].plugin == "feature"
    async with host.running(), Client(PlugyardServer(host)) as client:
        assert (await client.read_resource("feature://readme")).contents[0].text == "# Feature plugin"
