"""plugyard's content types (plugyard.core.content) as MCP content blocks, and tool results as
``CallToolResult``: the SDK's own conversion does the rest (strings, models, its Image/Audio)."""

from __future__ import annotations

import base64
from typing import Any

import pydantic_core
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    PromptMessage,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from plugyard.core import content as pc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def block(item: Any) -> ContentBlock:
    """One plugyard block (or a string) as an MCP content block."""
    if isinstance(item, str):
        return TextContent(type="text", text=item)
    if isinstance(item, pc.Text):
        return TextContent(type="text", text=item.text)
    if isinstance(item, pc.Image):
        return ImageContent(type="image", data=_b64(item.data), mime_type=item.mime_type)
    if isinstance(item, pc.Audio):
        return AudioContent(type="audio", data=_b64(item.data), mime_type=item.mime_type)
    if isinstance(item, pc.EmbeddedResource):
        inner: TextResourceContents | BlobResourceContents
        if item.blob is not None:
            inner = BlobResourceContents(
                uri=item.uri, blob=_b64(item.blob), mime_type=item.mime_type or "application/octet-stream"
            )
        else:
            inner = TextResourceContents(uri=item.uri, text=item.text or "", mime_type=item.mime_type or "text/plain")
        return EmbeddedResource(type="resource", resource=inner)
    if isinstance(item, pc.ResourceLink):
        return ResourceLink(
            type="resource_link",
            uri=item.uri,
            name=item.name,
            title=item.title,
            description=item.description,
            mime_type=item.mime_type,
        )
    raise TypeError(f"not a content block: {type(item).__name__}")


def _translate(value: Any) -> Any:
    """Swap plugyard blocks for SDK blocks, leaving everything else to the SDK's conversion."""
    if isinstance(value, pc.CONTENT_TYPES):
        return block(value)
    if isinstance(value, list | tuple):
        return [_translate(v) for v in value]
    return value


def tool_result(value: Any, output: FuncMetadata, structured: FuncMetadata | None) -> Any:
    """A tool's value as the SDK's result. ``structured`` validates a ``ToolResult.structured``."""
    if isinstance(value, pc.ToolResult):
        blocks = [block(item) for item in value.content]
        if value.structured is None:
            return CallToolResult(content=blocks)
        if structured is not None:
            converted = structured.convert_result(value.structured)
            assert isinstance(converted, CallToolResult)
            return CallToolResult(content=blocks or converted.content, structured_content=converted.structured_content)
        data = value.structured
        if hasattr(data, "model_dump"):
            data = data.model_dump(mode="json", by_alias=True)
        return CallToolResult(content=blocks, structured_content=data)
    return output.convert_result(_translate(value))


def raw_result(raw: pc.RawResult, meta: dict[str, Any] | None = None) -> CallToolResult:
    """A ``RawResult`` as the ``CallToolResult`` it describes: blocks, structured content and
    ``isError`` as given (JSON blocks validated into the SDK's types; the SDK's own pass as they are)."""
    return CallToolResult(
        content=list(raw.content),
        structured_content=dict(raw.structured) if raw.structured is not None else None,
        is_error=raw.is_error,
        _meta={**(raw.meta or {}), **(meta or {})} or None,
    )


def structured_result(value: dict[str, Any]) -> CallToolResult:
    """A mapping from a tool registered with an ``output_schema``: its structured content, and the same
    as JSON text for clients that read only text."""
    text = pydantic_core.to_json(value).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=value)


def prompt_message(message: pc.PromptMessage) -> PromptMessage:
    return PromptMessage(role=message.role, content=block(message.content))
