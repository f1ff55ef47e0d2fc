"""The same features from a real `plugyard serve` subprocess over stdio, in both protocol versions."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult, PromptReference

from tests.conftest import rows, subprocess_env, write_config
from tests.mcp_server import feature_plugin

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PLUGIN = Path(feature_plugin.__file__)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_resources_prompts_content_and_elicitation_over_stdio(tmp_path, db_path, mode):
    config = write_config(tmp_path / "plugins.toml", db_path, modules=[str(PLUGIN)])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(config), "serve"],
        env=subprocess_env(tmp_path),
        cwd=str(tmp_path),
    )

    async def elicit(context: Any, request: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"ok": True, "name": "lin"})

    async with Client(params, mode=mode, elicitation_callback=elicit) as client:
        logo = (await client.read_resource("feature://logo.png")).contents[0]
        note = (await client.read_resource("feature://notes/beta")).contents[0]
        plugins = json.loads((await client.read_resource("plugyard://plugins")).contents[0].text)
        prompt = await client.get_prompt("review", {"code": "pass"})
        completion = await client.complete(
            PromptReference(type="ref/prompt", name="review"), {"name": "language", "value": "r"}
        )
        mixed = await client.call_tool("mixed", {})
        signed = await client.call_tool("sign_up", {})
    assert base64.b64decode(logo.blob) == feature_plugin.PNG
    assert note.text == "second note"
    assert {p["name"]: p["status"] for p in plugins}["feature_plugin"] == "loaded"
    assert prompt.messages[0].content.text == "Review this python code:\npass"
    assert completion.completion.values == ["rust"]
    assert [b.type for b in mixed.content] == ["text", "image", "audio", "resource", "resource_link"]
    assert signed.content[0].text == "signed up lin"
    recorded = [(r["tool_name"], r["success"], r["error_type"]) for r in rows(db_path)]
    asked = [("sign_up", 0, "InputRequired")] * 2 if mode == "auto" else []
    assert recorded == [("mixed", 1, None), *asked, ("sign_up", 1, None)]
