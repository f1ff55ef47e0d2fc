"""What a workflow is: a typed state, named async steps and the edges between them, checked as a graph.

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
targets only, every step reachable. ``engine.execute`` runs it; ``run.Run`` is what a step sees.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field

from plugyard.core.errors import PluginError

if TYPE_CHECKING:
    from plugyard.core.workflows.run import Run

END = "__end__"
DEFAULT_MAX_STEPS = 20
DEFAULT_STEP_TIMEOUT = 30.0

Status = Literal["succeeded", "failed", "step_limit", "interrupted"]
INPUT_REQUIRED = "input_required"
"""The stored status of a run whose round stopped to ask the client's model
(see docs/architecture.md, "Input required")."""

STEP_MARK = "plugyard_step"
"""The attribute ``@step`` sets on a method: its ``StepSpec``."""


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
        f.plugyard_step = StepSpec(name=f.__name__, next=next, start=start, timeout=timeout)  # type: ignore[attr-defined]
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
            spec = getattr(value, STEP_MARK, None)
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


@dataclasses.dataclass(slots=True)
class RegisteredWorkflow:
    name: str
    plugin: str
    workflow: Workflow
    intents: tuple[str, ...]
