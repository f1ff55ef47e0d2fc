"""The in-memory event store behind resumable HTTP: one scope per session, bounded, in order."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.streamable_http import EventMessage, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.types import JSONRPCNotification

from plugyard.mcp_server.events import MemoryEventStore, scope_sessions

pytestmark = pytest.mark.anyio


def note(n: int) -> Any:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"n": n})


async def replayed(store: Any, last: str) -> tuple[str | None, list[int]]:
    seen: list[int] = []

    async def send(event: EventMessage) -> None:
        seen.append(event.message.params["n"])

    return await store.replay_events_after(last, send), seen


async def test_replay_follows_one_stream_of_one_session_after_the_given_event():
    shared = MemoryEventStore()
    alice, bob = shared.scoped("alice"), shared.scoped("bob")
    first = await alice.store_event("2", None)  # the priming event: never replayed itself
    await bob.store_event("2", note(100))  # the same stream name in another session
    await alice.store_event("2", note(1))
    await alice.store_event("_GET_stream", note(50))  # another stream of the same session
    await alice.store_event("2", note(2))
    assert await replayed(alice, first) == ("2", [1, 2])
    assert await replayed(bob, first) == (None, [])
    assert await replayed(alice, "unknown-id") == (None, [])


async def test_the_store_keeps_at_most_its_limit_dropping_the_oldest():
    shared = MemoryEventStore(limit=3)
    scope = shared.scoped("s")
    ids = [await scope.store_event("2", note(i)) for i in range(5)]
    assert len(shared) == 3
    assert await replayed(scope, ids[0]) == (None, [])  # forgotten
    assert await replayed(scope, ids[2]) == ("2", [3, 4])


def test_each_session_of_a_manager_gets_its_own_scope():
    # The SDK seam this needs (StreamableHTTPSessionManager._admit_session, and the transport's
    # _event_store it sets): if an upgrade moves either, this test names it.
    manager = StreamableHTTPSessionManager(app=object())  # type: ignore[arg-type]
    assert hasattr(manager, "_admit_session"), "StreamableHTTPSessionManager._admit_session is gone"
    assert scope_sessions(manager, MemoryEventStore())
    first, second = manager._admit_session(None), manager._admit_session(None)
    assert isinstance(first, StreamableHTTPServerTransport)
    assert first._event_store is not None and second._event_store is not None, "transport._event_store is gone"
    assert first._event_store._scope == first.mcp_session_id != second._event_store._scope


def test_without_the_seam_resumability_stays_off():
    class Bare:
        pass

    assert scope_sessions(Bare(), MemoryEventStore()) is False  # type: ignore[arg-type]
