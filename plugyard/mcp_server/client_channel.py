"""``ToolContext.log`` / ``.sample`` / ``.elicit`` over MCP, on both protocol versions.

- Log messages: ``notifications/message`` on the request's own stream. 2025-11-25 sessions get every
  level at or above what ``logging/setLevel`` chose (everything until the client sets one);
  2026-07-28 requests get only what the request opted in to (the ``io.modelcontextprotocol/logLevel``
  ``_meta`` key; ``Client(log_level=...)`` sets it).
- Sampling and elicitation on 2025-11-25 sessions: a ``sampling/createMessage`` /
  ``elicitation/create`` request sent mid-call over the request's back-channel.
- On 2026-07-28 (no server-to-client requests): ``InputRequired`` rounds (see docs/architecture.md, "Input required").

The channel is also the request's ``Sampler`` for ``core/llm`` (the assistant's model when no API key
is set): ``can_sample`` says whether the client's model can be reached, ``sample`` asks it, on either
protocol version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
from mcp.server.connection import allowed_log_levels
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.shared.message import ServerMessageMetadata
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequest,
    InputRequiredResult,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    SamplingMessage,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from plugyard.core.client import LOG_LEVELS, Elicitation, LogLevel
from plugyard.core.errors import ClientFeatureUnavailable, InputRequired

log = logging.getLogger("plugyard.mcp")

M = TypeVar("M", bound=pydantic.BaseModel)

LOG_LEVEL_STATE = "plugyard/log_level"
_STATE_VERSION = 1


def _digest(request: InputRequest) -> str:
    dumped = request.model_dump(mode="json", by_alias=True, exclude_none=True)
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]


def undeclared(feature: str) -> str:
    """Why a call cannot ask its client for ``feature`` (sampling, elicitation) the client did not declare."""
    return f"the MCP client did not declare the {feature} capability"


def stateless_refusal(feature: str, version: str) -> str:
    """Why a handshake-era stateless HTTP request cannot ask its client for ``feature`` mid-call."""
    return (
        f"stateless HTTP cannot ask the MCP client for {feature} in the middle of a call on protocol {version}; "
        "serve with --stateful, or connect with a 2026-07-28 client"
    )


class McpClientChannel:
    """The client of one ``tools/call`` request."""

    def __init__(self, context: Context[Any, Any], level_state: dict[str, Any]) -> None:
        self._context = context
        self._ctx = context.request_context
        self._modern = self._ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        self._level_state = level_state
        self._asked = 0
        self._answers = dict(context.input_responses or {}) if self._modern else {}
        self._state = self._decode(context.request_state) if self._modern else {}
        self.pending: dict[str, InputRequest] = {}

    # -- log messages -----------------------------------------------------------------------

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None:
        if self._modern:
            allowed = allowed_log_levels(self._ctx.protocol_version, self._ctx.meta)
        else:
            floor = self._level_state.get(LOG_LEVEL_STATE, "debug")
            allowed = frozenset(LOG_LEVELS[LOG_LEVELS.index(floor) :])
        if level not in allowed:
            return
        notification = LoggingMessageNotification(
            params=LoggingMessageNotificationParams(level=level, data=data, logger=logger)
        )
        try:
            await self._ctx.session.send_notification(notification, related_request_id=self._ctx.request_id)
        except Exception as exc:  # noqa: BLE001 - a log line (lost connection, closed stream) never fails the tool
            log.debug("log message to the client dropped: %s", exc)

    # -- sampling and elicitation ------------------------------------------------------------

    def can_sample(self) -> bool:
        """Whether ``sample`` can reach the client's model: the client declared sampling, and a
        handshake-era request can still carry a server-to-client request (stateless HTTP cannot)."""
        capabilities = self._context.client_capabilities
        if capabilities is None or capabilities.sampling is None:
            return False
        return self._modern or self._ctx.session.can_send_request

    def _capability(self, name: str) -> None:
        if not self._modern and not self._ctx.session.can_send_request:
            # Stateless HTTP on 2025-11-25: each request is its own session (what the client declared
            # at its handshake is not known here) and its answer stream has no back-channel.
            raise ClientFeatureUnavailable(stateless_refusal(name, self._ctx.protocol_version))
        capabilities = self._context.client_capabilities
        if capabilities is None or getattr(capabilities, name) is None:
            raise ClientFeatureUnavailable(undeclared(name))

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str:
        self._capability("sampling")
        request = CreateMessageRequest(
            params=CreateMessageRequestParams(
                messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                max_tokens=max_tokens,
                system_prompt=system,
                temperature=temperature,
            )
        )
        raw = await self._ask("sample", request)
        result = CreateMessageResult.model_validate(raw)
        blocks = result.content if isinstance(result.content, list) else [result.content]
        return "".join(b.text for b in blocks if isinstance(b, TextContent))

    async def elicit(self, message: str, schema: type[M]) -> Elicitation[M]:
        self._capability("elicitation")
        request = ElicitRequest(
            params=ElicitRequestFormParams(message=message, requested_schema=render_elicitation_schema(schema))
        )
        answer = ElicitResult.model_validate(await self._ask("elicit", request))
        if answer.action != "accept":
            return Elicitation(action=answer.action)
        return Elicitation(action="accept", data=schema.model_validate(answer.content or {}))

    async def _ask(self, kind: str, request: CreateMessageRequest | ElicitRequest) -> dict[str, Any]:
        if not self._modern:
            result = await self._ctx.session.send_request(
                request,
                ElicitResult if isinstance(request, ElicitRequest) else CreateMessageResult,
                metadata=ServerMessageMetadata(related_request_id=self._ctx.request_id),
            )
            return result.model_dump(mode="json", by_alias=True, exclude_none=True)
        key = f"plugyard/{kind}/{self._asked}"
        self._asked += 1
        digest = _digest(request)
        kept = self._state.get(key)
        if kept is not None and kept.get("q") == digest:
            return dict(kept["answer"])
        answer = self._answers.get(key)
        if answer is not None and self._state.get(f"{key}?") == digest:
            dumped = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
            self._state[key] = {"q": digest, "answer": dumped}
            return dumped
        self.pending[key] = request
        self._state[f"{key}?"] = digest
        raise InputRequired(f"waiting for the client to answer {kind} question {key}")

    def input_required(self) -> InputRequiredResult:
        """The questions this run stopped on, and what earlier rounds answered."""
        state = {"v": _STATE_VERSION, **self._state}
        return InputRequiredResult(input_requests=dict(self.pending), request_state=json.dumps(state))

    @staticmethod
    def _decode(request_state: str | None) -> dict[str, Any]:
        if not request_state:
            return {}
        try:
            state = json.loads(request_state)
        except ValueError:
            return {}
        if not isinstance(state, dict) or state.pop("v", None) != _STATE_VERSION:
            return {}
        return state


class LazyClientChannel:
    """A ``McpClientChannel`` built on first use: most calls never log, sample or elicit, and
    building one reads the request's state, which cost every call more than the tool itself.
    It is also the call's ``core.llm.Sampler``: nothing is looked up until a model is wanted."""

    __slots__ = ("_channel", "_context", "_level_state")

    def __init__(self, context: Callable[[], Context[Any, Any]], level_state: Callable[[], dict[str, Any]]) -> None:
        self._context = context
        self._level_state = level_state
        self._channel: McpClientChannel | None = None

    def _get(self) -> McpClientChannel:
        if self._channel is None:
            self._channel = McpClientChannel(self._context(), self._level_state())
        return self._channel

    @property
    def pending(self) -> dict[str, InputRequest]:
        return self._channel.pending if self._channel is not None else {}

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None:
        await self._get().log(level, data, logger)

    def can_sample(self) -> bool:
        return self._get().can_sample()

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str:
        return await self._get().sample(prompt, system=system, max_tokens=max_tokens, temperature=temperature)

    async def elicit(self, message: str, schema: type[M]) -> Elicitation[M]:
        return await self._get().elicit(message, schema)

    def input_required(self) -> InputRequiredResult:
        return self._get().input_required()
