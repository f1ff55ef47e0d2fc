"""What a tool call looks like to a tool and to the hooks around it."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

ProgressReporter = Callable[[float, float | None, str | None], Awaitable[None]]


@dataclasses.dataclass(slots=True)
class ToolContext:
    """Handed to a tool that declares a parameter annotated ``ToolContext``.

    The parameter is filled by plugyard and left out of the tool's input schema.
    """

    user_id: str
    session_id: str | None
    call_id: str
    tool_name: str
    plugin_name: str
    settings: Any = None
    """The plugin's validated settings (the model its ``plugin_settings`` hook declared), or None."""
    _progress: ProgressReporter | None = dataclasses.field(default=None, repr=False)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Tell the client how far the call has got. A no-op when the client asked for no progress."""
        if self._progress is not None:
            await self._progress(progress, total, message)


@dataclasses.dataclass(slots=True)
class ToolCall:
    """One call, as ``before_tool_call`` and ``after_tool_call`` see it. Hooks must not mutate it."""

    call_id: str
    tool_name: str
    plugin_name: str
    arguments: Mapping[str, Any]
    """The arguments as the caller sent them (before validation)."""
    user_id: str
    session_id: str | None
    started_at: datetime
    intent: str | None = None
    workflow_run_id: str | None = None


_PIPELINE_ERRORS = frozenset({"InvalidArguments", "ToolVetoed", "ToolTimeout", "ToolFailed", "UnknownTool"})


@dataclasses.dataclass(slots=True)
class ToolOutcome:
    """How a call ended. ``result`` is set on success; ``error_type``/``error_message`` on failure."""

    call: ToolCall
    success: bool
    duration_ms: float
    result: Any = None
    result_size: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    error: BaseException | None = dataclasses.field(default=None, repr=False)

    @property
    def message(self) -> str:
        """What the caller is told when the call failed: the error, naming the tool and its plugin
        when the tool itself raised (validation, veto and timeout messages name them already)."""
        if self.success:
            return ""
        text = self.error_message or self.error_type or "the tool failed"
        if self.error_type in _PIPELINE_ERRORS:
            return text
        return f"tool {self.call.tool_name!r} of plugin {self.call.plugin_name!r} failed: {text}"

    def unwrap(self) -> Any:
        """The result, or the error that ended the call raised again."""
        if self.success:
            return self.result
        assert self.error is not None
        raise self.error


@dataclasses.dataclass(frozen=True, slots=True)
class Veto:
    """Return this from ``before_tool_call`` to refuse a call. ``reason`` reaches the client."""

    reason: str
