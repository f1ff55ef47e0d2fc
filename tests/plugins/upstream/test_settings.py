"""The [plugins.upstream] table: what README shows is valid, and what is wrong is named."""

from __future__ import annotations

import re
import tomllib

import pydantic
import pytest

from plugyard.plugins.upstream import ServerSettings, UpstreamSettings
from plugyard.plugins.upstream.settings import MissingEnvironment
from tests.conftest import REPO


def test_the_readmes_example_is_valid():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "plugins.upstream.servers" in b]
    settings = UpstreamSettings.model_validate(tomllib.loads(block)["plugins"]["upstream"])
    assert settings.servers["files"].transport == "stdio" and settings.servers["search"].transport == "http"
    assert (
        settings.servers["search"].prefix_for("search") == "web"
        and settings.servers["files"].prefix_for("files") == "files"
    )


@pytest.mark.parametrize(
    ("server", "says"),
    [
        ({"command": "x", "url": "http://h/mcp"}, "either command"),
        ({}, "either command"),
        ({"url": "ftp://h"}, "must start with http"),
        ({"url": "http://h/mcp", "env": {"A": "b"}}, "args, env and cwd are for stdio servers"),
        ({"command": "x", "headers": {"A": "b"}}, "headers are for streamable HTTP servers"),
        ({"command": "x", "prefix": "a b"}, "prefix 'a b' may hold only"),
        ({"command": "x", "timeout": 0}, "greater than 0"),
        ({"command": "x", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_a_wrong_server_table_is_refused_saying_why(server, says):
    with pytest.raises(pydantic.ValidationError, match=re.escape(says)):
        ServerSettings.model_validate(server)


def test_env_references_are_resolved_from_the_environment_only_when_connecting():
    server = ServerSettings(command="x", env={"TOKEN": "env:MY_TOKEN", "PLAIN": "value"})
    assert server.env == {"TOKEN": "env:MY_TOKEN", "PLAIN": "value"}
    assert server.resolved_env("s", {"MY_TOKEN": "t0k"}) == {"TOKEN": "t0k", "PLAIN": "value"}
    with pytest.raises(MissingEnvironment, match=r"env of upstream 's': TOKEN = \"env:MY_TOKEN\" but \$MY_TOKEN"):
        server.resolved_env("s", {})
