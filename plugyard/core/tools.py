"""Tools: what a plugin registers, the registry of names, and the call pipeline.

The pipeline is the journey of every call: validate -> before hooks -> run under a timeout -> after hooks.
It never raises for a tool's fault: it returns a ``ToolOutcome``. Cancellation is always re-raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
import pydantic
import pydantic_core
import sniffio

from plugyard.core.calls import ProgressReporter, ToolCall, ToolContext, ToolOutcome, Veto
from plugyard.core.client import ClientChannel, HostEvents
from plugyard.core.content import raise_reported_error
from plugyard.core.deadlines import Watchdog, new_call_id
from plugyard.core.errors import (
    InvalidArguments,
    PluginError,
    ToolCallError,
    ToolFailed,
    ToolNameClash,
    ToolTimeout,
    ToolVetoed,
    UnknownTool,
)
from plugyard.core.tool_search import PROXY_TOOL, unwrap

log = logging.getLogger("plugyard.tools")

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DEFAULT_TIMEOUT = 30.0
MAX_ARGUMENT_BYTES = 1 << 20

BeforeHook = Callable[..., Any]
AfterHook = Callable[..., Any]


@dataclasses.dataclass(slots=True)
class Tool:
    """A registered tool: a typed Python function, sync or async, plus what plugyard knows of it."""

    name: str
    fn: Callable[..., Any]
    plugin: str
    description: str
    input_schema: dict[str, Any]
    arg_model: type[pydantic.BaseModel]
    context_param: str | None
    is_async: bool
    title: str | None = None
    timeout: float | None = None
    capabilities: tuple[str, ...] = ()
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None
    structured_output: bool | None = None
    discovery: bool = False
    """The tool finds other tools (a search): listed while tool search hides the rest (``core/tool_search.py``)."""
    output_schema: dict[str, Any] | None = None  # given with input_schema (core/schema_tools.py), else the adapter's
    source: str | None = None  # where its answers come from beyond its plugin (an upstream server): recorded


def _is_context_hint(hint: Any) -> bool:
    if hint is ToolContext:
        return True
    # ``ToolContext | None`` (or Optional[ToolContext]) asks for the context too.
    return ToolContext in typing.get_args(hint) and all(
        arg is ToolContext or arg is type(None) for arg in typing.get_args(hint)
    )


def _context_param(sig: inspect.Signature, hints: Mapping[str, Any]) -> str | None:
    for name in sig.parameters:
        if _is_context_hint(hints.get(name)):
            return name
    return None


def build_tool(
    fn: Callable[..., Any],
    *,
    plugin: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    capabilities: Sequence[str] = (),
    read_only: bool | None = None,
    destructive: bool | None = None,
    idempotent: bool | None = None,
    open_world: bool | None = None,
    structured_output: bool | None = None,
    discovery: bool = False,
) -> Tool:
    """Describe ``fn`` as a tool. Its input schema is the pydantic model of its signature."""
    tool_name = name if name is not None else getattr(fn, "__name__", "")
    if not TOOL_NAME.fullmatch(tool_name):
        raise PluginError(
            plugin,
            f"tool name {tool_name!r} is invalid: names must match {TOOL_NAME.pattern} "
            "(letters, digits, '_' and '-', at most 64 characters)",
        )
    if timeout is not None and timeout <= 0:
        raise PluginError(plugin, f"tool {tool_name!r}: timeout must be positive, got {timeout!r}")
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except (NameError, TypeError, ValueError) as exc:
        raise PluginError(plugin, f"tool {tool_name!r}: cannot read its signature: {exc}") from exc
    ctx_param = _context_param(sig, hints)
    fields: dict[str, Any] = {}
    for param in sig.parameters.values():
        if param.name == ctx_param:
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise PluginError(plugin, f"tool {tool_name!r}: *args and **kwargs cannot be described as a schema")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise PluginError(plugin, f"tool {tool_name!r}: positional-only parameter {param.name!r}")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    model_name = "".join(part.capitalize() for part in re.split(r"[_-]", tool_name)) + "Arguments"
    try:
        arg_model = pydantic.create_model(
            model_name,
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=False),
            **fields,
        )
        schema = arg_model.model_json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError) as exc:
        raise PluginError(plugin, f"tool {tool_name!r}: its parameters have no JSON schema: {exc}") from exc
    schema.pop("title", None)
    return Tool(
        name=tool_name,
        fn=fn,
        plugin=plugin,
        description=inspect.cleandoc(description or fn.__doc__ or ""),
        input_schema=schema,
        arg_model=arg_model,
        context_param=ctx_param,
        is_async=inspect.iscoroutinefunction(fn),
        title=title,
        timeout=timeout,
        capabilities=tuple(capabilities),
        read_only=read_only,
        destructive=destructive,
        idempotent=idempotent,
        open_world=open_world,
        structured_output=structured_output,
        discovery=discovery,
    )


class ToolRegistry:
    """Tools by name. A name is owned by the first plugin that registers it.

    ``generation`` counts the changes: whatever is computed from the tools (a search index, a
    listing) is stale once it moved."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self.generation = 0

    def add(self, tool: Tool) -> None:
        existing = self._tools.get(tool.name)
        if existing is not None:
            raise ToolNameClash(tool.name, existing.plugin, tool.plugin)
        self._tools[tool.name] = tool
        self.generation += 1

    def remove(self, name: str) -> Tool | None:
        """Unregister one tool (a plugin re-registering its tools); returns it, or None if absent."""
        tool = self._tools.pop(name, None)
        if tool is not None:
            self.generation += 1
        return tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def __iter__(self) -> typing.Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def by_plugin(self, plugin: str) -> list[Tool]:
        return [t for t in self._tools.values() if t.plugin == plugin]

    def with_capability(self, capability: str) -> list[Tool]:
        return [t for t in self._tools.values() if capability in t.capabilities]


