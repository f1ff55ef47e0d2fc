"""The stdio lane (lane.py): handshake-era tools/call lines answered past the SDK's session, and only those."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types.methods import serialize_server_result

import plugyard
from plugyard.mcp_server.lane import StdioLane
from plugyard.mcp_server.server import CALL_ID_META, PlugyardServer
from tests.mcp_server import feature_plugin

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def call(request_id: int | str, name: str, arguments: dict[str, Any] | None = None, **params: Any) -> bytes:
    return line(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, **params}}
        | ({"params": {"name": name, "arguments": arguments, **params}} if arguments is not None else {})
    )


class Lane:
    """A lane over a real host, its written lines kept."""

    def __init__(self, server: PlugyardServer, tasks: anyio.abc.TaskGroup) -> None:
        self.written: list[dict[str, Any]] = []

        async def write_line(text: str) -> None:
            self.written.append(json.loads(text))

        self.lane = StdioLane(server, write_line, tasks)

    def open(self, initialize: dict[str, Any] = INITIALIZE) -> None:
        assert not self.lane.take(line(initialize))  # the SDK answers the handshake; the lane watches it
        assert not self.lane.take(line(INITIALIZED))

    async def answer(self, request_id: int | str) -> dict[str, Any]:
        with anyio.fail_after(10):
            while not any(m.get("id") == request_id and "method" not in m for m in self.written):
                await anyio.sleep(0.005)
        [answer] = [m for m in self.written if m.get("id") == request_id and "method" not in m]
        return answer


def _without_call_id(result: dict[str, Any]) -> dict[str, Any]:
    meta = dict(result.get("_meta") or {})
    meta.pop(CALL_ID_META)
    return {k: v for k, v in result.items() if k != "_meta"} | ({"_meta": meta} if meta else {})


@pytest.mark.parametrize(
    ("tool", "arguments"), [("weather", {"city": "Oslo"}), ("mixed", {}), ("report", {"city": "Rome"})]
)
async def test_a_call_on_the_lane_answers_what_the_sdk_path_answers_and_is_recorded(
    plugyard_host, plugyard_history, tool, arguments
):
    server = PlugyardServer(plugyard_host)
    async with Client(server, mode="legacy") as client:
        parsed = (await client.call_tool(tool, arguments)).model_dump(mode="json", by_alias=True, exclude_none=True)
    expected = serialize_server_result("tools/call", "2025-11-25", parsed)  # the wire form (no resultType)
    async with anyio.create_task_group() as tasks:
        lane = Lane(server, tasks)
        lane.open()
        assert lane.lane.take(call(7, tool, arguments))
        answer = await lane.answer(7)
    assert answer["jsonrpc"] == "2.0" and "error" not in answer
    assert _without_call_id(answer["result"]) == _without_call_id(expected)
    rows = await plugyard_history.calls(tool_name=tool)
    assert len(rows) == 2 and all(r["success"] for r in rows)
    assert rows[-1]["call_id"] == answer["result"]["_meta"][CALL_ID_META]


@pytest.mark.parametrize(
    ("initialize", "request_line"),
    [
        (INITIALIZE | {"params": INITIALIZE["params"] | {"capabilities": {"sampling": {}}}}, call(1, "weather", {})),
        (INITIALIZE | {"params": INITIALIZE["params"] | {"capabilities": {"elicitation": {}}}}, call(1, "weather", {})),
        (INITIALIZE | {"params": INITIALIZE["params"] | {"protocolVersion": "2025-03-26"}}, call(1, "weather", {})),
        (INITIALIZE, call(1, "no_such_tool", {})),
        (INITIALIZE, call(1, "weather", {}, _meta={"progressToken": 1, "other": 2})),
        (INITIALIZE, call(True, "weather", {})),
        (INITIALIZE, call(1, "weather", arguments=None, arguments_=1)),
        (
            INITIALIZE,
            b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "weather", "arguments": [1]}}',
        ),
        (INITIALIZE, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": '),
    ],
    ids=[
        "sampling",
        "elicitation",
        "old-version",
        "unknown-tool",
        "other-meta",
        "bool-id",
        "odd-param",
        "odd-args",
        "cut",
    ],
)
async def test_what_the_lane_leaves_to_the_sdk(plugyard_host, initialize, request_line):
    async with anyio.create_task_group() as tasks:
        lane = Lane(PlugyardServer(plugyard_host), tasks)
        lane.open(initialize)
        assert not lane.lane.take(request_line)
    assert lane.written == []


async def test_nothing_is_taken_before_the_client_says_initialized(plugyard_host):
    async with anyio.create_task_group() as tasks:
        lane = Lane(PlugyardServer(plugyard_host), tasks)
        assert not lane.lane.take(call(1, "weather", {"city": "Oslo"}))
        assert not lane.lane.take(line(INITIALIZE))
        assert not lane.lane.take(call(2, "weather", {"city": "Oslo"}))
        assert not lane.lane.take(line(INITIALIZED))
        assert lane.lane.take(call(3, "weather", {"city": "Oslo"}))
        await lane.answer(3)


async def test_progress_and_log_messages_at_the_level_the_client_set(plugyard_host):
    async with anyio.create_task_group() as tasks:
        lane = Lane(PlugyardServer(plugyard_host), tasks)
        lane.open()
        set_level = {"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": {"level": "info"}}
        assert not lane.lane.take(line(set_level))  # the SDK answers it; the lane keeps the level
        assert lane.lane.take(call("c", "chatty", {"steps": 2}, _meta={"progressToken": "tok"}))
        answer = await lane.answer("c")
    assert answer["result"]["content"][0]["text"] == "done"
    notes = [(m["method"], m["params"]) for m in lane.written if "method" in m]
    assert notes == [
        ("notifications/progress", {"progressToken": "tok", "progress": 1, "total": 2, "message": "step 1"}),
        ("notifications/message", {"level": "info", "data": "did step 1", "logger": "feature"}),
        ("notifications/progress", {"progressToken": "tok", "progress": 2, "total": 2, "message": "step 2"}),
        ("notifications/message", {"level": "info", "data": "did step 2", "logger": "feature"}),
    ]  # the debug line is below the level set


async def test_a_tool_that_asks_the_client_gets_the_clear_error_the_sdk_path_gives(plugyard_host, plugyard_history):
    async with anyio.create_task_group() as tasks:
        lane = Lane(PlugyardServer(plugyard_host), tasks)
        lane.open()
        assert lane.lane.take(call(4, "haiku", {"topic": "frogs"}))
        answer = await lane.answer(4)
    assert (
        answer["result"]["isError"]
        and "did not declare the sampling capability" in answer["result"]["content"][0]["text"]
    )
    assert (await plugyard_history.last())["error_type"] == "ClientFeatureUnavailable"


async def test_a_call_cancelled_by_its_client_is_recorded_and_never_answered(plugyard_host, plugyard_history):
    async with anyio.create_task_group() as tasks:
        lane = Lane(PlugyardServer(plugyard_host), tasks)
        lane.open()
        assert lane.lane.take(call(5, "slow", {"seconds": 30}))
        with anyio.fail_after(10):
            while not SLOW_STARTED:
                await anyio.sleep(0.005)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}
        assert not lane.lane.take(line(cancel | {"params": {"requestId": "5"}}))  # not a call the lane runs
        assert lane.lane.take(line(cancel))
        with anyio.fail_after(10):
            while not (rows := await plugyard_history.calls(tool_name="slow")):
                await anyio.sleep(0.01)
        assert lane.lane.take(call(5, "weather", {"city": "Oslo"}))  # the id is free again
        answer = await lane.answer(5)
    assert rows[0]["error_type"] == "Cancelled"
    assert [m for m in lane.written if m.get("id") == 5] == [answer] and "content" in answer["result"]


SLOW_STARTED: list[bool] = []


class SlowPlugin:
    @plugyard.hookimpl
    def register_tools(self, register):
        async def slow(seconds: float) -> str:
            SLOW_STARTED.append(True)
            await anyio.sleep(seconds)
            return "slept"

        register(slow)


@pytest.fixture
def plugyard_plugins() -> dict[str, object]:
    SLOW_STARTED.clear()
    return {"feature": feature_plugin, "slowpoke": SlowPlugin()}


async def test_with_the_lanes_closed_every_line_goes_to_the_sdk(plugyard_host):
    server = PlugyardServer(plugyard_host)
    server.lanes_open = False  # as with telemetry on: the SDK's span per request is wanted
    async with anyio.create_task_group() as tasks:
        lane = Lane(server, tasks)
        lane.open()
        assert not lane.lane.take(call(1, "weather", {"city": "Oslo"}))
    assert lane.written == []
