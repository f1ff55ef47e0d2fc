"""The one door to a language model.

Which model answers, in order:

1. the Anthropic API through the ``anthropic`` SDK, when ``ANTHROPIC_API_KEY`` is set
   (model: ``PLUGYARD_ANTHROPIC_MODEL``, default ``claude-sonnet-5-5``);
2. else the connected MCP client's model through sampling, when the adapter serving the current
   request installed a sampler and it says it can sample (the client declared the sampling
   capability; asked only when a model is wanted, so calls that never ask pay nothing);
3. else none: ``backend()`` is None, ``complete`` and ``structured`` return None, and callers take
   their deterministic path.

Nothing here raises for a model's fault: an API error, a refusal or output that does not validate
is logged and reported as None. Core never imports the MCP SDK: the adapter hands a ``Sampler`` (the
request's client channel) in through ``use_sampler``.

Sampling works on both MCP protocol versions; ``complete`` and ``structured`` let ``InputRequired``
through, as must every caller between here and the tool, and prompts are built from the request and
deterministic work only (see docs/architecture.md, "Input required").
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

import anyio
import pydantic

from plugyard.core.errors import InputRequired

log = logging.getLogger("plugyard.llm")

API_KEY_ENV = "ANTHROPIC_API_KEY"
MODEL_ENV = "PLUGYARD_ANTHROPIC_MODEL"
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_TIMEOUT = 60.0

M = TypeVar("M", bound=pydantic.BaseModel)


class Sampler(Protocol):
    """What the MCP adapter provides for one request: the client's model.

    ``can_sample`` is asked only when a model is wanted (``backend()``); ``sample`` may raise
    ``InputRequired`` (see docs/architecture.md, "Input required")."""

    def can_sample(self) -> bool: ...

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str: ...


_sampler: contextvars.ContextVar[Sampler | None] = contextvars.ContextVar("plugyard_sampler", default=None)
_anthropic: contextvars.ContextVar[Any] = contextvars.ContextVar("plugyard_anthropic_client", default=None)
_clients: dict[str, Any] = {}


class use_sampler:
    """Make ``sampler`` the fallback model for code running inside this block (one request).
    A plain context manager: every tool call enters one."""

    __slots__ = ("_sampler", "_token")

    def __init__(self, sampler: Sampler | None) -> None:
        self._sampler = sampler
        self._token: contextvars.Token[Sampler | None] | None = None

    def __enter__(self) -> None:
        self._token = _sampler.set(self._sampler)

    def __exit__(self, *_exc: object) -> None:
        if self._token is not None:
            _sampler.reset(self._token)


@contextlib.contextmanager
def use_anthropic_client(client: Any) -> Iterator[None]:
    """Use this ``anthropic.AsyncAnthropic`` inside the block (tests pass one with a fake transport)."""
    token = _anthropic.set(client)
    try:
        yield
    finally:
        _anthropic.reset(token)


def backend() -> str | None:
    """``"anthropic"``, ``"sampling"`` or None: which model a call made now would reach."""
    if os.environ.get(API_KEY_ENV):
        return "anthropic"
    sampler = _sampler.get()
    if sampler is not None and sampler.can_sample():
        return "sampling"
    return None


def _anthropic_client() -> Any:
    given = _anthropic.get() or _clients.get("override")
    if given is not None:
        return given
    key = os.environ[API_KEY_ENV]
    client = _clients.get(key)
    if client is None:
        import anthropic

        client = anthropic.AsyncAnthropic(api_key=key, max_retries=1, timeout=DEFAULT_TIMEOUT)
        _clients[key] = client
    return client


def _model() -> str:
    return os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def _text_of(content: Any) -> str:
    parts = [getattr(block, "text", "") for block in content if getattr(block, "type", None) == "text"]
    return "".join(parts)


async def complete(prompt: str, *, system: str | None = None, max_tokens: int = 1024) -> str | None:
    """The model's text answer to ``prompt``, or None (no model, or it failed).

    Raises ``InputRequired`` when the client answers with a retry (see docs/architecture.md, "Input required")."""
    which = backend()
    try:
        if which == "anthropic":
            message = await _anthropic_client().messages.create(
                model=_model(),
                max_tokens=max_tokens,
                messages=[{"role": "user", "content": prompt}],
                **({"system": system} if system else {}),
            )
            return _text_of(message.content)
        if which == "sampling":
            sampler = _sampler.get()
            assert sampler is not None
            return await sampler.sample(prompt, system=system, max_tokens=max_tokens, temperature=None)
    except (anyio.get_cancelled_exc_class(), InputRequired):
        raise
    except Exception as exc:  # noqa: BLE001 - a model's fault (API, client, transport) is logged, never raised
        log.warning("language model (%s) failed: %s: %s", which, type(exc).__name__, exc)
    return None


def _json_in(text: str) -> Any:
    """The JSON value in a model's text: the whole text, a fenced block, or the outermost braces."""
    candidates = [text.strip()]
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        candidates.append(fenced.group(1).strip())
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ValueError("no JSON object in the model's answer")


async def structured(
    prompt: str, model: type[M], *, system: str | None = None, max_tokens: int = 2048, name: str = "answer"
) -> M | None:
    """Ask for an answer shaped like ``model`` and validate it; None when there is no model, it
    failed, or its answer does not validate (invalid output never reaches the caller).

    Raises ``InputRequired`` when the client answers with a retry (see docs/architecture.md, "Input required")."""
    which = backend()
    schema = model.model_json_schema()
    try:
        if which == "anthropic":
            # Structured output through a forced tool call: the tool's input schema is the model's.
            message = await _anthropic_client().messages.create(
                model=_model(),
                max_tokens=max_tokens,
                messages=[{"role": "user", "content": prompt}],
                tools=[{"name": name, "description": f"Record the {name}.", "input_schema": schema}],
                tool_choice={"type": "tool", "name": name},
                **({"system": system} if system else {}),
            )
            for block in message.content:
                if getattr(block, "type", None) == "tool_use":
                    return model.model_validate(block.input)
            return model.model_validate(_json_in(_text_of(message.content)))
        if which == "sampling":
            sampler = _sampler.get()
            assert sampler is not None
            ask = (
                f"{prompt}\n\nAnswer with one JSON object only, no prose, matching this JSON schema:\n"
                f"{json.dumps(schema, ensure_ascii=False)}"
            )
            text = await sampler.sample(ask, system=system, max_tokens=max_tokens, temperature=None)
            return model.model_validate(_json_in(text))
    except (anyio.get_cancelled_exc_class(), InputRequired):
        raise
    except (ValueError, pydantic.ValidationError) as exc:
        log.warning("language model (%s) gave an invalid %s: %s", which, name, str(exc)[:300])
    except Exception as exc:  # noqa: BLE001 - a model's fault (API, client, transport) is logged, never raised
        log.warning("language model (%s) failed: %s: %s", which, type(exc).__name__, exc)
    return None
