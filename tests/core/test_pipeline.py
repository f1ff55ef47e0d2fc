"""The call pipeline: validation, hooks, timeouts and failures, through a real host."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import Field

from plugyard import Veto, hookimpl
from plugyard.core.errors import PluginError, UnknownTool
from plugyard.core.host import PluginHost
from plugyard.core.tools import build_tool
from tests.conftest import recorded

pytestmark = pytest.mark.anyio


async def test_a_successful_call_returns_the_result_and_is_recorded(running_host, db_url):
    async with running_host() as host:
        outcome = await host.call_tool("add", {"a": 2, "b": 3}, user_id="ada", session_id="s1")
    assert outcome.success and outcome.result == 5
    [row] = await recorded(db_url)
    assert row["tool_name"] == "add" and row["plugin_name"] == "sample"
    assert row["user_id"] == "ada" and row["session_id"] == "s1"
    assert row["success"] == 1 and row["error_type"] is None
    assert row["call_id"] == outcome.call.call_id
    assert row["result_size"] == 1 and row["execution_time_ms"] >= 0


async def test_invalid_arguments_give_a_clear_error_and_a_failed_row(running_host, db_url):
    async with running_host() as host:
        wrong_type = await host.call_tool("add", {"a": "two"})
        missing = await host.call_tool("add", {})
        extra = await host.call_tool("add", {"a": 1, "c": 2})
    assert not wrong_type.success and wrong_type.error_type == "InvalidArguments"
    assert "tool 'add'" in wrong_type.error_message and "a:" in wrong_type.error_message
    assert "a: Field required" in missing.error_message
    assert "c: Extra inputs are not permitted" in extra.error_message
    assert [r["success"] for r in await recorded(db_url)] == [0, 0, 0]


async def test_a_tool_that_raises_becomes_a_failed_outcome_with_its_message(running_host, db_url):
    async with running_host() as host:
        outcome = await host.call_tool("explode", {"message": "disk on fire"})
    assert not outcome.success
    assert outcome.error_type == "RuntimeError"
    assert "disk on fire" in outcome.error_message
    [row] = await recorded(db_url)
    assert row["error_type"] == "RuntimeError" and "disk on fire" in row["error_message"]


async def test_where_a_tool_raised_is_logged_at_debug_for_its_author(running_host, caplog):
    with caplog.at_level(logging.DEBUG, logger="plugyard.tools"):
        async with running_host() as host:
            await host.call_tool("explode", {"message": "disk on fire"})
    [record] = [r for r in caplog.records if r.name == "plugyard.tools" and r.exc_info]
    assert record.levelno == logging.DEBUG and "tool 'explode' of plugin" in record.getMessage()
    assert "sample_plugin.py" in caplog.text and "raise RuntimeError(message)" in caplog.text  # file and line


async def test_an_unknown_tool_is_refused_and_nothing_is_recorded(running_host, db_url):
    async with running_host() as host:
        with pytest.raises(UnknownTool, match=r"unknown tool 'nope'.*add"):
            await host.call_tool("nope", {})
    assert (await recorded(db_url)) == []


@pytest.mark.parametrize("tool", ["sleep_sync", "sleep_async"])
async def test_a_tool_past_its_timeout_is_stopped_and_recorded(running_host, db_url, tool):
    async with running_host() as host:
        with anyio.fail_after(5):
            outcome = await host.call_tool(tool, {"seconds": 3})
    assert not outcome.success and outcome.error_type == "ToolTimeout"
    assert "0.5 s" in outcome.error_message and f"[tools.{tool}]" in outcome.error_message
    assert (await recorded(db_url))[0]["error_type"] == "ToolTimeout"


async def test_plugins_toml_timeout_overrides_the_registered_one(make_host, config):
    cfg = config.model_copy(update={"tools": config.tools.model_copy(update={"overrides": {}})})
    from plugyard.core.config import parse_config

    cfg = parse_config({"database": {"url": config.database_url}, "tools": {"sleep_async": {"timeout": 0.05}}})
    host = make_host(cfg=cfg)
    async with host.running():
        outcome = await host.call_tool("sleep_async", {"seconds": 0.3})
    assert outcome.error_type == "ToolTimeout" and "0.05 s" in outcome.error_message


async def test_a_cancelled_call_is_recorded_and_the_router_does_not_learn_from_it(running_host, db_url):
    async with running_host() as host:
        history = host.get_plugin("history")
        with anyio.move_on_after(0.2):  # the caller gives up while the tool still runs
            await host.call_tool("sleep_async", {"seconds": 0.4}, user_id="ada")
        assert history.router.preferred_tools("ada") == []
    [row] = await recorded(db_url)
    assert row["tool_name"] == "sleep_async" and row["success"] == 0 and row["error_type"] == "Cancelled"
    assert "was cancelled before it finished" in row["error_message"]


class Rendezvous:
    """Three sync calls that can only finish if they run at the same time, in different threads."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(3, timeout=10)

    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def meet() -> int:
            return self.barrier.wait()

        register(meet)


