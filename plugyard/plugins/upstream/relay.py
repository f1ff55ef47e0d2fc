"""Sampling and elicitation requests from an upstream, relayed to plugyard's own client.

The upstream asks while one of its tools runs; the request goes to the latest call in flight of that
server (the protocol does not say which call asked), through the public ``ToolContext.sample`` and
``ToolContext.elicit``. What they cannot carry is refused with an error the upstream sees: no call in
flight, a client without the feature, messages that are not text, an elicitation schema that is not
flat primitives, a URL elicitation, and clients on 2026-07-28 (their answers come in a new round that
re-runs plugyard's tool, while the upstream is still waiting on this one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import mcp.types as mt
import pydantic

from plugyard import InputRequired, PlugyardError, ToolContext

_TYPES: dict[str, Any] = {"string": str, "number": float, "integer": int, "boolean": bool}


def _refuse(message: str) -> mt.ErrorData:
    return mt.ErrorData(code=mt.INVALID_REQUEST, message=message)


def _prompt(params: mt.CreateMessageRequestParams) -> str | None:
    texts = []
    for message in params.messages:
        content = message.content
        blocks = content if isinstance(content, list) else [content]
        for block in blocks:
            if not isinstance(block, mt.TextContent):
                return None
            texts.append(block.text if len(params.messages) == 1 else f"{message.role}: {block.text}")
    return "\n\n".join(texts)


def sampling(server: str, current: Callable[[], ToolContext | None]) -> Any:
    async def relay(_: Any, params: mt.CreateMessageRequestParams) -> mt.CreateMessageResult | mt.ErrorData:
        ctx = current()
        if ctx is None:
            return _refuse(f"plugyard relays sampling only during a call to one of upstream {server!r}'s tools")
        prompt = _prompt(params)
        if prompt is None:
            return _refuse("plugyard relays text-only sampling requests")
        try:
            text = await ctx.sample(
                prompt, system=params.system_prompt, max_tokens=params.max_tokens, temperature=params.temperature
            )
        except InputRequired:
            return _refuse("plugyard's client answers sampling in a new round (2026-07-28): not relayable upstream")
        except PlugyardError as exc:
            return _refuse(f"plugyard's client cannot sample: {exc}")
        return mt.CreateMessageResult(
            role="assistant", content=mt.TextContent(type="text", text=text), model="relayed-by-plugyard"
        )

    return relay


def _model(schema: dict[str, Any]) -> type[pydantic.BaseModel] | None:
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, field in (schema.get("properties") or {}).items():
        if not isinstance(field, dict) or not str(name).isidentifier():
            return None
        if "enum" in field:
            kind: Any = Literal[tuple(field["enum"])]
        elif field.get("type") in _TYPES:
            kind = _TYPES[field["type"]]
        else:
            return None
        described = pydantic.Field(description=field.get("description"), title=field.get("title"))
        fields[name] = (kind, described) if name in required else (kind | None, pydantic.Field(None, **_text(field)))
    return pydantic.create_model("UpstreamElicitation", **fields)


def _text(field: dict[str, Any]) -> dict[str, Any]:
    return {"description": field.get("description"), "title": field.get("title")}


def elicitation(server: str, current: Callable[[], ToolContext | None]) -> Any:
    async def relay(_: Any, params: Any) -> mt.ElicitResult | mt.ErrorData:
        ctx = current()
        if ctx is None:
            return _refuse(f"plugyard relays elicitation only during a call to one of upstream {server!r}'s tools")
        if not isinstance(params, mt.ElicitRequestFormParams):
            return _refuse("plugyard relays form elicitation only, not URL elicitation")
        model = _model(params.requested_schema)
        if model is None:
            return _refuse(
                "plugyard relays elicitation schemas of flat string, number, integer, boolean or enum fields"
            )
        try:
            answer = await ctx.elicit(params.message, model)
        except InputRequired:
            return _refuse("plugyard's client answers elicitation in a new round (2026-07-28): not relayable upstream")
        except PlugyardError as exc:
            return _refuse(f"plugyard's client cannot elicit: {exc}")
        content = answer.data.model_dump(exclude_none=True) if answer.data is not None else None
        return mt.ElicitResult(action=answer.action, content=content)

    return relay
