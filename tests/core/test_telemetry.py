"""OpenTelemetry: tool calls and workflow runs as GenAI-convention spans, only when configured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK (the [test] extra) records spans in tests")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from plugyard import Run, Workflow, WorkflowState, hookimpl, step
from plugyard.core.config import Config, load_config, parse_config
from plugyard.core.errors import ConfigError, UnknownTool
from plugyard.core.host import PluginHost
from plugyard.core.telemetry import TracedToolPipeline, get_tracer
from plugyard.core.tools import ToolPipeline
from plugyard.core.workflows import execute
from tests.conftest import sample_plugin

pytestmark = pytest.mark.anyio


class Total(WorkflowState):
    n: int = 0


class Adds(Workflow):
    name = "Adds"
    State = Total

    @step(start=True, next="again")
    async def first(self, state: Total, run: Run) -> dict[str, Any]:
        return {"n": await run.call("adding", {"a": 2, "b": 3})}

    @step
    async def again(self, state: Total, run: Run) -> dict[str, Any]:
        return {"n": await run.call("adding", {"a": state.n, "b": 1})}


class Breaks(Adds):
    name = "Breaks"

    @step
    async def again(self, state: Total, run: Run) -> dict[str, Any]:
        raise RuntimeError("the second step broke")


def adder(a: int, b: int = 0) -> int:
    """Adds two numbers.

    More words that are not the summary."""
    return a + b


class Tools:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(adder, capabilities=["adding"])


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def make_host(tmp_path: Path, exporter: InMemorySpanExporter) -> Iterator[Callable[..., PluginHost]]:
    """A host with the sample plugin and an adder, its tracer pointed at an in-memory exporter."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    def make(*, enabled: bool = True) -> PluginHost:
        config = parse_config(
            {"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"}, "telemetry": {"enabled": enabled}}
        )
        host = PluginHost(config, entry_points=False, plugins={"sample": sample_plugin(), "tools": Tools()}).load()
        if isinstance(host.pipeline, TracedToolPipeline):
            host.pipeline.tracer = get_tracer(provider)
        return host

    yield make
    provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


async def test_telemetry_is_off_by_default_and_the_pipeline_is_the_plain_one(make_host, exporter):
    host = make_host(enabled=False)
    assert type(host.pipeline) is ToolPipeline
    async with host.running():
        assert (await host.call_tool("add", {"a": 1, "b": 2})).success
        await execute(Adds(), host=host, user_id="ada", message="go", plugin="tests")
    assert exporter.get_finished_spans() == ()


async def test_a_successful_call_is_an_execute_tool_span_with_the_genai_attributes(make_host, exporter):
    host = make_host()
    async with host.running():
        outcome = await host.call_tool("adder", {"a": 1, "b": 2}, user_id="ada")
    [span] = exporter.get_finished_spans()
    assert span.name == "execute_tool adder"
    assert span.kind is SpanKind.INTERNAL
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "adder",
        "gen_ai.tool.call.id": outcome.call.call_id,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Adds two numbers.",
        "plugyard.plugin.name": "tools",
    }
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    ("tool", "arguments", "error_type"),
    [("explode", {"message": "disk on fire"}, "RuntimeError"), ("add", {"a": "two"}, "InvalidArguments")],
)
async def test_a_failed_call_carries_its_error_type_and_an_error_status(
    make_host, exporter, tool, arguments, error_type
):
    host = make_host()
    async with host.running():
        outcome = await host.call_tool(tool, arguments)
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == outcome.error_type == error_type
    assert span.attributes["plugyard.plugin.name"] == "sample"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == outcome.error_message


async def test_an_unknown_tool_makes_no_span(make_host, exporter):
    host = make_host()
    async with host.running():
        with pytest.raises(UnknownTool):
            await host.call_tool("nope", {})
    assert exporter.get_finished_spans() == ()


async def test_a_workflow_run_is_one_span_with_its_tool_calls_nested_inside(make_host, exporter):
    host = make_host()
    async with host.running():
        result = await execute(Adds(), host=host, user_id="ada", message="go", plugin="tests", intent="quick_task")
    assert result.status == "succeeded" and result.state.n == 6
    spans = exporter.get_finished_spans()
    [run_span] = [s for s in spans if s.name == "invoke_workflow Adds"]
    calls = [s for s in spans if s.name == "execute_tool adder"]
    assert len(calls) == 2 and len(spans) == 3
    assert run_span.context is not None
    for call in calls:
        assert call.parent is not None and call.parent.span_id == run_span.context.span_id
        assert call.context is not None and call.context.trace_id == run_span.context.trace_id
        assert call.attributes is not None and call.attributes["plugyard.workflow.run_id"] == result.run_id
    assert dict(run_span.attributes or {}) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "Adds",
        "plugyard.plugin.name": "tests",
        "plugyard.workflow.run_id": result.run_id,
        "plugyard.intent": "quick_task",
        "plugyard.workflow.status": "succeeded",
        "plugyard.workflow.steps": 2,
    }
    assert run_span.status.status_code is StatusCode.UNSET


async def test_a_failed_workflow_run_has_an_error_type_and_status(make_host, exporter):
    host = make_host()
    async with host.running():
        result = await execute(Breaks(), host=host, user_id="ada", message="go", plugin="tests")
    assert result.status == "failed"
    span = by_name(exporter)["invoke_workflow Breaks"]
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["plugyard.workflow.status"] == "failed"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "the second step broke"


def test_telemetry_is_switched_on_in_plugins_toml_or_the_environment(tmp_path, monkeypatch):
    assert not Config().telemetry.enabled
    toml = tmp_path / "plugins.toml"
    toml.write_text("[telemetry]\nenabled = true\n")
    assert load_config(toml).telemetry.enabled
    monkeypatch.setenv("PLUGYARD_TELEMETRY", "0")
    assert not load_config(toml).telemetry.enabled
    monkeypatch.setenv("PLUGYARD_TELEMETRY", "1")
    assert load_config(None).telemetry.enabled


def test_an_unknown_telemetry_key_is_a_configuration_error():
    with pytest.raises(ConfigError, match=r"\[telemetry\] endpoint: unknown key"):
        parse_config({"telemetry": {"endpoint": "http://x"}})
