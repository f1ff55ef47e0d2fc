"""Resumable streamable HTTP: the SDK's ``EventStore`` kept in memory, one scope per session.

On stateful HTTP every message the server sends on an SSE stream gets an event id and is kept
here, and each stream opens with a priming event (an id and a ``retry`` field, in milliseconds).
A client whose stream broke (a dropped connection, a proxy timeout) reconnects with ``GET`` and
``Last-Event-ID`` and receives what it missed, the call's result included, instead of losing it.

The SDK hands one store to every session's transport and names streams by the client's request
ids (``"1"``, ``"_GET_stream"``), which repeat from session to session; a store shared as it is
would replay one session's messages into another. Each transport therefore gets a scope of its
own (``scope_sessions``): replay only ever follows an event stored through the same scope.

Memory is bounded: the oldest events go first once ``[server] resumable_events`` are kept (a
client that was away longer than that gets nothing replayed, as without a store).
"""

from __future__ import annotations

import collections
import logging
import uuid
from typing import Any

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.types import JSONRPCMessage
from mcp_types.jsonrpc import jsonrpc_message_adapter

from plugyard.mcp_server import _sdk

log = logging.getLogger("plugyard.serve")

_Key = tuple[str, StreamId]
_Stored = JSONRPCMessage | dict[str, Any] | None
"""A message as the SDK's transport stores it, or as the session lane wrote it (JSON, validated on replay)."""


class MemoryEventStore:
    """The recent events of every session, at most ``limit`` in all, oldest dropped first."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._events: collections.OrderedDict[EventId, tuple[_Key, _Stored]] = collections.OrderedDict()
        self._streams: dict[_Key, collections.deque[EventId]] = {}

    def __len__(self) -> int:
        return len(self._events)

    def scoped(self, scope: str) -> ScopedEventStore:
        return ScopedEventStore(self, scope)

    def store(self, scope: str, stream_id: StreamId, message: _Stored) -> EventId:
        event_id = uuid.uuid4().hex  # unguessable: an id is what lets a client replay a stream
        key = (scope, stream_id)
        self._events[event_id] = (key, message)
        self._streams.setdefault(key, collections.deque()).append(event_id)
        while len(self._events) > self.limit:
            _oldest, (old_key, _message) = self._events.popitem(last=False)
            stream = self._streams[old_key]
            stream.popleft()  # a stream's oldest event is the oldest of all that remain of it
            if not stream:
                del self._streams[old_key]
        return event_id

    def after(self, scope: str, last_event_id: EventId) -> tuple[StreamId, list[tuple[EventId, JSONRPCMessage]]] | None:
        """The stream of ``last_event_id`` and its messages stored since, if that event is this scope's."""
        found = self._events.get(last_event_id)
        if found is None or found[0][0] != scope:
            return None
        key = found[0]
        stream = list(self._streams.get(key, ()))
        later = stream[stream.index(last_event_id) + 1 :]
        stored = [(event_id, self._events[event_id][1]) for event_id in later]
        return key[1], [(event_id, _model(message)) for event_id, message in stored if message is not None]


def _model(message: JSONRPCMessage | dict[str, Any]) -> JSONRPCMessage:
    return jsonrpc_message_adapter.validate_python(message) if isinstance(message, dict) else message


class ScopedEventStore(EventStore):
    """What one session's transport sees of the shared store."""

    def __init__(self, shared: MemoryEventStore, scope: str) -> None:
        self._shared = shared
        self._scope = scope

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        return self._shared.store(self._scope, stream_id, message)

    def store_wire(self, stream_id: StreamId, message: dict[str, Any] | None) -> EventId:
        """``store_event`` for a message the session lane sends as JSON (a model only if it is replayed)."""
        return self._shared.store(self._scope, stream_id, message)

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        found = self._shared.after(self._scope, last_event_id)
        if found is None:
            log.debug("Last-Event-ID %s is not this session's (or no longer kept): nothing to replay", last_event_id)
            return None
        stream_id, messages = found
        for event_id, message in messages:
            await send_callback(EventMessage(message, event_id))
        return stream_id


def scope_sessions(manager: StreamableHTTPSessionManager, shared: MemoryEventStore) -> bool:
    """Give every session ``manager`` opens its own scope of ``shared``. False (and resumability
    stays off) if the SDK no longer has the seam this needs: a store shared unscoped would leak."""
    scoped = _sdk.scope_session_event_stores(manager, lambda sid: shared.scoped(sid or uuid.uuid4().hex))
    if not scoped:
        log.warning("this mcp SDK has no StreamableHTTPSessionManager._admit_session: HTTP streams are not resumable")
    return scoped
