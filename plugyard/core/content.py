"""What a tool, a resource or a prompt may hand to a client besides plain values.

plugyard's own content types, so a plugin never imports the MCP SDK: the adapter translates them
into MCP content blocks. A tool may return one of them, a list mixing them (and strings), or a
``ToolResult`` carrying content blocks and structured content side by side. They are pydantic
models, so the pipeline can measure and record them like any result (bytes serialise as base64).
"""

from __future__ import annotations

import base64
import dataclasses
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pydantic

from plugyard.core.errors import ToolResultError

Role = Literal["user", "assistant"]


class _Content(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")


class Text(_Content):
    """A text block."""

    text: str


class Image(_Content):
    """An image block: raw bytes and their MIME type."""

    data: bytes
    mime_type: str = "image/png"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


class Audio(_Content):
    """An audio block: raw bytes and their MIME type."""

    data: bytes
    mime_type: str = "audio/wav"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


class EmbeddedResource(_Content):
    """A resource's contents inlined in the answer: ``text`` or ``blob`` (bytes), never both."""

    uri: str
    text: str | None = None
    blob: bytes | None = None
    mime_type: str | None = None

    @pydantic.model_validator(mode="after")
    def _one_body(self) -> EmbeddedResource:
        if (self.text is None) == (self.blob is None):
            raise ValueError(f"embedded resource {self.uri!r} needs exactly one of text or blob")
        return self


class ResourceLink(_Content):
    """A link to a resource the client may read later (``resources/read``)."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None


ContentBlock = Text | Image | Audio | EmbeddedResource | ResourceLink
CONTENT_TYPES: tuple[type[_Content], ...] = (Text, Image, Audio, EmbeddedResource, ResourceLink)


class ToolResult(pydantic.BaseModel):
    """A tool's full answer: content blocks for the model to read, plus optional structured content.

    Declare the structured part's shape with ``Annotated[plugyard.ToolResult, MyModel]`` as the
    return type: clients then see ``MyModel``'s JSON schema as the tool's output schema, and
    ``structured`` is validated against it.
    """

    model_config = pydantic.ConfigDict(ser_json_bytes="base64")

    content: list[ContentBlock | str] = pydantic.Field(default_factory=list)
    structured: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class RawResult:
    """A tool's answer forwarded to the client exactly as given: what an MCP ``CallToolResult`` holds.

    For tools that relay another MCP server (the upstream plugin). ``content`` holds MCP content
    blocks as they travel: JSON objects (``{"type": "text", "text": ...}``, image, audio, resource,
    resource_link) or the MCP SDK's block objects; ``structured`` is the structured content and
    ``meta`` the result's ``_meta``. Nothing is converted or checked against an output schema.
    ``is_error=True`` makes the call a failed one (recorded with ``error_type`` ``ToolResultError``
    and the text blocks as its message) while the client still receives these blocks unchanged.
    """

    content: Sequence[Any] = ()
    structured: Mapping[str, Any] | None = None
    is_error: bool = False
    meta: Mapping[str, Any] | None = None

    def text(self) -> str:
        """The text blocks joined: what is recorded as the message of an ``is_error`` result."""
        texts = []
        for item in self.content:
            kind = item.get("type") if isinstance(item, Mapping) else getattr(item, "type", None)
            if kind == "text":
                texts.append(str(item["text"] if isinstance(item, Mapping) else getattr(item, "text", "")))
        return "\n".join(texts)


def raise_reported_error(result: Any, tool_name: str) -> Any:
    """``result``, unless it is a ``RawResult`` with ``is_error``: then the call failed (``ToolResultError``),
    and the error carries the result so the client still gets it as it is."""
    if isinstance(result, RawResult) and result.is_error:
        raise ToolResultError(result.text() or f"tool {tool_name!r} answered an error", result)
    return result


class PromptMessage(pydantic.BaseModel):
    """One message of a rendered prompt: a role and one content block (a string is text)."""

    model_config = pydantic.ConfigDict(frozen=True, ser_json_bytes="base64")

    role: Role = "user"
    content: Text | Image | Audio | EmbeddedResource | ResourceLink | str


def is_content(value: object) -> bool:
    """True for a content block, a ``ToolResult``, or a list/tuple holding at least one block."""
    if isinstance(value, (*CONTENT_TYPES, ToolResult)):
        return True
    if isinstance(value, list | tuple):
        return any(isinstance(item, CONTENT_TYPES) for item in value)
    return False


def declares_content(annotation: Any) -> bool:
    """Whether a return annotation names plugyard content (bare, in a list/tuple, or a union arm)."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return isinstance(annotation, type) and issubclass(annotation, (*CONTENT_TYPES, ToolResult))
    if origin is typing.Annotated:
        return declares_content(typing.get_args(annotation)[0])
    return any(declares_content(arg) for arg in typing.get_args(annotation))


def structured_model_of(annotation: Any) -> Any:
    """``MyModel`` from ``Annotated[ToolResult, MyModel]``, else None."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        if base is ToolResult and extra:
            return extra[0]
    return None


def as_blocks(value: Any) -> Sequence[Any]:
    """A tool's or prompt's content as a flat list (strings stay strings)."""
    if isinstance(value, list | tuple):
        return [block for item in value for block in as_blocks(item)]
    return [value]
