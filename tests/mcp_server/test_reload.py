"""Live reload over a real MCP client session, in both protocol versions: plugins.toml changes while
a client is connected and a call is in flight; the client hears the lists changed, finds and calls
the new tool, the call in flight finishes, and every call before, during and after is recorded once."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ToolsListChanged

import plugyard
from plugyard.core.config import load_config
from plugyard.core.host import PluginHost
from plugyard.core.reload import Fingerprint, HostReloader
from plugyard.history.plugin import HistoryPlugin
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from tests.conftest import rows
from tests.mcp_server.test_subscriptions import Inbox

pytestmark = pytest.mark.anyio

HELLO = """
    import plugyard

    def hello(name: str) -> str:
        '''Greet someone.'''
        return f"hello {name}"

    @plugyard.hookimpl
    def register_tools(register):
        register(hello)
"""

ADDED = """
    import plugyard

    def added(a: int, b: int) -> int:
        '''Add two numbers (a plugin enabled while the server runs).'''
        return a + b

    @plugyard.hookimpl
    def register_tools(register):
        register(added)
"""


class Gate:
    """A plugin whose ``slow`` tool waits until the test opens the gate: a call in flight."""

    def __init__(self) -> None:
        self.entered = anyio.Event()
        self.open = anyio.Event()

    @plugyard.hookimpl
    def register_tools(self, register: Callable[..., None]) -> None:
        async def slow() -> str:
            """Wait for the gate."""
            self.entered.set()
            await self.open.wait()
            return "done"

        register(slow)


def write_plugins_toml(path: Path, db: Path, modules: list[Path]) -> None:
    listed = ", ".join(f'"{m}"' for m in modules)
    path.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n\n[plugins.history]\nflush_interval = 0.05\n\n'
        f"[plugins]\nmodules = [{listed}]\n",
        encoding="utf-8",
    )


def write_plugin(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path: Path, db_path: Path) -> tuple[Path, Callable[[], PluginHost], Gate]:
    toml = tmp_path / "plugins.toml"
    write_plugins_toml(toml, db_path, [write_plugin(tmp_path / "hello_plugin.py", HELLO)])
    gate = Gate()

    def build() -> PluginHost:
        # What `plugyard serve` does on reload: read plugins.toml again, a fresh history plugin each time.
        plugins = {"history": HistoryPlugin(), "gate": gate}
        return PluginHost(load_config(toml), strict=True, entry_points=False, plugins=plugins).load()

    return toml, build, gate


class Notifications:
    """The three list-changed notifications, heard the way each protocol version delivers them."""

    def __init__(self, client: Client, mode: str, inbox: Inbox) -> None:
        self.client, self.mode, self.inbox = client, mode, inbox

    async def expect_lists_changed(self, events: Any) -> set[str]:
        if self.mode == "legacy":
            return {(await self.inbox.next_method())[0] for _ in range(3)}
        got = {await events.__anext__() for _ in range(3)}
        assert got == {ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()}
        return {"notifications/tools/list_changed", "notifications/prompts/list_changed"} | {
            "notifications/resources/list_changed"
        }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_reload_adds_the_new_tool_finishes_calls_in_flight_and_loses_no_record(setup, tmp_path, db_path, mode):
    toml, build, gate = setup
    reloader = HostReloader(build)
    inbox = Inbox()
    call_ids: list[str] = []
    slow_result: list[Any] = []

    def remember(result: Any) -> Any:
        assert not result.is_error, result.content
        call_ids.append(result.meta[CALL_ID_META])
        return result

    async with reloader.running(build()):
        first_host = reloader.host
        server = PlugyardServer(first_host)
        reloader.on_switch(lambda old, new: server.use_host(new))
        async with Client(server, mode=mode, message_handler=inbox) as client:
            listen = client.listen(tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True)
            async with listen if mode == "auto" else _nothing() as events:
                before = {t.name for t in (await client.list_tools()).tools}
                remember(await client.call_tool("hello", {"name": "ada"}))
                remember(await client.call_tool("hello", {"name": "bo"}))
                async with anyio.create_task_group() as tg:

                    async def call_slow() -> None:
                        slow_result.append(remember(await client.call_tool("slow", {})))

                    tg.start_soon(call_slow)
                    await gate.entered.wait()
                    # The operator enables a plugin while a call is in flight.
                    write_plugins_toml(
                        toml, db_path, [tmp_path / "hello_plugin.py", write_plugin(tmp_path / "added.py", ADDED)]
                    )
                    reloaded: list[Any] = []

                    async def do_reload() -> None:
                        reloaded.append(await reloader.reload())

                    tg.start_soon(do_reload)
                    heard = await Notifications(client, mode, inbox).expect_lists_changed(events)
                    after = {t.name for t in (await client.list_tools()).tools}
                    # The new host serves while the old one still runs the call in flight.
                    added = remember(await client.call_tool("added", {"a": 2, "b": 3}))
                    assert not slow_result and not reloaded
                    gate.open.set()
                assert slow_result[0].content[0].text == "done"
                remember(await client.call_tool("hello", {"name": "cy"}))
    inbox.close()
    assert heard == {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
    }
    assert "added" not in before and {"added", "hello", "slow"} <= after
    assert added.structured_content == {"result": 5}
    assert reloaded[0].reloaded and reloaded[0].added == ("added",) and reloaded[0].host is not first_host
    recorded = rows(db_path)
    # Every call exactly once: the old host's recorder flushed before it stopped, the new one on exit.
    assert sorted(r["call_id"] for r in recorded) == sorted(call_ids)
    assert sorted(r["tool_name"] for r in recorded) == ["added", "hello", "hello", "hello", "slow"]
    assert all(r["success"] for r in recorded)


class _nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_a_broken_plugins_toml_keeps_the_previous_plugins_serving(setup, tmp_path, db_path):
    toml, build, _ = setup
    reloader = HostReloader(build)
    async with reloader.running(build()):
        server = PlugyardServer(reloader.host)
        reloader.on_switch(lambda old, new: server.use_host(new))
        async with Client(server) as client:
            toml.write_text("[plugins\nmodules = ", encoding="utf-8")
            result = await reloader.reload()
            answer = await client.call_tool("hello", {"name": "still here"})
    assert not result.reloaded and "not valid TOML" in (result.error or "")
    assert "keep serving" in result.describe()
    assert answer.content[0].text == "hello still here"
    assert [r["tool_name"] for r in rows(db_path)] == ["hello"]


async def test_a_plugin_that_fails_to_start_keeps_the_previous_plugins_serving(setup, tmp_path, db_path):
    toml, build, _ = setup
    write_plugin(
        tmp_path / "failing.py",
        """
        import plugyard

        @plugyard.hookimpl
        def startup(host):
            raise plugyard.PlugyardError("cannot start")
        """,
    )
    reloader = HostReloader(build)
    async with reloader.running(build()):
        old = reloader.host
        write_plugins_toml(toml, db_path, [tmp_path / "hello_plugin.py", tmp_path / "failing.py"])
        result = await reloader.reload()
        assert reloader.host is old and not result.reloaded and "cannot start" in (result.error or "")
        outcome = await reloader.host.call_tool("hello", {"name": "x"})
    assert outcome.success


def test_the_fingerprint_changes_with_plugins_toml_and_the_plugin_files_it_names(setup, tmp_path):
    toml, _, _ = setup
    config = load_config(toml)
    first = Fingerprint.take(config)
    assert Fingerprint.take(config) == first
    write_plugin(tmp_path / "hello_plugin.py", HELLO + "\n# edited\n")
    edited = Fingerprint.take(config)
    assert edited != first and edited.entry_points == first.entry_points
    toml.write_text(toml.read_text(encoding="utf-8") + "\n# comment\n", encoding="utf-8")
    assert Fingerprint.take(config) != edited


# -- a real `plugyard serve` subprocess over stdio ----------------------------------------------

PID = """
    import os

    import plugyard

    def server_pid() -> int:
        '''The serving process's id.'''
        return os.getpid()

    @plugyard.hookimpl
    def register_tools(register):
        register(server_pid)
