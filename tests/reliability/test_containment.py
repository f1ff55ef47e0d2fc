"""What a tool raises never stops the server: sys.exit(), KeyboardInterrupt, a bare BaseException, or a
CancelledError of its own (sync and async) become recorded tool errors naming the plugin, on stdio (raw
JSON-RPC) and HTTP (the SDK's client), and the server goes on. A result that does not match the declared
return type is recorded as the failure the client got. A tool that swallows its timeout's cancellation is
recorded as timed out, and one that blocks the event loop is named in the log and recorded as timed out."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.conftest import FIXTURES, rows, server_log, serving_http, subprocess_env, write_config
from tests.reliability.rawstdio import serving

pytestmark = [pytest.mark.e2e]

HERE = Path(__file__).parent
FATAL = {
    "exit_sync": "SystemExit",
    "exit_async": "SystemExit",
    "interrupt_sync": "KeyboardInterrupt",
    "interrupt_async": "KeyboardInterrupt",
    "base_sync": "Odd",
    "base_async": "Odd",
    "cancelled_sync": "CancelledError",
    "cancelled_async": "CancelledError",
}


def _config(tmp_path: Path, db_path: Path) -> Path:
    modules = [str(FIXTURES / "sample_plugin.py"), str(HERE / "fatal_plugin.py")]
    return write_config(tmp_path / "plugins.toml", db_path, modules=modules)


def _text(result: dict) -> str:  # type: ignore[type-arg]
    return " ".join(block.get("text", "") for block in result["content"])


def _check_rows(db_path: Path) -> None:
    recorded = {r["tool_name"]: r for r in rows(db_path)}
    for tool, error_type in FATAL.items():
        assert recorded[tool]["success"] == 0, tool
        assert recorded[tool]["error_type"] == error_type, recorded[tool]
        assert "fatal_plugin" in recorded[tool]["error_message"], recorded[tool]
    wrong = recorded["wrong_type"]
    assert wrong["success"] == 0 and "declared return type" in wrong["error_message"], wrong
    late = recorded["swallows_cancel"]
    assert late["success"] == 0 and late["error_type"] == "ToolTimeout", late


def test_fatal_tools_over_stdio_are_recorded_errors_and_the_server_goes_on(tmp_path, db_path):
    config = _config(tmp_path, db_path)
    with serving(config, tmp_path, subprocess_env(tmp_path)) as server:
        server.initialize()
        for tool in [*FATAL, "wrong_type", "swallows_cancel"]:
            result = server.call(tool, {})
            assert result["isError"], (tool, result)
            assert "fatal_plugin" in _text(result), (tool, result)
            assert result["_meta"]["plugyard/call_id"]
            assert server.call("add", {"a": 2, "b": 3})["structuredContent"] == {"result": 5}, tool
        assert "within 0.5 s" in _text(server.call("swallows_cancel", {}))
        # time.sleep(1.5) in an async tool with a 0.5 s timeout: the loop is blocked, the watch names the tool.
        blocked = server.call("blocks_loop", {})
        assert blocked["isError"] and "within 0.5 s" in _text(blocked), blocked
        code = server.stop()
        stderr = server.stderr
    assert code == 0, stderr
    _check_rows(db_path)
    assert "the event loop has been blocked for" in stderr
    assert "by tool 'blocks_loop' of plugin 'fatal_plugin'" in stderr and "fatal_plugin.py" in stderr
    assert "the event loop answered again after" in stderr
    assert rows(db_path, "tool_name = 'blocks_loop'")[0]["error_type"] == "ToolTimeout"


@pytest.mark.anyio
async def test_fatal_tools_over_http_are_recorded_errors_and_the_server_goes_on(tmp_path, db_path):
    config = _config(tmp_path, db_path)
    with serving_http(config, tmp_path) as (base, proc):
        async with Client(f"{base}/mcp") as client:
            for tool in [*FATAL, "wrong_type", "swallows_cancel"]:
                with anyio.fail_after(30):
                    result = await client.call_tool(tool, {})
                assert result.is_error, tool
                assert "fatal_plugin" in result.content[0].text, (tool, result)
                assert (await client.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
        assert proc.poll() is None, server_log(tmp_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, server_log(tmp_path)
    _check_rows(db_path)
