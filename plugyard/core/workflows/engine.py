"""The engine: run a workflow's graph step by step, store its checkpoints, and end it with its outcome.

Each step gets a progress event before it and runs under its timeout; its partial update is validated
into the typed state; a checkpoint (steps, next step, state) is stored after it, so an interrupted run
can be resumed. The run ends ``succeeded``, ``failed`` (a step raised or timed out), ``step_limit`` or
``interrupted`` (cancelled: the checkpoint is kept); the workflow's ``finalize`` runs on all but the
last. A step that stops to ask the client's model ends the round ``input_required`` instead (see
docs/architecture.md, "Input required").
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from pydantic import BaseModel, ValidationError

from plugyard.core import telemetry
from plugyard.core.errors import InputRequired
from plugyard.core.workflows.definition import (
    END,
    INPUT_REQUIRED,
    Branch,
    Graph,
    Status,
    StepSpec,
    Workflow,
    WorkflowRequest,
    WorkflowState,
    build_graph,
)
from plugyard.core.workflows.run import Run, ToolHost

if TYPE_CHECKING:
    from plugyard.core.calls import ProgressReporter

log = logging.getLogger("plugyard.workflows")


class RunStore(Protocol):
    """Where runs and their checkpoints go (``assistant/store.WorkflowStore``)."""

    async def start_run(
        self,
        *,
        run_id: str,
        user_id: str,
        session_id: str | None,
        workflow: str,
        plugin_name: str,
        intent: str | None,
        message: str,
        next_step: str,
        state: dict[str, Any],
    ) -> None: ...
    async def checkpoint(
        self, run_id: str, *, steps: Sequence[dict[str, Any]], next_step: str | None, state: dict[str, Any]
    ) -> None: ...
    async def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        steps: Sequence[dict[str, Any]],
        state: dict[str, Any],
        duration_ms: float,
        next_step: str | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None: ...
    async def get_run(self, run_id: str) -> dict[str, Any] | None: ...


class StepFailed(Exception):
    """Raised inside the engine when a step cannot go on; the run ends ``failed``."""


class StepTimeout(StepFailed):
    """A step ran past its timeout."""


@dataclasses.dataclass(slots=True)
class RunResult:
    run_id: str
    workflow: str
    status: Status
    state: WorkflowState
    steps: list[dict[str, Any]]
    duration_ms: float
    error_type: str | None = None
    error_message: str | None = None


def _apply(state: WorkflowState, updates: Any, step_name: str) -> WorkflowState:
    if updates is None:
        return state
    if isinstance(updates, BaseModel):
        updates = updates.model_dump()
    if not isinstance(updates, Mapping):
        raise StepFailed(f"step {step_name!r} returned {type(updates).__name__}; steps return a dict of updates")
    try:
        return type(state).model_validate({**state.model_dump(), **dict(updates)})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StepFailed(f"step {step_name!r} returned an invalid update: {where}: {first['msg']}") from None


def _following(spec: StepSpec, state: WorkflowState) -> str:
    """The step after ``spec`` for this state: its edge, or its branch's choice among its targets."""
    if not isinstance(spec.next, Branch):
        return spec.next
    chosen = spec.next.router(state)
    if chosen not in spec.next.targets:
        raise StepFailed(f"step {spec.name!r}: its branch chose {chosen!r}, not one of {list(spec.next.targets)}")
    return chosen


async def execute(
    workflow: Workflow,
    *,
    host: ToolHost,
    user_id: str,
    message: str,
    intent: str | None = None,
    session_id: str | None = None,
    plugin: str = "?",
    store: RunStore | None = None,
    progress: ProgressReporter | None = None,
    run_id: str | None = None,
    resume: dict[str, Any] | None = None,
    max_steps: int | None = None,
    step_timeout: float | None = None,
    request: WorkflowRequest | None = None,
) -> RunResult:
    """Run ``workflow`` to its end (or resume a stored run: pass its row as ``resume``). ``request``
    is what the caller read from the message; it starts the state (a resumed run keeps its own).

    With telemetry on, the run is an ``invoke_workflow {name}`` span and its tool calls nest inside."""
    run_id = str(resume["run_id"]) if resume is not None else (run_id or uuid.uuid4().hex)
    with telemetry.workflow_trace(host, workflow=workflow.name, plugin=plugin, run_id=run_id, intent=intent) as trace:
        graph = build_graph(workflow, plugin)
        run = Run(
            host=host,
            run_id=run_id,
            user_id=user_id,
            session_id=session_id,
            intent=intent,
            workflow=workflow.name,
            progress=progress,
        )
        execution = _Execution(
            workflow,
            graph,
            run,
            message=message,
            trace=trace,
            store=store,
            resume=resume,
            limit=max_steps or workflow.max_steps,
            step_timeout=step_timeout,
            request=request,
        )
        if resume is None:
            await execution.start(message, plugin)
        try:
            await execution.run_steps()
        except anyio.get_cancelled_exc_class():
            await execution.interrupted()
            raise
        return await execution.finish()