async def test_sync_tools_run_in_worker_threads_without_blocking_the_loop(running_host):
    results: list[Any] = []
    async with running_host(extra={"meet": Rendezvous()}) as host:

        async def call() -> None:
            results.append(await host.call_tool("meet", {}))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
    assert all(r.success for r in results)
    assert sorted(r.result for r in results) == [0, 1, 2]


async def test_the_context_argument_carries_identity_and_is_not_in_the_schema(running_host):
    async with running_host() as host:
        assert "ctx" not in host.tools.get("whoami").input_schema.get("properties", {})
        outcome = await host.call_tool("whoami", {}, user_id="grace", session_id="s9")
    assert outcome.result == {
        "user_id": "grace",
        "session_id": "s9",
        "call_id": outcome.call.call_id,
        "plugin": "sample",
    }


class Gate:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def before_tool_call(self, call):  # type: ignore[no-untyped-def]
        self.seen.append(call.tool_name)
        if call.tool_name == "explode":
            return Veto("explosions are not allowed here")
        return None


async def test_before_tool_call_can_veto_and_the_refusal_is_recorded(running_host, db_url):
    gate = Gate()
    async with running_host(extra={"gate": gate}) as host:
        refused = await host.call_tool("explode", {})
        allowed = await host.call_tool("add", {"a": 1})
    assert not refused.success and refused.error_type == "ToolVetoed"
    assert "refused by plugin 'gate': explosions are not allowed here" in refused.error_message
    assert allowed.success
    assert gate.seen == ["explode", "add"]
    assert [r["error_type"] for r in await recorded(db_url)] == ["ToolVetoed", None]


class AsyncGate:
    @hookimpl
    def before_tool_call(self, call):  # type: ignore[no-untyped-def]
        async def decide() -> Veto | None:
            await anyio.lowlevel.checkpoint()
            return Veto("quota used up") if call.user_id == "mallory" else None

        return decide()


async def test_before_tool_call_may_decide_asynchronously(running_host):
    async with running_host(extra={"quota": AsyncGate()}) as host:
        assert (await host.call_tool("add", {"a": 1}, user_id="alice")).success
        refused = await host.call_tool("add", {"a": 1}, user_id="mallory")
    assert refused.error_type == "ToolVetoed" and "quota used up" in refused.error_message


class Faulty:
    @hookimpl
    def before_tool_call(self, call):  # type: ignore[no-untyped-def]
        raise ValueError("before is broken")

    @hookimpl
    def after_tool_call(self, outcome):  # type: ignore[no-untyped-def]
        raise ValueError("after is broken")


async def test_failing_hook_implementations_are_isolated_and_recording_goes_on(running_host, db_url, caplog):
    async with running_host(extra={"faulty": Faulty()}) as host:
        outcome = await host.call_tool("add", {"a": 4})
    assert outcome.success and outcome.result == 4
    assert len(await recorded(db_url)) == 1
    assert "before_tool_call of plugin 'faulty' failed" in caplog.text
    assert "after_tool_call of plugin 'faulty' failed" in caplog.text


class Unserialisable:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def handle() -> Any:
            return object()

        register(handle)


async def test_a_result_that_cannot_be_serialised_is_a_clear_failure(running_host, db_url):
    async with running_host(extra={"odd": Unserialisable()}) as host:
        outcome = await host.call_tool("handle", {})
    assert not outcome.success
    assert "tool 'handle' of plugin 'odd' returned a value that cannot be serialised" in outcome.error_message
    assert (await recorded(db_url))[0]["success"] == 0


