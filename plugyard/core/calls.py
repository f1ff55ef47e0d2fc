"""What a tool call looks like to a tool and to the hooks around it."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import pydantic

from plugyard.core.client import (
    ClientChannel,
    Elicitation,
    HostEvents,
    LogLevel,
    ResourceUpdated,
)
from plugyard.core.errors import ClientFeatureUnavailable

M = TypeVar("M", bound=pydantic.BaseModel)

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
    _client: ClientChannel | None = dataclasses.field(default=None, repr=False)
    _events: HostEvents | None = dataclasses.field(default=None, repr=False)

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Tell the client how far the call has got. A no-op when the client asked for no progress."""
        if self._progress is not None:
            await self._progress(progress, total, message)

    async def log(self, level: LogLevel, message: Any, *, logger: str | None = None) -> None:
        """Send a log message to the client (``level``: debug, info, notice, warning, error, ...).

        Delivered when the client asked for that level: ``logging/setLevel`` on 2025-11-25 sessions
        (everything until it does), the request's log-level opt-in on 2026-07-28. Never raises.
        """
        if self._client is not None:
            await self._client.log(level, message, logger or self.plugin_name)

    async def sample(
        self, prompt: str, *, system: str | None = None, max_tokens: int = 1024, temperature: float | None = None
    ) -> str:
        """Ask the client's language model (MCP sampling) and return its text.

        Raises ``plugyard.ClientFeatureUnavailable`` when the client declared no sampling. The tool
        may be run again with the answer (see docs/architecture.md, "Input required").
        """
        if self._client is None:
            raise ClientFeatureUnavailable(f"tool {self.tool_name!r}: no MCP client to sample from")
        return await self._client.sample(prompt, system=system, max_tokens=max_tokens, temperature=temperature)

    async def elicit(self, message: str, schema: type[M]) -> Elicitation[M]:
        """Ask the user for values shaped by ``schema`` (a pydantic model of flat primitive fields).

        Returns a ``plugyard.Elicitation`` (accept with ``data``, decline or cancel). Raises
        ``plugyard.ClientFeatureUnavailable`` when the client declared no elicitation. The tool may
        be run again with the answer (see docs/architecture.md, "Input required").
        """
        if self._client is None:
            raise ClientFeatureUnavailable(f"tool {self.tool_name!r}: no MCP client to ask")
        return await self._client.elicit(message, schema)

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell clients subscribed to ``uri`` that its contents changed."""
        if self._events is not None:
            await self._events.publish(ResourceUpdated(uri))


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
    source: str | None = None
    """The tool's ``source`` (an upstream server's name), when it registered one."""


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
    converted: Any = dataclasses.field(default=None, repr=False)
    """The result as the adapter will send it (``ToolPipeline.convert_result``), when one converted it."""

    @property
    def message(self) -> str:
        """What the caller is told when the call failed: the error, naming the tool and its plugin
        when the tool itself raised (validation, veto and timeout messages name them already)."""
        if self.success:
            return ""
        text = self.error_message or self.error_type or "the tool failed"
        # Only an exception the tool itself raised is carried as the cause of the pipeline's error.
        if self.error is None or self.error.__cause__ is None:
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
