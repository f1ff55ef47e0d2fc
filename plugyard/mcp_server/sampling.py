"""MCP sampling as the core's fallback language model.

``core/llm.py`` cannot import the SDK, so the adapter hands it a plain ``Sampler``: a callable that
sends ``sampling/createMessage`` to the client over the request's back-channel and returns the text.
It is offered only when the client declared sampling and the session can carry a server-to-client
request in the middle of a call: handshake-era sessions (2025-11-25, what desktop clients speak).
On 2026-07-28 per-request sessions a tool cannot ask mid-call (the SDK's ``Resolve(Sample(...))``
asks before the tool body, with a fixed question), so the core takes its deterministic path there.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.mcpserver import Context
from mcp.shared.message import ServerMessageMetadata
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    SamplingMessage,
    TextContent,
)

from plugyard.core.llm import Sampler

log = logging.getLogger("plugyard.mcp")


def client_sampler(context: Context[Any, Any] | None) -> Sampler | None:
    """A sampler for this request's client, or None when it cannot sample mid-call."""
    if context is None or context._request_context is None:
        return None
    capabilities = context.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        return None
    session = context.session
    if not session.can_send_request:
        return None
    request_id = context.request_id

    async def sample(*, prompt: str, system: str | None, max_tokens: int) -> str:
        request = CreateMessageRequest(
            params=CreateMessageRequestParams(
                messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                max_tokens=max_tokens,
                system_prompt=system,
            )
        )
        result = await session.send_request(
            request, CreateMessageResult, metadata=ServerMessageMetadata(related_request_id=request_id)
        )
        content = result.content
        blocks = content if isinstance(content, list) else [content]
        return "".join(b.text for b in blocks if isinstance(b, TextContent))

    return sample