def test_tool_names_follow_the_anthropic_rule():
    def fn() -> None: ...

    for bad in ["trailing\n", "has space", "dots.not.allowed", "x" * 65, "", "ünïcode"]:
        with pytest.raises(PluginError, match="invalid"):
            build_tool(fn, plugin="p", name=bad)
    assert build_tool(fn, plugin="p", name="ok-name_2").name == "ok-name_2"


def test_the_schema_comes_from_type_hints_with_descriptions_and_constraints():
    def search(
        query: Annotated[str, Field(description="What to look for")],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
        tags: list[str] | None = None,
    ) -> list[str]:
        """Search things."""
        return []

    tool = build_tool(search, plugin="p")
    props = tool.input_schema["properties"]
    assert tool.input_schema["required"] == ["query"]
    assert props["query"]["description"] == "What to look for"
    assert props["limit"]["maximum"] == 50 and props["limit"]["default"] == 10
    assert tool.input_schema["additionalProperties"] is False
    assert tool.description == "Search things."


def test_var_args_cannot_be_a_tool():
    def bad(*values: int) -> int:
        return 0

    with pytest.raises(PluginError, match=r"\*args"):
        build_tool(bad, plugin="p")


class Clasher:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        def add(x: int) -> int:
            return x

        def unique_tool() -> str:
            return "mine"

        register(add)
        register(unique_tool)


def test_two_plugins_registering_one_name_is_an_error_naming_both(make_host):
    host = make_host(extra={"clasher": Clasher()})
    info = host.infos["clasher"]
    assert "tool name 'add' is registered by both plugin 'sample' and plugin 'clasher'" in info.error
    assert host.tools.get("add").plugin == "sample"
    assert host.tools.get("unique_tool").plugin == "clasher"


def test_a_name_clash_is_fatal_in_strict_mode(make_host):
    with pytest.raises(PluginError, match="both plugin 'sample' and plugin 'clasher'"):
        make_host(extra={"clasher": Clasher()}, strict=True)


async def test_the_recorder_flushes_every_call_on_shutdown(running_host, db_url):
    async with running_host() as host:
        for i in range(250):
            await host.call_tool("add", {"a": i})
    assert len(await recorded(db_url)) == 250


async def test_a_host_without_the_history_plugin_still_serves(config):
    from tests.conftest import sample_plugin

    host = PluginHost(config, entry_points=False, plugins={"sample": sample_plugin()})
    async with host.running():
        assert (await host.call_tool("add", {"a": 1})).result == 1


class Picky:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(lambda: "first", name="first_searcher", capabilities=["search"])
        register(lambda: "second", name="second_searcher", capabilities=["search"])

    @hookimpl
    def choose_tool(self, capability, candidates, user_id):  # type: ignore[no-untyped-def]
        return candidates[-1] if user_id == "picky" else None


def test_choose_tool_asks_the_hook_and_falls_back_to_the_first_registered(config):
    # Without the history plugin, whose preference router would answer for everyone.
    host = PluginHost(config, entry_points=False, plugins={"picky": Picky()}).load()
    assert host.choose_tool("search", user_id="picky").name == "second_searcher"
    assert host.choose_tool("search", user_id="anyone").name == "first_searcher"
    with pytest.raises(UnknownTool, match="no tool declares capability 'teleport'"):
        host.choose_tool("teleport", user_id="x")


async def test_arguments_over_the_size_cap_are_refused_and_recorded_without_the_payload(make_host, db_url):
    from plugyard.core.config import parse_config
    from tests.conftest import query

    cfg = parse_config({"database": {"url": db_url}, "tools": {"max_argument_bytes": 1000}})
    host = make_host(cfg=cfg)
    async with host.running():
        refused = await host.call_tool("login", {"username": "x" * 2000, "password": "p"})
        fine = await host.call_tool("login", {"username": "ada", "password": "p"})
    assert not refused.success and refused.error_type == "InvalidArguments"
    assert "the limit is 1,000 ([tools] max_argument_bytes" in refused.error_message
    assert fine.success
    stored = await query(db_url, "SELECT arguments, success FROM tool_call ORDER BY id")
    assert len(stored) == 2 and "xxxx" not in str(stored[0]["arguments"])


async def test_deeply_nested_arguments_get_a_clear_error_not_a_crash(running_host):
    nested: object = 1
    for _ in range(5000):
        nested = [nested]
    async with running_host() as host:
        outcome = await host.call_tool("add", {"a": nested})
    assert not outcome.success and outcome.error_type == "InvalidArguments"
