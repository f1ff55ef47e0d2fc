"""Workflows: small state graphs the host runs for intents that need collaboration.

A workflow is a class with a typed state (a ``WorkflowState`` subclass) and named async steps::

    class Diagnose(Workflow):
        name = "Diagnose"
        intents = ("error_diagnosis",)
        State = DiagnoseState

        @step(start=True, next=branch(lambda s: "search" if s.query else END, "search", END))
        async def parse(self, state: DiagnoseState, run: Run) -> dict[str, Any]:
            parsed = await run.call("diagnose_error", {"text": state.message})
            return {"error": parsed["exception_type"], "query": parsed["message"]}

        @step
        async def search(self, state: DiagnoseState, run: Run) -> dict[str, Any]: ...

A step returns a partial update of the state (a dict, or None). ``next`` is the step that follows:
a name, ``END`` (the default), or ``branch(router, *targets)`` whose router picks one of its declared
targets from the state. The graph is checked when the workflow registers: one start step, known
targets only, every step reachable. The engine runs it with a step limit, a per-step timeout,
a progress event before each step, a checkpoint after each (so an interrupted run can be resumed)
and the workflow's ``finalize`` on success, failure and step limit alike.

A step that asks the client's model on a 2026-07-28 MCP session (``run.ask``/``run.complete``
reaching MCP sampling) may raise ``InputRequired``: the answer comes with the client's retry of the
tool call, which runs the tool, and so the workflow, again from the start. That is not a failed
step: the engine stops the run, leaves its row ``input_required`` with the checkpoint it reached
(steps done, including the one that asked, ``next_step`` the step that asked, the state), for
reading only, and lets the exception through. The retry is a new run that asks the same questions
in the same order and finds the answers (so a step must word its questions from the state alone).
Tools the interrupted round's steps called were real calls: their ``tool_call`` rows stay, carrying
the interrupted run's id. A resumed run (``resume=row``) that stops to ask is put back as it was,
so the retry resumes from the same checkpoint.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, overload

import anyio
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plugyard.core import llm, telemetry
from plugyard.core.errors import InputRequired, PluginError, ToolCallError, UnknownTool

if TYPE_CHECKING:
    from plugyard.core.calls import ProgressReporter, ToolOutcome
    from plugyard.core.tools import Tool

log = logging.getLogger("plugyard.workflows")

END = "__end__"
DEFAULT_MAX_STEPS = 20
DEFAULT_STEP_TIMEOUT = 30.0

Status = Literal["succeeded", "failed", "step_limit", "interrupted"]
INPUT_REQUIRED = "input_required"
"""The stored status of a run whose round stopped to ask the client's model (2026-07-28 sampling)."""
M = TypeVar("M", bound=BaseModel)


class WorkflowRequest(BaseModel):
    """What the caller read from the message or was given (the assistant fills it): the subject, what
    the learner wants done, by when, at what level, in which language, and the day it counts from."""

    model_config = ConfigDict(extra="forbid")

    topic: str = ""
    goal: str = ""
    deadline: date | None = None
    level: Literal["beginner", "intermediate", "advanced"] | None = None
    language: Literal["en", "zh"] = "en"
    today: date | None = None


class WorkflowState(BaseModel):
    """The base of every workflow's state. Subclasses add typed fields with defaults."""

    model_config = ConfigDict(extra="forbid")

    message: str = ""
    intent: str | None = None
    request: WorkflowRequest = Field(default_factory=WorkflowRequest)
    """The request as read by the caller (empty fields when nothing was read)."""
    cards: list[dict[str, Any]] = Field(default_factory=list)
    """Action cards the workflow proposes (validated by the host after the run)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Branch:
    """A conditional edge: ``router(state)`` returns one of ``targets`` (a step name or END)."""

    router: Callable[[Any], str]
    targets: tuple[str, ...]


def branch(router: Callable[[Any], str], *targets: str) -> Branch:
    if not targets:
        raise ValueError("branch() needs the targets its router may return")
    return Branch(router, tuple(targets))


@dataclasses.dataclass(frozen=True, slots=True)
class StepSpec:
    name: str
    next: str | Branch
    start: bool
    timeout: float | None


F = TypeVar("F", bound=Callable[..., Any])


@overload
def step(fn: F, /) -> F: ...


@overload
def step(*, next: str | Branch = END, start: bool = False, timeout: float | None = None) -> Callable[[F], F]: ...


def step(
    fn: F | None = None, /, *, next: str | Branch = END, start: bool = False, timeout: float | None = None
) -> F | Callable[[F], F]:
    """Mark a workflow method as a step; ``next`` is what follows it (default: the end)."""

    def mark(f: F) -> F:
        if not inspect.iscoroutinefunction(f):
            raise TypeError(f"step {f.__name__!r} must be an async function")
        f._plugyard_step = StepSpec(name=f.__name__, next=next, start=start, timeout=timeout)  # type: ignore[attr-defined]
        return f

    return mark(fn) if fn is not None else mark


class WorkflowDefinitionError(PluginError):
    """A workflow's graph is invalid (no start, unknown target, unreachable step)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Graph:
    start: str
    steps: Mapping[str, StepSpec]