"""

SHOUT = """
    from plugyard import hookimpl

    def shout(text: str) -> str:
        '''Upper-case a text.'''
        return text.upper()

    @hookimpl
    def register_tools(register):
        register(shout)
"""


def serve_params(toml: Path, tmp_path: Path, site: Path, *extra: str) -> Any:
    from mcp import StdioServerParameters

    from tests.conftest import subprocess_env

    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(toml), "serve", *extra],
        env=subprocess_env(tmp_path, PYTHONPATH=str(site)),
        cwd=str(tmp_path),
    )


async def wait_lists_changed(mode: str, inbox: Inbox, events: Any) -> None:
    # A bound so that a missed notification fails the test instead of hanging it; not a timing assertion.
    with anyio.fail_after(60):
        if mode == "legacy":
            methods = {(await inbox.next_method())[0] for _ in range(3)}
            assert methods == {
                "notifications/tools/list_changed",
                "notifications/prompts/list_changed",
                "notifications/resources/list_changed",
            }
        else:
            got = {await events.__anext__() for _ in range(3)}
            assert got == {ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()}


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_serve_reload_picks_up_a_plugin_installed_while_serving(tmp_path, db_path, mode):
    from tests.core.test_host import install_distribution

    site = tmp_path / "site"
    site.mkdir()
    toml = tmp_path / "plugins.toml"
    write_plugins_toml(toml, db_path, [write_plugin(tmp_path / "hello_plugin.py", HELLO)])
    inbox = Inbox()
    async with Client(serve_params(toml, tmp_path, site, "--reload"), mode=mode, message_handler=inbox) as client:
        listen = client.listen(tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True)
        async with listen if mode == "auto" else _nothing() as events:
            before = {t.name for t in (await client.list_tools()).tools}
            greeted = await client.call_tool("hello", {"name": "ada"})
            # `pip install plugyard-shout` while the server runs.
            install_distribution(site, "plugyard-shout", "1.0.0", {"shout_plugin": SHOUT}, {"shout": "shout_plugin"})
            await wait_lists_changed(mode, inbox, events)
            after = {t.name for t in (await client.list_tools()).tools}
            shouted = await client.call_tool("shout", {"text": "hi"})
            greeted_again = await client.call_tool("hello", {"name": "bo"})
    inbox.close()
    assert "shout" not in before and {"shout", "hello", "calculate"} <= after
    assert shouted.content[0].text == "HI"
    results = [greeted, shouted, greeted_again]
    assert not any(r.is_error for r in results)
    recorded = rows(db_path)
    assert [r["call_id"] for r in recorded] == [r.meta[CALL_ID_META] for r in results]
    assert [(r["tool_name"], r["plugin_name"]) for r in recorded] == [
        ("hello", "hello_plugin"),
        ("shout", "shout"),
        ("hello", "hello_plugin"),
    ]


@pytest.mark.e2e
async def test_sighup_reloads_plugins_toml_without_reload_flag(tmp_path, db_path):
    site = tmp_path / "site"
    site.mkdir()
    toml = tmp_path / "plugins.toml"
    write_plugins_toml(toml, db_path, [write_plugin(tmp_path / "pid_plugin.py", PID)])
    inbox = Inbox()
    async with Client(serve_params(toml, tmp_path, site), mode="legacy", message_handler=inbox) as client:
        pid = (await client.call_tool("server_pid", {})).structured_content["result"]
        write_plugins_toml(toml, db_path, [tmp_path / "pid_plugin.py", write_plugin(tmp_path / "added.py", ADDED)])
        os.kill(pid, signal.SIGHUP)
        await wait_lists_changed("legacy", inbox, None)
        added = await client.call_tool("added", {"a": 1, "b": 2})
    inbox.close()
    assert added.structured_content == {"result": 3}
    assert [r["tool_name"] for r in rows(db_path)] == ["server_pid", "added"]


EDITABLE = """
    import plugyard

    def edited() -> str:
        '''Say which version of the source is running.'''
        return "{version}"

    @plugyard.hookimpl
    def register_tools(register):
        register(edited)
