"""What a server's listing becomes: names checked, clashes named, each odd item skipped alone."""

from __future__ import annotations

from typing import Any

import mcp.types as mt

from plugyard.plugins.upstream import mounting
from plugyard.plugins.upstream.connection import Upstream
from plugyard.plugins.upstream.settings import ServerSettings, UpstreamSettings


async def _unchanged(_: Upstream) -> None:
    return None


def _upstream(name: str, tools: list[str], **settings: Any) -> Upstream:
    upstream = Upstream(name, ServerSettings(command="x", **settings), UpstreamSettings(), _unchanged)
    upstream.listing.tools = [mt.Tool(name=t, input_schema={"type": "object"}) for t in tools]
    return upstream


def _registered(upstreams: list[Upstream]) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}

    def register(fn: Any, **options: Any) -> None:
        seen[options["name"]] = options

    mounting.register_tools(upstreams, register)
    return seen


def test_names_get_the_prefix_and_a_name_too_long_or_odd_is_skipped_saying_why():
    upstream = _upstream("srv", ["ok", "has.dot", "x" * 70], prefix="p")
    assert set(_registered([upstream])) == {"p_ok"}
    assert any("'p_has.dot' is not a valid name" in p for p in upstream.problems)
    assert any("is not a valid name" in p and "x" * 70 in p for p in upstream.problems)


def test_a_clash_between_two_servers_keeps_the_first_and_names_both():
    one, two = _upstream("one", ["same"], prefix=""), _upstream("two", ["same", "other"], prefix="")
    seen = _registered([one, two])
    assert set(seen) == {"same", "other"} and seen["same"]["source"] == "one"
    assert one.problems == two.problems and "upstream 'one' (tool 'same') and by upstream 'two'" in one.problems[0]


def test_capabilities_name_upstream_tools_and_reach_the_registration():
    upstream = _upstream("srv", ["search", "fetch"], capabilities={"web_search": ["search"], "read_url": ["srv_fetch"]})
    seen = _registered([upstream])
    assert seen["srv_search"]["capabilities"] == ["web_search"] and seen["srv_fetch"]["capabilities"] == ["read_url"]


def test_a_prompt_whose_arguments_plugyard_cannot_pass_is_skipped_alone():
    upstream = _upstream("srv", [])
    upstream.listing.prompts = [
        mt.Prompt(name="good", arguments=[mt.PromptArgument(name="topic", required=True)]),
        mt.Prompt(name="bad", arguments=[mt.PromptArgument(name="not-an-identifier")]),
    ]
    seen: list[str] = []
    mounting.register_prompts([upstream], lambda fn, **options: seen.append(options["name"]))
    assert seen == ["srv_good"] and "prompt 'bad' cannot be served" in upstream.problems[0]


def test_a_prompt_name_follows_the_prompt_rules_not_the_tool_rules():
    upstream = _upstream("srv", [], prefix="p")
    upstream.listing.prompts = [mt.Prompt(name="has.dot"), mt.Prompt(name="bad name")]
    seen: dict[str, Any] = {}
    mounting.register_prompts([upstream], lambda fn, **options: seen.setdefault(options["name"], options))
    assert set(seen) == {"p_has.dot"}  # a dot is fine in a prompt's name
    assert any("'p_bad name' is not a valid name" in p for p in upstream.problems)
