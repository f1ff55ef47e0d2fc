"""OpenTelemetry spans for tool calls and workflow runs, following the GenAI semantic conventions.

Off unless ``[telemetry] enabled = true`` in plugins.toml or ``PLUGYARD_TELEMETRY=1``. When off, the host
builds a plain ``ToolPipeline`` and a call pays nothing; when on, it builds a ``TracedToolPipeline``,
whose journey (validation to recorded outcome) runs in an ``execute_tool {tool}`` span. Workflow runs get an
``invoke_workflow {workflow}`` span, with their tool calls' spans nested inside.

plugyard uses only the OpenTelemetry API: spans go to the global tracer provider, which the embedding
application or ``opentelemetry-instrument plugyard serve`` (the SDK and an exporter installed) sets up.
Without one, the spans are no-ops.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from plugyard.core.tools import Tool, ToolPipeline

if TYPE_CHECKING:
    from plugyard.core.calls import ProgressReporter, ToolCall, ToolOutcome
    from plugyard.core.client import ClientChannel

TRACER_NAME = "plugyard"

# The GenAI semantic conventions (development status) for tool execution and workflow invocation.
OPERATION = "gen_ai.operation.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
WORKFLOW_NAME = "gen_ai.workflow.name"
ERROR_TYPE = "error.type"
# plugyard's own.
PLUGIN_NAME = "plugyard.plugin.name"
WORKFLOW_RUN_ID = "plugyard.workflow.run_id"
WORKFLOW_STATUS = "plugyard.workflow.status"
WORKFLOW_STEPS = "plugyard.workflow.steps"
INTENT = "plugyard.intent"


def get_tracer(provider: trace.TracerProvider | None = None) -> Tracer:
    from plugyard import __version__

    return trace.get_tracer(TRACER_NAME, __version__, tracer_provider=provider)


class TracedToolPipeline(ToolPipeline):
    """The same pipeline, each call inside an ``execute_tool {tool}`` span.

    ``tracer`` is public so tests (and embedders) can point it at their own provider.
    """

    def __init__(self, *args: Any, tracer: Tracer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracer = tracer or get_tracer()

    async def _journey(
        self,
        tool: Tool,
        call: ToolCall,
        args: Mapping[str, Any],
        refusal: str | None,
        progress: ProgressReporter | None,
        client: ClientChannel | None,
    ) -> ToolOutcome:
        # An unknown tool is refused before the journey starts (and not recorded): no span either.
        attributes: dict[str, str] = {
            OPERATION: "execute_tool",
            TOOL_NAME: tool.name,
            TOOL_CALL_ID: call.call_id,
            TOOL_TYPE: "function",
            PLUGIN_NAME: tool.plugin,
        }
        if tool.description:
            attributes[TOOL_DESCRIPTION] = tool.description.splitlines()[0]
        if call.workflow_run_id is not None:
            attributes[WORKFLOW_RUN_ID] = call.workflow_run_id
        if call.intent is not None:
            attributes[INTENT] = call.intent
        with self.tracer.start_as_current_span(
            f"execute_tool {tool.name}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            try:
                outcome = await super()._journey(tool, call, args, refusal, progress, client)
            except anyio.get_cancelled_exc_class():
                span.set_attribute(ERROR_TYPE, "cancelled")
                span.set_status(Status(StatusCode.ERROR, "the call was cancelled"))
                raise
            if not outcome.success:
                span.set_attribute(ERROR_TYPE, outcome.error_type or "_OTHER")
                span.set_status(Status(StatusCode.ERROR, outcome.error_message))
        return outcome


def tracer_of(host: Any) -> Tracer | None:
    """The tracer of ``host``'s pipeline when telemetry is on, else None (one attribute read)."""
    pipeline = getattr(host, "pipeline", None)
    return pipeline.tracer if isinstance(pipeline, TracedToolPipeline) else None


@contextmanager
def workflow_span(
    tracer: Tracer, *, workflow: str, plugin: str, run_id: str, intent: str | None
) -> Iterator[trace.Span]:
    """An ``invoke_workflow {workflow}`` span, current while the run goes (its tool calls nest in it)."""
    attributes = {
        OPERATION: "invoke_workflow",
        WORKFLOW_NAME: workflow,
        PLUGIN_NAME: plugin,
        WORKFLOW_RUN_ID: run_id,
    }
    if intent is not None:
        attributes[INTENT] = intent
    with tracer.start_as_current_span(
        f"invoke_workflow {workflow}", kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span


def end_workflow_span(
    span: trace.Span, *, status: str, steps: int, error_type: str | None, message: str | None
) -> None:
    span.set_attribute(WORKFLOW_STATUS, status)
    span.set_attribute(WORKFLOW_STEPS, steps)
    if status != "succeeded":
        span.set_attribute(ERROR_TYPE, error_type or status)
        span.set_status(Status(StatusCode.ERROR, message))


class WorkflowTrace:
    """What a workflow run reports to its span; nothing at all when telemetry is off."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span | None) -> None:
        self._span = span

    def finish(self, *, status: str, steps: int, error_type: str | None, message: str | None) -> None:
        """The run's outcome, once (a later call, or the cancellation below, changes nothing)."""
        if self._span is not None:
            end_workflow_span(self._span, status=status, steps=steps, error_type=error_type, message=message)
            self._span = None


@contextmanager
def workflow_trace(
    host: Any, *, workflow: str, plugin: str, run_id: str, intent: str | None
) -> Iterator[WorkflowTrace]:
    """The run's ``invoke_workflow`` span when ``host``'s telemetry is on; a run cancelled before it
    finished is reported ``interrupted``."""
    tracer = tracer_of(host)
    if tracer is None:
        yield WorkflowTrace(None)
        return
    with workflow_span(tracer, workflow=workflow, plugin=plugin, run_id=run_id, intent=intent) as span:
        run = WorkflowTrace(span)
        try:
            yield run
        except anyio.get_cancelled_exc_class():
            run.finish(status="interrupted", steps=0, error_type="cancelled", message=None)
            raise