"""


async def test_an_edit_to_an_editable_plugins_source_reloads_it(tmp_path, monkeypatch, isolated_sys_path, db_path):
    """`pip install -e` keeps the version when the source changes: the edit itself is the change."""
    import json as _json

    from tests.core.test_host import install_distribution

    site, src = tmp_path / "site", tmp_path / "src"
    site.mkdir(), src.mkdir()
    install_distribution(site, "plugyard-edited", "0.1.0", {}, {"edited": "edited_plugin"})
    [info] = site.glob("*.dist-info")
    (info / "direct_url.json").write_text(
        _json.dumps({"url": src.as_uri(), "dir_info": {"editable": True}}), encoding="utf-8"
    )
    module = src / "edited_plugin.py"
    module.write_text(textwrap.dedent(EDITABLE.format(version="v1")), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(src))  # what an editable install's .pth does
    monkeypatch.delitem(sys.modules, "edited_plugin", raising=False)
    config_file = tmp_path / "plugins.toml"
    config_file.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{db_path}"\n', encoding="utf-8")

    def build() -> PluginHost:
        return PluginHost(load_config(config_file)).load()

    before = Fingerprint.take(build().config)
    assert "plugyard" not in dict(before.sources) and "edited_plugin" in dict(before.sources)
    reloader = HostReloader(build)
    async with reloader.running():
        assert (await reloader.host.call_tool("edited", {})).result == "v1"
        module.write_text(textwrap.dedent(EDITABLE.format(version="v2")), encoding="utf-8")
        stat = module.stat()
        os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert Fingerprint.take(reloader.host.config) != before
        result = await reloader.reload()
        assert result.reloaded, result.error
        assert (await reloader.host.call_tool("edited", {})).result == "v2"
    sys.modules.pop("edited_plugin", None)
