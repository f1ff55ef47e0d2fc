"""The stdio transport on the event loop (pipes.py): what a real server's pipes can do to it."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from plugyard.plugins.upstream import pipes
from tests.plugins.upstream.conftest import MODES, SERVER, stdio_server, until

pytestmark = pytest.mark.anyio

RELAY = Path(__file__).with_name("relay_pipe.py")
TEXT = "héllo ✓ 日本語 " * 40  # multi-byte characters: pieces of 7 bytes cut through them


def relayed(*options: str, **extra: Any) -> dict[str, Any]:
    """The fixture server behind relay_pipe.py with ``options``."""
    return {"command": sys.executable, "args": [str(RELAY), *options, "--", sys.executable, str(SERVER)], **extra}


@pytest.mark.parametrize("upstream_servers", [{"fx": relayed("--chunk", "7", "--pause", "0.0005")}])
async def test_answers_that_arrive_in_pieces_are_read_whole(plugyard_client):
    result = await plugyard_client.call_tool("fx_echo", {"text": TEXT})
    assert not result.is_error and result.content[0].text == TEXT
    assert (await plugyard_client.call_tool("fx_add", {"a": 20, "b": 22})).structured_content == {"total": 42}


@pytest.mark.parametrize(
    "plugyard_settings",
    [{"tools": {"max_argument_bytes": 8_000_000}, "plugins": {"upstream": {"servers": {"fx": stdio_server()}}}}],
)
async def test_a_large_request_and_a_large_answer_pass_whole(plugyard_client):
    big = "x" * 3_000_000 + TEXT  # far beyond a pipe's buffer both ways: the writer waits for the server to read
    result = await plugyard_client.call_tool("fx_echo", {"text": big})
    assert not result.is_error and result.content[0].text == big
    assert (await plugyard_client.call_tool("fx_add", {"a": 1, "b": 2})).structured_content == {"total": 3}


@pytest.mark.parametrize("upstream_servers", [{"fx": relayed("--cut-on", "cut-here")}])
async def test_a_server_that_exits_mid_message_fails_the_call_clearly_and_is_restarted(
    plugyard_client, plugyard_history, upstream_plugin, caplog
):
    caplog.set_level(logging.WARNING, logger="plugyard.upstream")
    cut = await plugyard_client.call_tool("fx_echo", {"text": "cut-here " + TEXT})
    assert cut.is_error and "upstream server 'fx' closed the connection during the call" in cut.content[0].text
    assert any("its output ended inside a message" in r.getMessage() for r in caplog.records)
    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready" and upstream.restarts)
    again = await plugyard_client.call_tool("fx_echo", {"text": TEXT})
    assert not again.is_error and again.content[0].text == TEXT
    rows = await plugyard_history.calls(tool_name="fx_echo")
    assert [r["success"] for r in rows] == [False, True] and rows[0]["error_type"] == "UpstreamUnavailable"


@pytest.mark.parametrize("upstream_servers", [{"fx": relayed("--noise")}])
async def test_the_servers_stderr_goes_to_plugyards_stderr_never_into_the_protocol(capfd, plugyard_client):
    for n in range(3):
        assert (await plugyard_client.call_tool("fx_add", {"a": n, "b": 1})).structured_content == {"total": n + 1}
    assert "noise on stderr" in capfd.readouterr().err


async def test_a_line_that_is_not_json_rpc_reaches_the_session_as_an_error_and_the_next_one_is_read(caplog):
    caplog.set_level(logging.WARNING, logger="plugyard.upstream")
    script = (
        "import sys\n"
        "print('a banner, not JSON-RPC', flush=True)\n"
        f"sys.argv = [{str(SERVER)!r}]\n"
        f"exec(compile(open({str(SERVER)!r}).read(), {str(SERVER)!r}, 'exec'))\n"
    )
    seen: list[Any] = []

    async def on_message(message: Any) -> None:
        seen.append(message)

    params = StdioServerParameters(command=sys.executable, args=["-c", script])
    async with Client(pipes.stdio_pipes(params, sys.stderr, "banner"), message_handler=on_message) as client:
        assert (await client.call_tool("add", {"a": 2, "b": 2})).structured_content == {"total": 4}
    assert any(isinstance(m, Exception) for m in seen)
    assert any("a line of its output is not JSON-RPC" in r.getMessage() for r in caplog.records)


async def test_leaving_the_client_stops_the_server_and_its_process_group(tmp_path):
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with Client(pipes.stdio_pipes(params, sys.stderr, "fx")) as client:
        pid = (await client.call_tool("pid", {})).structured_content["result"]
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


# -- the raw lane: tools/call past the SDK client's models (pipes.RawRequests) ---------------------------


@pytest.mark.parametrize(
    "upstream_servers", [{"fx": stdio_server(protocol=mode)} for mode in MODES], ids=[f"upstream-{m}" for m in MODES]
)
async def test_tool_calls_take_the_raw_lane_with_progress_and_errors_as_the_server_answers(
    plugyard_host, upstream_plugin, plugyard_history
):
    from plugyard.mcp_server.server import PlugyardServer

    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready")
    raw = upstream._raw
    assert raw is not None
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async with Client(PlugyardServer(plugyard_host), mode="legacy") as client:
        added = await client.call_tool("fx_add", {"a": 2, "b": 3})
        chatty = await client.call_tool("fx_chatty", {"steps": 2}, progress_callback=on_progress)
        refused = await client.call_tool("fx_refuse", {"reason": "no thanks"})
    assert added.structured_content == {"total": 5} and not added.is_error
    assert chatty.content[0].text == "2 steps"
    assert progress == [(1, 2, "step 1"), (2, 2, "step 2")]  # the server's reports, for the lane's own token
    assert refused.is_error and "no thanks" in refused.content[0].text  # isError passes as the server set it
    assert raw.answered == 3 and raw.waiting == 0  # all three answered on the lane, none left waiting
    rows = await plugyard_history.calls(tool_name="fx_refuse")
    assert rows[0]["error_type"] == "ToolResultError"


@pytest.mark.parametrize("upstream_servers", [{"fx": stdio_server(protocol="legacy")}], ids=["upstream-legacy"])
async def test_a_raw_call_cancelled_is_cancelled_upstream(plugyard_host, upstream_plugin, tmp_path):
    from plugyard.mcp_server.server import PlugyardServer

    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready")
    marker = tmp_path / "marker"
    async with Client(PlugyardServer(plugyard_host), mode="legacy") as client:
        with anyio.move_on_after(1.0):
            await client.call_tool("fx_sleepy", {"marker": str(marker)})
        await until(marker.exists, 10)  # notifications/cancelled with the lane's own request id reached it
        assert (await client.call_tool("fx_echo", {"text": "after"})).content[0].text == "after"
    assert marker.read_text() == "cancelled" and upstream._raw.waiting == 0


async def test_a_call_the_server_needs_input_for_goes_to_the_sdks_rounds(plugyard_host, upstream_plugin):
    # A 2026-07-28 server answers input_required on the lane; the SDK's client then runs the rounds.
    from mcp.types import CreateMessageResult, TextContent

    from plugyard.mcp_server.server import PlugyardServer

    async def sample(_context, params):
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="42"), model="m")

    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready")
    assert upstream.client.protocol_version in MODERN_PROTOCOL_VERSIONS
    async with Client(PlugyardServer(plugyard_host), mode="legacy", sampling_callback=sample) as client:
        assert (await client.call_tool("fx_ask", {})).content[0].text == "the model says 42"
    assert upstream._raw.answered == 1  # the first round's answer, taken on the lane


async def test_raw_requests_fail_when_the_server_exits_and_after(plugyard_host, upstream_plugin):
    upstream = upstream_plugin.upstreams["fx"]
    await until(lambda: upstream.state == "ready")
    raw, stamp = upstream._raw, upstream._stamp

    def params(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {"method": "tools/call", "params": {"name": name, "arguments": arguments}}
        stamp(data)  # what the SDK's client adds on this connection (2026-07-28: the _meta envelope)
        return data["params"]

    assert (await raw.request("tools/call", params("echo", {"text": "x"})))["content"][0]["text"] == "x"
    with pytest.raises(pipes.RawClosed):
        await raw.request("tools/call", params("crash", {}))
    with pytest.raises(pipes.RawClosed):  # and every request after, at once
        await raw.request("tools/call", params("echo", {"text": "x"}))
