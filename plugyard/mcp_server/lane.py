"""The stdio lane: a handshake-era ``tools/call`` for a plugin tool answered past the SDK's server session.

On stdio every message passes plugyard's own transport (``stdio.py``) as a line before the SDK parses it.
For the calls that need nothing of the SDK's session, that line is read here with ``json.loads``, the call
runs through the same ``PlugyardServer.call_plugin_tool`` as any other (pipeline, hooks, timeout,
recording, result conversion), and its answer is written as one JSON line: the SDK's request models, its
dispatcher task and its response models are skipped, most of what a call to a fast tool costs.

Taken on the lane, and only these: a ``tools/call`` request (an integer or string id, a tool name, an
arguments object or none, no ``_meta`` but a progress token) for a tool of the host, on a session whose
client asked at its handshake for a protocol version this lane speaks (``VERSIONS``) and declared neither
sampling nor elicitation (nothing in the call can need a server-to-client request), once the client said
``notifications/initialized``. Everything else goes to the SDK as before, including every 2026-07-28
request. The lane watches what passes to know that: the ``initialize`` request, ``logging/setLevel`` (log
messages of lane calls honour the level, as ``client_channel.py`` does), and ``notifications/cancelled``
for a call it runs (cancelled, recorded as such, never answered, as the SDK does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import anyio
import anyio.abc
import pydantic
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.methods import serialize_server_result
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from plugyard.core.client import LOG_LEVELS, Elicitation, LogLevel
from plugyard.core.errors import ClientFeatureUnavailable
from plugyard.mcp_server.client_channel import undeclared

if TYPE_CHECKING:
    from plugyard.mcp_server.server import PlugyardServer

log = logging.getLogger("plugyard.mcp_server")

M = TypeVar("M", bound=pydantic.BaseModel)

VERSIONS = frozenset({"2025-06-18", "2025-11-25"})
"""Protocol versions whose ``tools/call`` answer the lane writes (the result shape of both is the same)."""
_WATCHED = (b'"initialize"', b'"notifications/initialized"', b'"logging/setLevel"', b'"notifications/cancelled"')
_INTERNAL_ERROR = -32603


class Lane(Protocol):
    """Where a lane call's messages go: its connection (stdio) or its response stream (HTTP)."""

    @property
    def floor(self) -> LogLevel | None:
        """The lowest level of log message the client gets; None for none at all."""
        ...

    async def send(self, message: dict[str, Any]) -> None: ...

    def unavailable(self, feature: str) -> str:
        """Why a call on this lane cannot ask its client for ``feature`` (sampling, elicitation)."""
        ...


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class LaneChannel:
    """``ToolContext.log`` / ``sample`` / ``elicit`` for a call on the lane: log messages as notifications
    at the session's level; no sampling and no elicitation (the client declared neither)."""

    __slots__ = ("_lane",)

    pending: dict[str, Any] = {}  # noqa: RUF012 - never filled: nothing asks the client on the lane

    def __init__(self, lane: Lane) -> None:
        self._lane = lane

    async def log(self, level: LogLevel, data: Any, logger: str | None) -> None:
        floor = self._lane.floor
        if floor is None or LOG_LEVELS.index(level) < LOG_LEVELS.index(floor):
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        try:
            await self._lane.send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})
        except (TypeError, ValueError) as exc:  # data that is not JSON: dropped, as a lost log line is
            log.debug("log message to the client dropped: %s", exc)

    def can_sample(self) -> bool:
        return False

    def input_required(self) -> Any:
        raise AssertionError("nothing asks the client on the lane")  # ``pending`` stays empty

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str:
        raise ClientFeatureUnavailable(self._lane.unavailable("sampling"))

    async def elicit(self, message: str, schema: type[M]) -> Elicitation[M]:
        raise ClientFeatureUnavailable(self._lane.unavailable("elicitation"))


