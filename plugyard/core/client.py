"""What a tool may ask of the client that called it: log messages, its model, its user.

The MCP adapter installs a ``ClientChannel`` for each call; ``ToolContext.log``, ``.sample`` and
``.elicit`` go through it. Core never imports the SDK: this module only says what a channel does.

On 2025-11-25 sessions a question is a request sent to the client mid-call; on 2026-07-28 it may
end the run with ``InputRequired`` and the tool runs again with the answer (see docs/architecture.md, "Input required").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

import pydantic

M = TypeVar("M", bound=pydantic.BaseModel)

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclasses.dataclass(frozen=True, slots=True)
class Elicitation(Generic[M]):
    """The user's answer to ``ctx.elicit``: ``action`` is accept, decline or cancel; ``data`` is set on accept."""

    action: Literal["accept", "decline", "cancel"]
    data: M | None = None

    @property
    def accepted(self) -> bool:
        return self.action == "accept" and self.data is not None


class ClientChannel(Protocol):
    """The adapter's side of ``ToolContext.log`` / ``sample`` / ``elicit``."""

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None: ...

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str: ...

    async def elicit(self, message: str, schema: type[M]) -> Elicitation[M]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceUpdated:
    """A plugin said the contents at ``uri`` changed."""

    uri: str


@dataclasses.dataclass(frozen=True, slots=True)
class ListsChanged:
    """The tools, prompts and resources the host offers changed (a reload)."""


HostEvent = ResourceUpdated | ListsChanged
Listener = Callable[[HostEvent], Awaitable[None]]

log = logging.getLogger("plugyard.events")


class HostEvents:
    """Fan-out of host events to listeners (the MCP adapter, which tells subscribed clients)."""

    def __init__(self) -> None:
        self._listeners: dict[object, Listener] = {}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def publish(self, event: HostEvent) -> None:
        for listener in list(self._listeners.values()):
            try:
                await listener(event)
            except Exception:
                log.exception("a listener failed on %r; ignored", event)