class _Execution:
    """One run of a workflow under way: its state, the steps done, the step it stands at, its outcome."""

    def __init__(
        self,
        workflow: Workflow,
        graph: Graph,
        run: Run,
        *,
        message: str,
        trace: telemetry.WorkflowTrace,
        store: RunStore | None,
        resume: Mapping[str, Any] | None,
        limit: int,
        step_timeout: float | None,
        request: WorkflowRequest | None = None,
    ) -> None:
        self.workflow, self.graph, self.run, self.trace, self.store = workflow, graph, run, trace, store
        self.resume = resume
        self.limit = limit
        self.step_timeout = step_timeout
        self.started = time.perf_counter()
        self.state: WorkflowState
        self.steps: list[dict[str, Any]]
        self.current: str
        if resume is not None:
            self.state = workflow.State.model_validate(resume["state"] or {})
            self.steps = list(resume["steps"] or [])
            self.current = resume["next_step"] or END
            self.prior_ms = float(resume.get("duration_ms") or 0.0)
        else:
            self.state = workflow.initial_state(message, run.intent)
            if request is not None:
                self.state = self.state.model_copy(update={"request": request})
            self.steps = []
            self.current = graph.start
            self.prior_ms = 0.0
        self.status: Status = "succeeded"
        self.error_type: str | None = None
        self.error_message: str | None = None

    def duration_ms(self) -> float:
        return self.prior_ms + (time.perf_counter() - self.started) * 1000.0

    async def start(self, message: str, plugin: str) -> None:
        """A fresh run's row."""
        run = self.run
        if self.store is not None:
            await self.store.start_run(
                run_id=run.run_id,
                user_id=run.user_id,
                session_id=run.session_id,
                workflow=self.workflow.name,
                plugin_name=plugin,
                intent=run.intent,
                message=message,
                next_step=self.current,
                state=self.state.model_dump(mode="json"),
            )

    async def run_steps(self) -> None:
        """Step until the end, a failed step or the step limit."""
        while self.current != END:
            if len(self.steps) >= self.limit:
                self.status, self.error_type = "step_limit", "StepLimit"
                self.error_message = (
                    f"workflow {self.workflow.name!r} stopped after {self.limit} steps (at step {self.current!r})"
                )
                return
            following = await self._step(self.graph.steps[self.current])
            if following is None:
                return
            self.current = following
            if self.store is not None:
                await self.store.checkpoint(
                    self.run.run_id,
                    steps=self.steps,
                    next_step=None if following == END else following,
                    state=self.state.model_dump(mode="json"),
                )

    async def _step(self, spec: StepSpec) -> str | None:
        """Run one step; the step after it, or None when it failed (the run then ends ``failed``)."""
        run, name = self.run, self.workflow.name
        run.begin_step(len(self.steps) + 1)
        await run.progress(f"{name}: {spec.name}")
        record: dict[str, Any] = {"name": spec.name, "tools": run.calls}
        step_started = time.perf_counter()
        try:
            following = await self._advance(spec)
        except anyio.get_cancelled_exc_class():
            raise
        except InputRequired as exc:
            # Not a failure: the round stops, and the client's retry runs the workflow again.
            self._done(record, step_started, exc)
            log.info("workflow %r run %s: step %r waits for the client's model", name, run.run_id, spec.name)
            await self.waits_for_client(spec.name, exc)
            raise
        except Exception as exc:  # noqa: BLE001 - a step is plugin code: what it raises ends the run `failed`
            self._done(record, step_started, exc)
            self.status, self.error_type = "failed", type(exc).__name__
            self.error_message = str(exc) or type(exc).__name__
            log.info("workflow %r run %s: step %r failed: %s", name, run.run_id, spec.name, self.error_message)
            self.current = END
            return None
        self._done(record, step_started)
        return following

    async def _advance(self, spec: StepSpec) -> str:
        timeout = spec.timeout or self.step_timeout or self.workflow.step_timeout
        with anyio.move_on_after(timeout) as scope:
            updates = await getattr(self.workflow, spec.name)(self.state, self.run)
        if scope.cancelled_caught:
            raise StepTimeout(
                f"step {spec.name!r} of workflow {self.workflow.name!r} did not finish within {timeout:g} s"
            )
        self.state = _apply(self.state, updates, spec.name)
        return _following(spec, self.state)

    def _done(self, record: dict[str, Any], step_started: float, error: BaseException | None = None) -> None:
        record["duration_ms"] = (time.perf_counter() - step_started) * 1000.0
        if error is not None:
            record["error"] = _describe(error)
        self.steps.append(record)

    async def waits_for_client(self, next_step: str | None, exc: InputRequired) -> None:
        await record_input_required(
            self.store,
            self.run.run_id,
            resume=self.resume,
            steps=self.steps,
            state=self.state.model_dump(mode="json"),
            next_step=next_step,
            duration_ms=self.duration_ms(),
            error=exc,
        )
        self.trace.finish(status=INPUT_REQUIRED, steps=0, error_type=type(exc).__name__, message=str(exc))

    async def interrupted(self) -> None:
        """Cancelled (the client cancelled, the server stops): keep the checkpoint for a resume."""
        if self.store is None:
            return
        with anyio.CancelScope(shield=True):
            await self.store.finish_run(
                self.run.run_id,
                status="interrupted",
                steps=self.steps,
                state=self.state.model_dump(mode="json"),
                next_step=self.current if self.current != END else None,
                duration_ms=self.duration_ms(),
            )

    async def finish(self) -> RunResult:
        """``finalize``, then the run's row and its result."""
        try:
            self.state = await _finalize(self.workflow, self.state, self.status, self.run)
        except InputRequired as exc:
            await self.waits_for_client(None, exc)
            raise
        duration = self.duration_ms()
        if self.store is not None:
            await self.store.finish_run(
                self.run.run_id,
                status=self.status,
                steps=self.steps,
                state=self.state.model_dump(mode="json"),
                duration_ms=duration,
                next_step=self.current if self.status == "step_limit" else None,
                error_type=self.error_type,
                error_message=self.error_message,
            )
        result = RunResult(
            run_id=self.run.run_id,
            workflow=self.workflow.name,
            status=self.status,
            state=self.state,
            steps=self.steps,
            duration_ms=duration,
            error_type=self.error_type,
            error_message=self.error_message,
        )
        self.trace.finish(
            status=result.status, steps=len(result.steps), error_type=result.error_type, message=result.error_message
        )
        return result