async def _invoke(tool: Tool, kwargs: dict[str, Any]) -> Any:
    if tool.is_async:
        return await tool.fn(**kwargs)
    return await anyio.to_thread.run_sync(partial(tool.fn, **kwargs), abandon_on_cancel=True)


def _describe_validation(tool: Tool, exc: pydantic.ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        problems.append(f"{where}: {err['msg']}")
    return f"invalid arguments for tool {tool.name!r}: " + "; ".join(problems)


def _storable(text: str) -> str:
    """``text`` without what a database refuses in a string (PostgreSQL: NUL; either: lone surrogates),
    so that one odd message cannot make its whole history batch fail."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fatal_text(tool: Tool, exc: BaseException) -> str:
    """For what a tool may not raise (it would stop the server, or pass for a cancellation)."""
    return (
        f"tool {tool.name!r} of plugin {tool.plugin!r} raised {_error_text(exc)}, which would stop the "
        "server; the call failed instead"
    )


CANCELLED = "Cancelled"
"""``error_type`` of a call cancelled before it finished (by its client, or a server stopping)."""
CANCELLED_HOOKS_SECONDS = 2.0
"""How long the ``after_tool_call`` hooks of a cancelled call may take before they are cut short."""


class ToolPipeline:
    """Runs calls: validate -> before_tool_call -> tool under timeout -> after_tool_call.

    ``before`` and ``after`` are (plugin name, hook function) pairs, called one at a time so that
    a failing implementation is logged and isolated from the others and from the caller.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        before: Sequence[tuple[str, BeforeHook]] = (),
        after: Sequence[tuple[str, AfterHook]] = (),
        default_timeout: float = DEFAULT_TIMEOUT,
        max_argument_bytes: int = MAX_ARGUMENT_BYTES,
        timeouts: Mapping[str, float] | None = None,
        settings: Mapping[str, Any] | None = None,
        events: HostEvents | None = None,
    ) -> None:
        self.registry = registry
        self._before = list(before)
        self._after = list(after)
        self._default_timeout = default_timeout
        self._max_argument_bytes = max_argument_bytes
        self._timeouts = dict(timeouts or {})
        self._settings = dict(settings or {})
        self._events = events
        self._watchdog: Watchdog | None = None
        self.convert_result: Callable[[Tool, Any], Any] | None = None
        """The adapter's conversion of a successful result into what its client gets, run before the
        after hooks so that what is recorded is what the client got: when it raises (the result does not
        fit the tool's declared return type), the call fails. Its value is the outcome's ``converted``."""

    def timeout_for(self, tool: Tool) -> float:
        return self._timeouts.get(tool.name) or tool.timeout or self._default_timeout

    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        user_id: str,
        session_id: str | None = None,
        call_id: str | None = None,
        progress: ProgressReporter | None = None,
        client: ClientChannel | None = None,
        intent: str | None = None,
        workflow_run_id: str | None = None,
    ) -> ToolOutcome:
        """Run one call through the pipeline. Raises ``UnknownTool`` only; every other failure
        is a recorded, unsuccessful outcome. ``call_tool`` (``core/tool_search.py``) runs the tool it
        names, as that tool."""
        tool = self.registry.get(name)
        if tool is None and name == PROXY_TOOL:
            name, arguments = unwrap(arguments)
            tool = self.registry.get(name)
        if tool is None:
            known = ", ".join(sorted(t.name for t in self.registry)) or "none"
            raise UnknownTool(f"unknown tool {name!r} (tools available: {known})")
        args: Mapping[str, Any] = arguments if arguments is not None else {}
        refusal = self._oversize(tool, args)
        if refusal is not None:
            # The call is recorded as refused, without the payload that was refused.
            args = {"[omitted]": refusal}
        call = ToolCall(
            call_id=call_id or new_call_id(),
            tool_name=name,
            plugin_name=tool.plugin,
            arguments=args,
            user_id=user_id,
            session_id=session_id,
            started_at=datetime.now(UTC),
            intent=intent,
            workflow_run_id=workflow_run_id,
            source=tool.source,
        )
        return await self._journey(tool, call, args, refusal, progress, client)

    async def _journey(
        self,
        tool: Tool,
        call: ToolCall,
        args: Mapping[str, Any],
        refusal: str | None,
        progress: ProgressReporter | None,
        client: ClientChannel | None,
    ) -> ToolOutcome:
        """The call from validation to its recorded outcome (``TracedToolPipeline`` wraps it in a span)."""
        name = tool.name
        start = time.perf_counter()
        try:
            if refusal is not None:
                raise InvalidArguments(refusal)
            result = raise_reported_error(await self._run(tool, call, args, progress, client), name)
            try:
                size = len(pydantic_core.to_json(result))
            except pydantic_core.PydanticSerializationError as exc:
                raise ToolFailed(
                    f"tool {tool.name!r} of plugin {tool.plugin!r} returned a value that cannot be serialised: {exc}"
                ) from None  # the message says it all; a cause would mark it as the tool's own exception
            converted = None if self.convert_result is None else self._convert(tool, result)
            outcome = ToolOutcome(
                call=call,
                success=True,
                duration_ms=(time.perf_counter() - start) * 1000.0,
                result=result,
                result_size=size,
                converted=converted,
            )
        except ToolCallError as exc:
            cause = exc.__cause__ if isinstance(exc, ToolFailed) and exc.__cause__ is not None else None
            outcome = ToolOutcome(
                call=call,
                success=False,
                duration_ms=(time.perf_counter() - start) * 1000.0,
                error_type=type(cause).__name__ if cause is not None else exc.kind,
                error_message=_storable(str(exc)),
                error=exc,
            )
        except anyio.get_cancelled_exc_class():
            # The client cancelled the call, went away (stdin closed), or the server is stopping: the call
            # was made, so it is recorded, shielded and briefly (a hook must not hold a stopping server).
            outcome = ToolOutcome(
                call=call,
                success=False,
                duration_ms=(time.perf_counter() - start) * 1000.0,
                error_type=CANCELLED,
                error_message=f"the call to tool {name!r} was cancelled before it finished",
            )
            with anyio.move_on_after(CANCELLED_HOOKS_SECONDS, shield=True):
                await self._after_hooks(call, outcome)
            raise
        await self._after_hooks(call, outcome)
        return outcome

    def _convert(self, tool: Tool, result: Any) -> Any:
        assert self.convert_result is not None
        try:
            return self.convert_result(tool, result)
        except Exception as exc:  # noqa: BLE001 - a plugin's result that fits no schema is a failed call
            raise ToolFailed(
                f"tool {tool.name!r} of plugin {tool.plugin!r} returned a result that does not match its declared "
                f"return type: {exc}"
            ) from None

    def _oversize(self, tool: Tool, args: Mapping[str, Any]) -> str | None:
        try:
            size = len(pydantic_core.to_json(args))
        except (ValueError, RecursionError) as exc:
            return f"arguments for tool {tool.name!r} cannot be encoded as JSON: {exc}"
        if size > self._max_argument_bytes:
            return (
                f"arguments for tool {tool.name!r} are {size:,} bytes of JSON; the limit is "
                f"{self._max_argument_bytes:,} ([tools] max_argument_bytes in plugins.toml)"
            )
        return None

    async def _run(
        self,
        tool: Tool,
        call: ToolCall,
        args: Mapping[str, Any],
        progress: ProgressReporter | None,
        client: ClientChannel | None = None,
    ) -> Any:
        try:
            validated = tool.arg_model.model_validate(args)
        except pydantic.ValidationError as exc:
            raise InvalidArguments(_describe_validation(tool, exc)) from None
        await self._before_hooks(call)
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        if tool.context_param is not None:
            kwargs[tool.context_param] = ToolContext(
                user_id=call.user_id,
                session_id=call.session_id,
                call_id=call.call_id,
                tool_name=tool.name,
                plugin_name=tool.plugin,
                settings=self._settings.get(tool.plugin),
                _progress=progress,
                _client=client,
                _events=self._events,
            )
        timeout = self.timeout_for(tool)
        on_asyncio = sniffio.current_async_library() == "asyncio"
        task = asyncio.current_task() if on_asyncio else None
        cancelling = task.cancelling() if task is not None else 0
        try:
            # On asyncio, one shared timer for all running calls (core/deadlines.py): a cancel scope
            # or a timer per call would otherwise be most of the pipeline's own overhead per call.
            if on_asyncio:
                loop = asyncio.get_running_loop()
                watchdog = self._watchdog
                if watchdog is None or watchdog.loop is not loop:
                    watchdog = self._watchdog = Watchdog(loop)
                return await watchdog.run(timeout, _invoke(tool, kwargs))
            with anyio.fail_after(timeout) as scope:
                result = await _invoke(tool, kwargs)
            if scope.cancel_called:
                raise TimeoutError  # it caught its cancellation and finished anyway, past its deadline
            return result
        except TimeoutError:
            raise ToolTimeout(
                f"tool {tool.name!r} of plugin {tool.plugin!r} did not finish within {timeout:g} s "
                f"(set [tools.{tool.name}] timeout in plugins.toml to allow longer)"
            ) from None
        except ToolCallError:
            raise
        except anyio.get_cancelled_exc_class() as exc:
            if task is None or task.cancelling() > cancelling:
                raise  # cancelled from outside (the client, a stopping server): cancellation goes on
            # asyncio.CancelledError raised by the tool itself, nobody cancelled it: the tool's fault.
            raise ToolFailed(_fatal_text(tool, exc)) from exc
        except Exception as exc:
            log.debug("tool %r of plugin %r raised:", tool.name, tool.plugin, exc_info=exc)  # -vv: file and line
            raise ToolFailed(_error_text(exc)) from exc
        except BaseException as exc:  # sys.exit(), KeyboardInterrupt...: a tool must not stop the server
            raise ToolFailed(_fatal_text(tool, exc)) from exc

    async def _before_hooks(self, call: ToolCall) -> None:
        for plugin, hook in self._before:
            try:
                verdict = hook(call=call)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
            except anyio.get_cancelled_exc_class():
                raise
            except Exception:
                log.exception("before_tool_call of plugin %r failed for tool %r; ignored", plugin, call.tool_name)
                continue
            if isinstance(verdict, Veto):
                raise ToolVetoed(
                    f"call to tool {call.tool_name!r} refused by plugin {plugin!r}: {verdict.reason}", plugin
                )

    async def _after_hooks(self, call: ToolCall, outcome: ToolOutcome) -> None:
        for plugin, hook in self._after:
            try:
                done = hook(call=call, outcome=outcome)
                if inspect.isawaitable(done):
                    await done
            except anyio.get_cancelled_exc_class():
                raise
            except Exception:
                log.exception("after_tool_call of plugin %r failed for tool %r; ignored", plugin, call.tool_name)
