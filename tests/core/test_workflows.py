"""The workflow engine: edges, limits, failures, timeouts, checkpoints, resume, recorded tool calls."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from pydantic import Field

from plugyard import END, PluginError, Run, Workflow, WorkflowState, branch, hookimpl, step
from plugyard.assistant.store import WorkflowStore
from plugyard.core.workflows import build_graph, execute
from tests.conftest import query

pytestmark = pytest.mark.anyio


class Counter(WorkflowState):
    n: int = 0
    path: list[str] = Field(default_factory=list)
    finalized: str | None = None


class Loop(Workflow):
    """Counts to 3 through a conditional edge back to itself, then says done."""

    name = "Loop"
    intents = ("task_decomposition",)
    State = Counter

    @step(start=True, next=branch(lambda s: "tick" if s.n < 3 else "done", "tick", "done"))
    async def tick(self, state: Counter, run: Run) -> dict[str, Any]:
        return {"n": state.n + 1, "path": [*state.path, "tick"]}

    @step
    async def done(self, state: Counter, run: Run) -> dict[str, Any]:
        return {"path": [*state.path, "done"]}

    async def finalize(self, state: Counter, status: str, run: Run) -> dict[str, Any]:
        return {"finalized": status}


class Forever(Loop):
    name = "Forever"

    @step(start=True, next=branch(lambda s: "tick", "tick", "done"))
    async def tick(self, state: Counter, run: Run) -> dict[str, Any]:
        return {"n": state.n + 1}


class Raises(Workflow):
    name = "Raises"
    State = Counter

    @step(start=True, next="boom")
    async def first(self, state: Counter, run: Run) -> dict[str, Any]:
        return {"n": 1}

    @step
    async def boom(self, state: Counter, run: Run) -> dict[str, Any]:
        raise RuntimeError("the step broke")

    async def finalize(self, state: Counter, status: str, run: Run) -> dict[str, Any]:
        return {"finalized": status}


class Slow(Raises):
    name = "Slow"

    @step(timeout=0.05)
    async def boom(self, state: Counter, run: Run) -> dict[str, Any]:
        await anyio.sleep(5)
        return {}


class UsesTools(Workflow):
    name = "UsesTools"
    State = Counter

    @step(start=True)
    async def add(self, state: Counter, run: Run) -> dict[str, Any]:
        total = await run.call("adding", {"a": 2, "b": 3})
        missing = await run.call("no_such_capability", {}, required=False)
        assert missing is None
        return {"n": total}


def adder(a: int, b: int = 0) -> int:
    """Adds."""
    return a + b


class Tools:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(adder, capabilities=["adding"])


async def run(workflow: Workflow, host: Any, **kwargs: Any) -> Any:
    return await execute(workflow, host=host, user_id="ada", message="go", plugin="tests", **kwargs)


async def test_conditional_edges_loop_until_the_router_moves_on(running_host):
    async with running_host() as host:
        result = await run(Loop(), host)
    assert result.status == "succeeded"
    assert [s["name"] for s in result.steps] == ["tick", "tick", "tick", "done"]
    assert result.state.path == ["tick", "tick", "tick", "done"]
    assert result.state.finalized == "succeeded"


async def test_the_step_limit_stops_a_run_and_the_finaliser_still_runs(running_host):
    async with running_host() as host:
        result = await run(Forever(), host, max_steps=5)
    assert result.status == "step_limit"
    assert len(result.steps) == 5 and result.state.n == 5
    assert result.state.finalized == "step_limit"
    assert "stopped after 5 steps" in (result.error_message or "")


async def test_a_step_that_raises_fails_the_run_with_its_error_and_finalises(running_host):
    async with running_host() as host:
        result = await run(Raises(), host)
    assert result.status == "failed"
    assert result.error_type == "RuntimeError" and result.error_message == "the step broke"
    assert result.steps[-1]["error"] == "RuntimeError: the step broke"
    assert result.state.n == 1 and result.state.finalized == "failed"


async def test_a_step_past_its_timeout_fails_the_run(running_host):
    async with running_host() as host:
        result = await run(Slow(), host)
    assert result.status == "failed" and result.error_type == "StepTimeout"
    assert "did not finish within 0.05 s" in (result.error_message or "")
    assert result.state.finalized == "failed"


async def test_an_invalid_update_fails_the_step_naming_the_field(running_host):
    class Bad(Workflow):
        name = "Bad"
        State = Counter

        @step(start=True)
        async def only(self, state: Counter, run: Run) -> dict[str, Any]:
            return {"nope": 1}

    async with running_host() as host:
        result = await run(Bad(), host)
    assert result.status == "failed" and "step 'only' returned an invalid update: nope" in result.error_message


def test_graphs_are_checked_when_built():
    class UnknownTarget(Workflow):
        name = "UnknownTarget"

        @step(start=True, next="nowhere")
        async def a(self, state: WorkflowState, run: Run) -> None:
            return None

    class Unreachable(Workflow):
        name = "Unreachable"

        @step(start=True)
        async def a(self, state: WorkflowState, run: Run) -> None:
            return None

        @step
        async def island(self, state: WorkflowState, run: Run) -> None:
            return None

    class BadBranch(Workflow):
        name = "BadBranch"

        @step(start=True, next=branch(lambda s: END, END, "ghost"))
        async def a(self, state: WorkflowState, run: Run) -> None:
            return None

    with pytest.raises(PluginError, match=r"step 'a' leads to unknown step\(s\) \['nowhere'\]"):
        build_graph(UnknownTarget())
    with pytest.raises(PluginError, match=r"step\(s\) \['island'\] can never run"):
        build_graph(Unreachable())
    with pytest.raises(PluginError, match="unknown step"):
        build_graph(BadBranch())
    assert build_graph(Loop()).start == "tick"


async def test_a_plugin_registering_an_invalid_workflow_is_reported_and_skipped(make_host):
    class Unreachable(Workflow):
        name = "Unreachable"

        @step(start=True)
        async def a(self, state: WorkflowState, run: Run) -> None:
            return None

        @step
        async def island(self, state: WorkflowState, run: Run) -> None:
            return None

    class Broken:
        @hookimpl
        def register_workflows(self, register):  # type: ignore[no-untyped-def]
            register(Unreachable)

    host = make_host(extra={"broken": Broken()})
    assert host.infos["broken"].status == "failed"
    assert "['island'] can never run" in host.infos["broken"].error
    assert host.workflows == []


async def test_steps_call_tools_by_capability_and_the_calls_carry_the_run_id(running_host, db_url):
    async with running_host(extra={"tools": Tools()}) as host:
        result = await run(UsesTools(), host, intent="quick_task")
    assert result.state.n == 5
    [call] = [c for c in result.steps[0]["tools"] if c["tool"]]
    assert call == {
        "capability": "adding",
        "tool": "adder",
        "plugin": "tools",
        "call_id": call["call_id"],
        "success": True,
        "error": None,
    }
    rows = await query(db_url, "SELECT tool_name, workflow_run_id, intent, user_id FROM tool_call")
    assert rows == [{"tool_name": "adder", "workflow_run_id": result.run_id, "intent": "quick_task", "user_id": "ada"}]


async def test_every_step_is_checkpointed_and_an_interrupted_run_resumes(running_host, db_url):
    store = await WorkflowStore.open(db_url)
    gate = anyio.Event()

    class Interrupted(Loop):
        name = "Interrupted"

        @step
        async def done(self, state: Counter, run: Run) -> dict[str, Any]:
            if not gate.is_set():
                await anyio.sleep(60)  # cancelled from outside: the server stops mid-step
            return {"path": [*state.path, "done"]}

    try:
        async with running_host() as host:
            async with anyio.create_task_group() as tg:

                async def go() -> None:
                    await run(Interrupted(), host, store=store, run_id="run-1")

                tg.start_soon(go)
                while not (await query(db_url, "SELECT step_count FROM workflow_run WHERE step_count = 3")):
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            row = await store.get_run("run-1")
            assert row is not None
            assert row["status"] == "interrupted" and row["next_step"] == "done" and row["state"]["n"] == 3
            gate.set()
            result = await execute(Interrupted(), host=host, user_id="ada", message="go", store=store, resume=row)
        assert result.status == "succeeded" and result.state.path == ["tick", "tick", "tick", "done"]
        [stored] = await query(db_url, "SELECT status, step_count, next_step FROM workflow_run WHERE run_id = 'run-1'")
        assert stored == {"status": "succeeded", "step_count": 4, "next_step": None}
    finally:
        await store.close()


async def test_progress_events_name_each_step(running_host):
    seen: list[tuple[float, str | None]] = []

    async def progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((p, message))

    async with running_host() as host:
        await run(Loop(), host, progress=progress)
    assert seen == [(1, "Loop: tick"), (2, "Loop: tick"), (3, "Loop: tick"), (4, "Loop: done")]
