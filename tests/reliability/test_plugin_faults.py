"""Plugin faults are contained, over a real MCP session with `plugyard serve` on stdio.

Eight misbehaving plugins are loaded beside the test plugin: one raises at import, one at registration,
one in a tool, one in before_tool_call, one in after_tool_call, one hangs past its timeout (async and in a
thread), one returns something that cannot be serialised, one has a hook with the wrong signature. The
server keeps serving every other tool, the client's error names the plugin, and the fault is recorded
(plugyard://plugins for load faults, tool_call rows for call faults, the log on stderr for hook faults)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import FIXTURES, rows, subprocess_env, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

PLUGINS = {
    "raises_at_import": """
raise ImportError("the plugin's dependency is missing")
""",
    "raises_at_registration": """
from plugyard import hookimpl

def never(x: int) -> int:
    return x

@hookimpl
def register_tools(register):
    register(never)
    raise RuntimeError("registration went wrong")
""",
    "raises_in_tool": """
from plugyard import hookimpl

def fragile(n: int) -> int:
    \"\"\"Fails on odd numbers.\"\"\"
    if n % 2:
        raise ValueError(f"odd number {n}")
    return n

@hookimpl
def register_tools(register):
    register(fragile)
""",
    "raises_before": """
from plugyard import hookimpl

@hookimpl
def before_tool_call(call):
    raise RuntimeError("before hook broke")
""",
    "raises_after": """
from plugyard import hookimpl

@hookimpl
def after_tool_call(call, outcome):
    raise RuntimeError("after hook broke")
""",
    "hangs": """
import time
import anyio
from plugyard import hookimpl

async def hang_async() -> str:
    \"\"\"Never returns.\"\"\"
    await anyio.sleep(3600)
    return "never"

def hang_thread() -> str:
    \"\"\"Never returns, in a worker thread.\"\"\"
    time.sleep(3600)
    return "never"

@hookimpl
def register_tools(register):
    register(hang_async, timeout=0.3)
    register(hang_thread, timeout=0.3)
""",
    "unserialisable": """
from typing import Any
from plugyard import hookimpl

def opaque() -> Any:
    \"\"\"Returns an object no JSON encoder knows.\"\"\"
    return object()

@hookimpl
def register_tools(register):
    register(opaque)
""",
    "wrong_signature": """
from plugyard import hookimpl

def unreachable() -> str:
    return "x"

@hookimpl
def register_tools(registrar, extra):
    registrar(unreachable)
""",
}
# More concurrent hung thread calls than anyio's default worker-thread limit (40).
HUNG_THREADS = 45


@pytest.fixture
def faulty_config(tmp_path: Path, db_path: Path) -> Path:
    for name, source in PLUGINS.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    modules = [str(FIXTURES / "sample_plugin.py"), *PLUGINS]
    return write_config(tmp_path / "plugins.toml", db_path, modules=modules)


async def test_misbehaving_plugins_are_contained_named_and_recorded(faulty_config, tmp_path, db_path):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(faulty_config), "serve"],
        env=subprocess_env(tmp_path),
        cwd=str(tmp_path),
    )
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            plugins = {
                p["name"]: p for p in json.loads((await client.read_resource("plugyard://plugins")).contents[0].text)
            }
            even = await client.call_tool("fragile", {"n": 2})
            odd = await client.call_tool("fragile", {"n": 3})
            hung = await client.call_tool("hang_async", {})
            opaque = await client.call_tool("opaque", {})
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    threads: list[object] = []

                    async def hang_one() -> None:
                        threads.append(await client.call_tool("hang_thread", {}))

                    for _ in range(HUNG_THREADS):
                        tg.start_soon(hang_one)
            # Every other tool still answers, sync ones (worker threads) included.
            with anyio.fail_after(30):
                ok = await client.call_tool("add", {"a": 2, "b": 3})
                calc = await client.call_tool("calculate", {"expression": "6 * 7"})

    # Load faults: reported, named, skipped; the rest loaded.
    assert plugins["raises_at_import"]["status"] == "failed"
    assert "ImportError: the plugin's dependency is missing" in plugins["raises_at_import"]["error"]
    assert plugins["raises_at_registration"]["status"] == "failed"
    assert "register_tools raised RuntimeError: registration went wrong" in plugins["raises_at_registration"]["error"]
    assert plugins["wrong_signature"]["status"] == "failed"
    assert "registrar" in plugins["wrong_signature"]["error"]
    assert {"never", "unreachable"}.isdisjoint(names)
    for good in ("raises_in_tool", "raises_before", "raises_after", "hangs", "unserialisable", "sample_plugin"):
        assert plugins[good]["status"] == "loaded", plugins[good]
    # Call faults: clear errors naming the plugin; the others serve.
    assert not even.is_error and even.structured_content == {"result": 2}
    assert odd.is_error and odd.content[0].text == (
        "tool 'fragile' of plugin 'raises_in_tool' failed: ValueError: odd number 3"
    )
    assert hung.is_error and "tool 'hang_async' of plugin 'hangs' did not finish within 0.3 s" in hung.content[0].text
    assert opaque.is_error and "tool 'opaque' of plugin 'unserialisable'" in opaque.content[0].text
    assert "cannot be serialised" in opaque.content[0].text
    assert len(threads) == HUNG_THREADS
    assert all(r.is_error and "plugin 'hangs' did not finish" in r.content[0].text for r in threads)  # type: ignore[attr-defined]
    assert not ok.is_error and ok.structured_content == {"result": 5}
    assert not calc.is_error
    # Hook faults: the call went on, and the log names plugin, hook and tool.
    log = stderr_path.read_text(encoding="utf-8")
    assert "before_tool_call of plugin 'raises_before' failed for tool 'add'; ignored" in log
    assert "after_tool_call of plugin 'raises_after' failed for tool 'add'; ignored" in log
    assert "plugin 'raises_at_import' skipped" in log
    # Every call is recorded once, with its plugin and error type.
    recorded = [(r["tool_name"], r["plugin_name"], r["success"], r["error_type"]) for r in rows(db_path)]
    assert recorded.count(("hang_thread", "hangs", 0, "ToolTimeout")) == HUNG_THREADS
    others = [r for r in recorded if r[0] != "hang_thread"]
    assert others == [
        ("fragile", "raises_in_tool", 1, None),
        ("fragile", "raises_in_tool", 0, "ValueError"),
        ("hang_async", "hangs", 0, "ToolTimeout"),
        ("opaque", "unserialisable", 0, "ToolFailed"),  # refused by the pipeline, not raised
        ("add", "sample_plugin", 1, None),
        ("calculate", "calculator", 1, None),
    ]