class StdioLane:
    """One stdio connection's lane (see the module's docstring)."""

    def __init__(
        self,
        server: PlugyardServer,
        write_line: Callable[[str], Awaitable[None]],
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        self._server = server
        self._write_line = write_line
        self._tasks = tasks
        self._eligible = False
        """The client's handshake allows the lane (a version it speaks, no sampling, no elicitation)."""
        self._version = ""
        """The protocol version the client asked for at its handshake (the lane only opens for one it speaks)."""
        self.open = False
        self.floor: LogLevel = "debug"
        """The lowest level of log message the client gets (``logging/setLevel``; everything until it sets one)."""
        self._running: dict[tuple[type, int | str], anyio.CancelScope] = {}
        self.answered = 0
        """Calls answered on the lane, since the connection opened."""

    async def send(self, message: dict[str, Any]) -> None:
        await self._write_line(_dumps(message))

    def unavailable(self, feature: str) -> str:
        return undeclared(feature)

    def take(self, line: bytes) -> bool:
        """Whether ``line`` is the lane's (a call it now runs, or the cancellation of one it runs); else it
        goes to the SDK. Never raises: a line the lane cannot read is the SDK's to answer."""
        if b'"tools/call"' in line:
            return self.open and self._call(line)
        if any(marker in line for marker in _WATCHED):
            return self._watch(line)
        return False

    def _watch(self, line: bytes) -> bool:
        message = _object(line)
        if message is None:
            return False
        method, params = message.get("method"), message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "initialize" and "id" in message:
            capabilities = params.get("capabilities")
            capabilities = capabilities if isinstance(capabilities, dict) else {}
            self._version = str(params.get("protocolVersion"))
            self._eligible = (
                self._version in VERSIONS
                and capabilities.get("sampling") is None
                and capabilities.get("elicitation") is None
            )
            self.open = False
        elif method == "notifications/initialized":
            self.open = self._eligible
        elif method == "logging/setLevel" and params.get("level") in LOG_LEVELS:
            self.floor = params["level"]
        elif method == "notifications/cancelled":
            scope = self._running.get(_key(params.get("requestId")))
            if scope is not None:
                scope.cancel()
                return True
        return False

    def _call(self, line: bytes) -> bool:
        if not self._server.lanes_open:
            return False  # telemetry on: the SDK's span per request is wanted
        call = read_call(line, self._server)
        if call is None:
            return False
        key = _key(call.request_id)
        if key in self._running:
            return False  # an id already in flight: the SDK's to refuse
        scope = anyio.CancelScope()
        self._running[key] = scope
        self._tasks.start_soon(self._run, scope, key, call)
        return True

    async def _run(
        self,
        scope: anyio.CancelScope,
        key: tuple[type, int | str],
        call: Call,
    ) -> None:
        answer: dict[str, Any] | None = None
        try:
            with scope:
                answer = await answer_call(self._server, self, call, self._server.connection_id, self._version)
        finally:
            self._running.pop(key, None)
        if answer is None:
            return  # cancelled by its client (never answered) or by the server stopping
        self.answered += 1
        await self.send(answer)


class Call(NamedTuple):
    """A ``tools/call`` a lane takes."""

    request_id: int | str
    name: str
    arguments: dict[str, Any]
    token: int | str | None
    """Its progress token."""
    meta: dict[str, Any]
    """Its ``_meta`` (keys a lane allowed)."""


PROGRESS_ONLY = frozenset({"progressToken"})


def read_call(raw: bytes, server: PlugyardServer, meta_keys: frozenset[str] = PROGRESS_ONLY) -> Call | None:
    """The ``tools/call`` request in ``raw`` (one JSON-RPC message) if a lane may answer it (``call_in``);
    else None (the SDK's to answer, or to refuse). Never raises."""
    message = read_message(raw)
    return None if message is None else call_in(message, server, meta_keys)


def read_message(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as one JSON object, or None (not JSON, not an object, or an escaped surrogate: a lone one is
    the SDK's to refuse, where ``json.loads`` would take it)."""
    if b"\\ud" in raw or b"\\uD" in raw:
        return None
    return _object(raw)


def call_in(message: dict[str, Any], server: PlugyardServer, meta_keys: frozenset[str] = PROGRESS_ONLY) -> Call | None:
    """``message`` as a call a lane may answer: a ``tools/call`` request with an integer or string id, a tool
    of the host, an arguments object or none, no ``_meta`` keys but ``meta_keys`` (a progress token by
    default); else None."""
    if message.get("method") != "tools/call" or message.get("jsonrpc") != "2.0":
        return None
    if not set(message) <= {"jsonrpc", "id", "method", "params"}:
        return None
    request_id = message.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    params = message.get("params")
    if not isinstance(params, dict) or not set(params) <= {"name", "arguments", "_meta"}:
        return None
    name, arguments, meta = params.get("name"), params.get("arguments"), params.get("_meta")
    if not isinstance(name, str) or not server.host.serves_tool(name):
        return None
    if arguments is not None and not isinstance(arguments, dict):
        return None
    token = None
    if meta is not None:
        if not isinstance(meta, dict) or not set(meta) <= meta_keys:
            return None
        token = meta.get("progressToken")
        if token is not None and (isinstance(token, bool) or not isinstance(token, int | str)):
            return None
    return Call(request_id, name, arguments or {}, token, meta or {})


async def answer_call(
    server: PlugyardServer,
    lane: Lane,
    call: Call,
    session_id: str | None,
    version: str,
) -> dict[str, Any]:
    """Run a call a lane took, through the same path as any other; its JSON-RPC answer. Progress and log
    messages go out through ``lane.send`` meanwhile. Cancelled: raises the cancellation, never answers."""
    request_id, name, arguments, token, _meta = call
    progress = None
    if token is not None:

        async def progress(value: float, total: float | None, message: str | None) -> None:
            params: dict[str, Any] = {"progressToken": token, "progress": value}
            if total is not None:
                params["total"] = total
            if message is not None:
                params["message"] = message
            await lane.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    try:
        result = await server.call_plugin_tool(
            name, arguments, progress=progress, channel=LaneChannel(lane), session_id=session_id
        )
    except Exception as exc:
        log.exception("the lane could not answer tools/call %r", name)
        error = {"code": _INTERNAL_ERROR, "message": f"plugyard could not answer the call: {exc}"}
        return {"jsonrpc": "2.0", "id": request_id, "error": error}
    return {"jsonrpc": "2.0", "id": request_id, "result": wire_result(server, result, version)}


def wire_result(server: PlugyardServer, result: pydantic.BaseModel, version: str) -> dict[str, Any]:
    """A ``tools/call`` result as the SDK writes it for ``version`` (its runner's ``_serialize``): dumped, sieved
    by the version's surface, and on 2026-07-28 marked complete and stamped with the server's identity."""
    dumped = serialize_server_result(
        "tools/call", version, result.model_dump(by_alias=True, mode="json", exclude_none=True)
    )
    if version in MODERN_PROTOCOL_VERSIONS:
        if dumped.get("resultType") is None:
            dumped["resultType"] = "complete"
        meta = dumped.get("_meta")
        if meta is None:
            dumped["_meta"] = {SERVER_INFO_META_KEY: server.server_info_stamp()}
        elif isinstance(meta, dict) and meta.get(SERVER_INFO_META_KEY) is None:
            dumped["_meta"] = {**meta, SERVER_INFO_META_KEY: server.server_info_stamp()}
    return dumped


def _key(request_id: Any) -> tuple[type, int | str]:
    """A request id as the lane keeps it: 1 and "1" are different requests."""
    return (type(request_id), request_id)


def _object(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        return None
    return message if isinstance(message, dict) else None