def build_graph(workflow: Workflow, plugin: str = "?") -> Graph:
    """Collect and check a workflow's steps: raises ``WorkflowDefinitionError`` naming the fault."""
    name = workflow.name or type(workflow).__name__
    steps: dict[str, StepSpec] = {}
    for klass in reversed(type(workflow).__mro__):
        for attr, value in vars(klass).items():
            spec = getattr(value, "_plugyard_step", None)
            if isinstance(spec, StepSpec):
                steps[attr] = dataclasses.replace(spec, name=attr)
    if not steps:
        raise WorkflowDefinitionError(plugin, f"workflow {name!r} has no steps (mark async methods with @step)")
    starts = [s.name for s in steps.values() if s.start]
    if len(starts) != 1:
        raise WorkflowDefinitionError(
            plugin, f"workflow {name!r} must mark exactly one step with start=True, found {starts or 'none'}"
        )
    for spec in steps.values():
        targets = spec.next.targets if isinstance(spec.next, Branch) else (spec.next,)
        unknown = [t for t in targets if t != END and t not in steps]
        if unknown:
            raise WorkflowDefinitionError(
                plugin,
                f"workflow {name!r}: step {spec.name!r} leads to unknown step(s) {unknown}; "
                f"the steps are {sorted(steps)} (or END)",
            )
    seen = {starts[0]}
    todo = [starts[0]]
    while todo:
        spec = steps[todo.pop()]
        for target in spec.next.targets if isinstance(spec.next, Branch) else (spec.next,):
            if target != END and target not in seen:
                seen.add(target)
                todo.append(target)
    unreachable = sorted(set(steps) - seen)
    if unreachable:
        raise WorkflowDefinitionError(
            plugin, f"workflow {name!r}: step(s) {unreachable} can never run (no edge leads to them)"
        )
    return Graph(start=starts[0], steps=steps)


class Workflow:
    """Base class for workflows a plugin registers.

    Subclasses set ``name``, ``intents`` (the intents they handle), ``State`` and mark their steps
    with ``@step``. They may override ``initial_state``, ``finalize`` and ``fallback_card``.
    """

    name: ClassVar[str] = ""
    intents: ClassVar[Sequence[str]] = ()
    description: ClassVar[str] = ""
    State: ClassVar[type[WorkflowState]] = WorkflowState
    max_steps: ClassVar[int] = DEFAULT_MAX_STEPS
    step_timeout: ClassVar[float] = DEFAULT_STEP_TIMEOUT

    def initial_state(self, message: str, intent: str | None) -> WorkflowState:
        return self.State(message=message, intent=intent)

    async def finalize(self, state: Any, status: Status, run: Run) -> Mapping[str, Any] | None:
        """Runs once at the end, whatever the outcome; may return a last update (cards, summary)."""
        return None

    def fallback_card(self, state: Any) -> Mapping[str, Any] | None:
        """A deterministic action card built from the final state, used when no valid card exists."""
        return None

    def summary(self, state: Any) -> dict[str, Any]:
        """What the run found, for the caller and for the model asked for cards (default: the state)."""
        data: dict[str, Any] = state.model_dump(mode="json", exclude={"cards", "message"})
        return data


class ToolHost(Protocol):
    """What the engine needs of the host: pick a tool for a capability, run it through the pipeline."""

    def choose_tool(self, capability: str, *, user_id: str, intent: str | None = None) -> Tool: ...

    @property
    def pipeline(self) -> Any: ...


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