async def _finalize(workflow: Workflow, state: WorkflowState, status: Status, run: Run) -> WorkflowState:
    run.calls = []
    try:
        result = workflow.finalize(state, status, run)
        updates = await result if isinstance(result, Awaitable) else result
        return _apply(state, updates, "finalize")
    except (anyio.get_cancelled_exc_class(), InputRequired):
        raise
    except Exception:
        log.exception("finalize of workflow %r failed; the run keeps its state", workflow.name)
        return state


async def record_input_required(
    store: RunStore | None,
    run_id: str,
    *,
    resume: Mapping[str, Any] | None,
    steps: Sequence[dict[str, Any]],
    state: dict[str, Any],
    next_step: str | None,
    duration_ms: float,
    error: BaseException,
) -> None:
    """A round of ``run_id`` stopped to ask the client's model (``InputRequired``); the retry runs again.

    A fresh run's row ends ``input_required`` with the checkpoint it reached (for reading: the retry
    is a new run, and ``resume_workflow`` does not take these). A resumed run's row (``resume``) is
    put back exactly as it was before this round, so the retry resumes from the same checkpoint and
    asks the same questions in the same order."""
    if store is None:
        return
    if resume is None:
        await store.finish_run(
            run_id,
            status=INPUT_REQUIRED,
            steps=steps,
            state=state,
            duration_ms=duration_ms,
            next_step=next_step,
            error_type=type(error).__name__,
            error_message="stopped to ask the client's model; the client's retry runs the workflow again as a new run",
        )
        return
    await store.finish_run(
        run_id,
        status=str(resume["status"]),
        steps=list(resume["steps"] or []),
        state=dict(resume["state"] or {}),
        duration_ms=float(resume.get("duration_ms") or 0.0),
        next_step=resume["next_step"],
        error_type=resume.get("error_type"),
        error_message=resume.get("error_message"),
    )


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
