"""Faults of an upstream are contained: restarts with backoff, clear errors meanwhile, recorded."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import anyio
import pytest
from mcp import Client

from plugyard.core import health
from plugyard.core.host import PluginHost
from plugyard.mcp_server.server import PlugyardServer
from plugyard.testing import kit_config
from tests.plugins.upstream.conftest import alive, stdio_server, until

pytestmark = pytest.mark.anyio


async def test_an_upstream_killed_mid_session_gives_clear_errors_then_serves_again(
    plugyard_client, plugyard_host, plugyard_history, upstream_plugin
):
    first = (await plugyard_client.call_tool("fx_pid", {})).structured_content["result"]
    os.kill(first, signal.SIGKILL)
    failed = await plugyard_client.call_tool("fx_echo", {"text": "hi"})
    assert failed.is_error
    assert "upstream server 'fx'" in failed.content[0].text
    await until(lambda: upstream_plugin.upstreams["fx"].state == "ready" and upstream_plugin.upstreams["fx"].restarts)
    again = await plugyard_client.call_tool("fx_echo", {"text": "hi"})
    assert not again.is_error and again.content[0].text == "hi"
    assert (await plugyard_client.call_tool("fx_pid", {})).structured_content["result"] != first
    rows = await plugyard_history.calls(tool_name="fx_echo")
    assert [r["success"] for r in rows] == [False, True]
    assert rows[0]["error_type"] == "UpstreamUnavailable" and rows[0]["source"] == "fx"


async def test_a_tool_that_crashes_its_server_is_a_recorded_error_and_the_server_comes_back(
    plugyard_client, plugyard_history, upstream_plugin
):
    crashed = await plugyard_client.call_tool("fx_crash", {})
    assert crashed.is_error and "upstream server 'fx' closed the connection" in crashed.content[0].text
    await until(lambda: upstream_plugin.upstreams["fx"].state == "ready" and upstream_plugin.upstreams["fx"].restarts)
    assert (await plugyard_client.call_tool("fx_add", {"a": 1, "b": 1})).structured_content == {"total": 2}
    [row] = await plugyard_history.calls(tool_name="fx_crash")
    assert row["error_type"] == "UpstreamUnavailable" and "closed the connection" in row["error_message"]


@pytest.mark.parametrize(
    "upstream_servers", [{"fx": stdio_server()}, {"fx": stdio_server(protocol="legacy")}], ids=["auto", "legacy"]
)
async def test_list_changed_from_the_upstream_reaches_a_connected_client(plugyard_host, upstream_plugin):
    upstream = upstream_plugin.upstreams["fx"]
    assert (upstream.client.protocol_version == "2025-11-25") == (upstream.settings.protocol == "legacy")
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if type(message).__name__ == "ToolListChangedNotification":
            heard.set()

    async with Client(PlugyardServer(plugyard_host), mode="legacy", message_handler=on_message) as client:
        await client.call_tool("fx_grow", {"name": "sprout"})
        with anyio.fail_after(10):
            await heard.wait()
        await until(lambda: "fx_sprout" in plugyard_host.tools)
        names = {t.name for t in (await client.list_tools()).tools}
        assert "fx_sprout" in names
        assert (await client.call_tool("fx_sprout", {})).content[0].text == "I am sprout"


@pytest.mark.parametrize("upstream_servers", [{"ok": stdio_server(), "broken": {"command": "/nonexistent/mcp"}}])
async def test_a_server_that_cannot_start_is_retried_while_the_others_serve(
    plugyard_client, plugyard_host, upstream_plugin
):
    assert (await plugyard_client.call_tool("ok_echo", {"text": "x"})).content[0].text == "x"
    broken = upstream_plugin.upstreams["broken"]
    await until(lambda: broken.restarts >= 2)
    report = (await health.check(plugyard_host)).as_dict()["reports"]["upstream"]["upstreams"]["broken"]
    assert report["state"] in ("starting", "restarting") and report["tools"] == 0
    assert "nonexistent" in report["last_error"]


@pytest.mark.parametrize("upstream_servers", [{"one": stdio_server(prefix="same"), "two": stdio_server(prefix="same")}])
async def test_a_name_two_servers_would_serve_is_a_clear_error_naming_both(plugyard_host, upstream_plugin):
    await until(lambda: all(u.state == "ready" for u in upstream_plugin.upstreams.values()))
    await until(lambda: upstream_plugin.upstreams["two"].problems)
    [problem] = [p for p in upstream_plugin.upstreams["two"].problems if "'same_add'" in p]
    assert "tool 'add'" in problem and "upstream 'one'" in problem and "upstream 'two'" in problem
    assert plugyard_host.tools.get("same_add").source == "one"


@pytest.mark.parametrize(
    "upstream_servers", [{"fx": stdio_server(prefix="", env={"SECRET": "env:PLUGYARD_TEST_UNSET_VAR"})}]
)
async def test_a_missing_environment_variable_is_named_and_no_prefix_keeps_the_names(plugyard_host, upstream_plugin):
    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.last_error is not None)
    assert (
        "$PLUGYARD_TEST_UNSET_VAR is not set" in upstream.last_error and "env of upstream 'fx'" in upstream.last_error
    )


async def test_environment_values_are_read_from_plugyards_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGYARD_TEST_GREETING", "bonjour")
    script = tmp_path / "env_server.py"
    script.write_text(
        "import os\nfrom mcp.server.mcpserver import MCPServer\ns = MCPServer('e')\n"
        "@s.tool()\ndef greeting() -> str:\n    return os.environ['GREETING']\ns.run()\n"
    )
    from plugyard.plugins.upstream import UpstreamPlugin

    settings = {
        "servers": {
            "e": {
                "command": sys.executable,
                "args": [str(script)],
                "env": {"GREETING": "env:PLUGYARD_TEST_GREETING"},
                "prefix": "",
            }
        }
    }
    config = kit_config(tmp_path, {"plugins": {"upstream": settings}})
    host = PluginHost(config, entry_points=False, plugins={"upstream": UpstreamPlugin()})
    async with host.running():
        outcome = await host.call_tool("greeting", {})
    assert outcome.success and outcome.result.text() == "bonjour"


async def test_stopping_the_host_stops_every_stdio_upstream(tmp_path):
    from plugyard.plugins.upstream import UpstreamPlugin

    settings = {"servers": {"a": stdio_server(), "b": stdio_server()}}
    config = kit_config(tmp_path, {"plugins": {"upstream": settings}})
    host = PluginHost(config, entry_points=False, plugins={"upstream": UpstreamPlugin()})
    async with host.running():
        pids = [(await host.call_tool(f"{n}_pid", {})).result.structured["result"] for n in "ab"]
        assert all(alive(pid) for pid in pids)
    await until(lambda: not any(alive(pid) for pid in pids), 5)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_cancelling_a_call_cancels_it_upstream_and_is_recorded(plugyard_host, plugyard_history, tmp_path, mode):
    marker = tmp_path / f"marker-{mode}"
    async with Client(PlugyardServer(plugyard_host), mode=mode) as client:
        with anyio.move_on_after(1.0):
            await client.call_tool("fx_sleepy", {"marker": str(marker)})
        await until(marker.exists, 10)
    assert marker.read_text() == "cancelled"
    [row] = await plugyard_history.calls(tool_name="fx_sleepy")
    assert row["error_type"] == "Cancelled" and row["source"] == "fx"


@pytest.mark.parametrize("upstream_servers", [{"fx": stdio_server(protocol="legacy")}], ids=["legacy-session"])
async def test_pings_on_a_legacy_session_keep_the_connection(plugyard_client, upstream_plugin):
    # ping is valid on a 2025-11-25 session; the SDK's Client.send_ping warns on every call
    # (MCPDeprecationWarning), which, raised, made every ping a restart.
    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready")
    await anyio.sleep(2.0)  # four pings at the fixture's ping_interval of 0.5 s
    assert upstream.restarts == 0, upstream.last_error
    assert (await plugyard_client.call_tool("fx_add", {"a": 2, "b": 3})).structured_content == {"total": 5}
