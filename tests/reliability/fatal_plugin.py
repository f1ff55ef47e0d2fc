"""Tools that raise what would stop a server, or pass for a cancellation (tests/reliability/test_containment.py)."""

from __future__ import annotations

import asyncio
import sys
import time

from plugyard import hookimpl


class Odd(BaseException):
    """Neither an Exception nor a signal: a bare BaseException."""


def exit_sync() -> str:
    sys.exit(3)


async def exit_async() -> str:
    sys.exit("bye")


def interrupt_sync() -> str:
    raise KeyboardInterrupt


async def interrupt_async() -> str:
    raise KeyboardInterrupt


def base_sync() -> str:
    raise Odd("odd")


async def base_async() -> str:
    raise Odd("odd")


def cancelled_sync() -> str:
    raise asyncio.CancelledError


async def cancelled_async() -> str:
    raise asyncio.CancelledError("my own")


def wrong_type() -> int:
    return "not a number"  # type: ignore[return-value]


async def swallows_cancel() -> str:
    """Ignores its timeout's cancellation and finishes anyway."""
    try:
        await asyncio.sleep(3)
    except asyncio.CancelledError:
        await asyncio.sleep(0.5)
    return "finished late"


async def blocks_loop() -> str:
    """Blocks the event loop (time.sleep inside an async tool)."""
    time.sleep(1.5)  # noqa: ASYNC251 - the fault under test
    return "blocked"


FATAL = [exit_sync, exit_async, interrupt_sync, interrupt_async, base_sync, base_async, cancelled_sync, cancelled_async]


@hookimpl
def register_tools(register):  # type: ignore[no-untyped-def]
    for fn in FATAL:
        register(fn)
    register(wrong_type)
    register(swallows_cancel, timeout=0.5)
    register(blocks_loop, timeout=0.5)
