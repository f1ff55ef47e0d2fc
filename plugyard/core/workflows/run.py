"""What a workflow step sees: the run's identity, tools by capability through the host, progress and
the language model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pydantic_core
from pydantic import BaseModel

from plugyard.core import llm
from plugyard.core.errors import InputRequired, ToolCallError, UnknownTool

if TYPE_CHECKING:
    from plugyard.core.calls import ProgressReporter, ToolOutcome
    from plugyard.core.tools import Tool

M = TypeVar("M", bound=BaseModel)


class ToolHost(Protocol):
    """What the engine needs of the host: pick a tool for a capability, run it through the pipeline."""

    def choose_tool(self, capability: str, *, user_id: str, intent: str | None = None) -> Tool: ...

    @property
    def pipeline(self) -> Any: ...

    @property
    def tools(self) -> Any:
        """The registry: ``with_capability(name)`` lists the tools declaring a capability."""


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

    def begin_step(self, number: int) -> None:
        """The engine moves on to step ``number`` (1-based): progress counts it, calls start afresh."""
        self._step_number = number
        self.calls = []

    def has_capability(self, capability: str) -> bool:
        """Whether some tool offers ``capability``. Asks the registry, not the router: a check is
        not a decision (it logs none and spends no half-open circuit's one trial call)."""
        return bool(self.host.tools.with_capability(capability))

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
            # The tool asked its client (see docs/architecture.md, "Input required"): let it through.
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

        May raise ``InputRequired``: let it through, and word ``prompt`` from the state alone
        (see docs/architecture.md, "Input required")."""
        return await llm.structured(prompt, model, system=system)

    async def complete(self, prompt: str, *, system: str | None = None) -> str | None:
        """The language model's text answer, or None without a model (``InputRequired`` as ``ask``)."""
        return await llm.complete(prompt, system=system)