class Run:
    """What a step sees: the run's identity, tools by capability, progress and the language model."""

    def __init__(
        self,
        *,
        host: ToolHost,
        run_id: str,
        user_id: str,
        session_id: str | None,
        intent: str | None,
        workflow: str,
        progress: ProgressReporter | None,
    ) -> None:
        self.host = host
        self.run_id = run_id
        self.user_id = user_id
        self.session_id = session_id
        self.intent = intent
        self.workflow = workflow
        self._progress = progress
        self._step_number = 0
        self.calls: list[dict[str, Any]] = []
        """The tool calls of the current step."""

    def has_capability(self, capability: str) -> bool:
        return self.tool_for(capability) is not None

    def tool_for(self, capability: str) -> str | None:
        """The name of the tool the host would call for ``capability``, or None when none offers it
        (what a card may suggest: a tool that exists)."""
        try:
            return self.host.choose_tool(capability, user_id=self.user_id, intent=self.intent).name
        except UnknownTool:
            return None

    async def call(self, capability: str, arguments: Mapping[str, Any], *, required: bool = True) -> Any:
        """Call the tool the host picks for ``capability`` through the recorded pipeline.

        Returns its result. When no tool offers the capability, or the call fails, raises the
        ``ToolCallError`` (``required=True``) or returns None.
        """
        try:
            tool = self.host.choose_tool(capability, user_id=self.user_id, intent=self.intent)
        except UnknownTool:
            self.calls.append({"capability": capability, "tool": None, "success": False, "error": "no tool"})
            if required:
                raise
            return None
        outcome: ToolOutcome = await self.host.pipeline.call(
            tool.name,
            dict(arguments),
            user_id=self.user_id,
            session_id=self.session_id,
            intent=self.intent,
            workflow_run_id=self.run_id,
        )
        self.calls.append(
            {
                "capability": capability,
                "tool": tool.name,
                "plugin": tool.plugin,
                "call_id": outcome.call.call_id,
                "success": outcome.success,
                "error": outcome.error_message,
            }
        )
        if outcome.success:
            # Steps see plain JSON data, not the tool's Python types (a plugin cannot import them).
            return pydantic_core.to_jsonable_python(outcome.result)
        if outcome.error is not None and isinstance(outcome.error.__cause__, InputRequired):
            # The tool asked the client's model (2026-07-28): the whole call runs again with the answer.
            raise outcome.error.__cause__
        if required:
            assert isinstance(outcome.error, ToolCallError)
            raise outcome.error
        return None

    async def progress(self, message: str) -> None:
        if self._progress is not None:
            await self._progress(float(self._step_number), None, message)

    @property
    def model_available(self) -> bool:
        return llm.backend() is not None

    async def ask(self, prompt: str, model: type[M], *, system: str | None = None) -> M | None:
        """The language model's answer shaped like ``model`` (validated), or None without a model.

        May raise ``InputRequired`` (the client's model answers with the retry, see the module's
        docstring): let it through, and word ``prompt`` from the state alone."""
        return await llm.structured(prompt, model, system=system)

    async def complete(self, prompt: str, *, system: str | None = None) -> str | None:
        """The language model's text answer, or None without a model (``InputRequired`` as ``ask``)."""
        return await llm.complete(prompt, system=system)


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
        limit = max_steps or workflow.max_steps
        started = time.perf_counter()
        if resume is not None:
            state = workflow.State.model_validate(resume["state"] or {})
            steps: list[dict[str, Any]] = list(resume["steps"] or [])
            current: str = resume["next_step"] or END
            prior_ms = float(resume.get("duration_ms") or 0.0)
        else:
            state = workflow.initial_state(message, intent)
            if request is not None:
                state = state.model_copy(update={"request": request})
            steps = []
            current = graph.start
            prior_ms = 0.0
            if store is not None:
                await store.start_run(
                    run_id=run_id,
                    user_id=user_id,
                    session_id=session_id,
                    workflow=workflow.name,
                    plugin_name=plugin,
                    intent=intent,
                    message=message,
                    next_step=current,
                    state=state.model_dump(mode="json"),
                )
        run = Run(
            host=host,
            run_id=run_id,
            user_id=user_id,
            session_id=session_id,
            intent=intent,
            workflow=workflow.name,
            progress=progress,
        )
        status: Status = "succeeded"
        error_type: str | None = None
        error_message: str | None = None

        async def waits_for_client(next_step: str | None, exc: InputRequired) -> None:
            await record_input_required(
                store,
                run_id,
                resume=resume,
                steps=steps,
                state=state.model_dump(mode="json"),
                next_step=next_step,
                duration_ms=prior_ms + (time.perf_counter() - started) * 1000.0,
                error=exc,
            )
            trace.finish(status=INPUT_REQUIRED, steps=0, error_type=type(exc).__name__, message=str(exc))

        try:
            while current != END:
                if len(steps) >= limit:
                    status, error_type = "step_limit", "StepLimit"
                    error_message = f"workflow {workflow.name!r} stopped after {limit} steps (at step {current!r})"
                    break
                spec = graph.steps[current]
                run._step_number = len(steps) + 1
                run.calls = []
                await run.progress(f"{workflow.name}: {current}")
                record: dict[str, Any] = {"name": current, "tools": run.calls}
                step_started = time.perf_counter()
                timeout = spec.timeout or step_timeout or workflow.step_timeout
                try:
                    with anyio.move_on_after(timeout) as scope:
                        updates = await getattr(workflow, current)(state, run)
                    if scope.cancelled_caught:
                        raise StepTimeout(
                            f"step {current!r} of workflow {workflow.name!r} did not finish within {timeout:g} s"
                        )
                    state = _apply(state, updates, current)
                    following = spec.next.router(state) if isinstance(spec.next, Branch) else spec.next
                    if isinstance(spec.next, Branch) and following not in spec.next.targets:
                        raise StepFailed(
                            f"step {current!r}: its branch chose {following!r}, not one of {list(spec.next.targets)}"
                        )
                except anyio.get_cancelled_exc_class():
                    raise
                except InputRequired as exc:
                    # Not a failure: the tool runs again once the client's model has answered.
                    record.update(duration_ms=(time.perf_counter() - step_started) * 1000.0, error=_describe(exc))
                    steps.append(record)
                    log.info("workflow %r run %s: step %r waits for the client's model", workflow.name, run_id, current)
                    await waits_for_client(current, exc)
                    raise
                except Exception as exc:
                    record.update(duration_ms=(time.perf_counter() - step_started) * 1000.0, error=_describe(exc))
                    steps.append(record)
                    status = "failed"
                    error_type = type(exc).__name__
                    error_message = str(exc) or type(exc).__name__
                    log.info("workflow %r run %s: step %r failed: %s", workflow.name, run_id, current, error_message)
                    current = END
                    break
                record["duration_ms"] = (time.perf_counter() - step_started) * 1000.0
                steps.append(record)
                current = following
                if store is not None:
                    await store.checkpoint(
                        run_id,
                        steps=steps,
                        next_step=None if current == END else current,
                        state=state.model_dump(mode="json"),
                    )
        except anyio.get_cancelled_exc_class():
            # Interrupted (the client cancelled, the server stops): keep the checkpoint for a resume.
            if store is not None:
                with anyio.CancelScope(shield=True):
                    await store.finish_run(
                        run_id,
                        status="interrupted",
                        steps=steps,
                        state=state.model_dump(mode="json"),
                        next_step=current if current != END else None,
                        duration_ms=prior_ms + (time.perf_counter() - started) * 1000.0,
                    )
            raise
        try:
            state = await _finalize(workflow, state, status, run)
        except InputRequired as exc:
            await waits_for_client(None, exc)
            raise
        duration = prior_ms + (time.perf_counter() - started) * 1000.0
        if store is not None:
            await store.finish_run(
                run_id,
                status=status,
                steps=steps,
                state=state.model_dump(mode="json"),
                duration_ms=duration,
                next_step=current if status == "step_limit" else None,
                error_type=error_type,
                error_message=error_message,
            )
        result = RunResult(
            run_id=run_id,
            workflow=workflow.name,
            status=status,
            state=state,
            steps=steps,
            duration_ms=duration,
            error_type=error_type,
            error_message=error_message,
        )
        trace.finish(
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


@dataclasses.dataclass(slots=True)
class RegisteredWorkflow:
    name: str
    plugin: str
    workflow: Workflow
    intents: tuple[str, ...]
