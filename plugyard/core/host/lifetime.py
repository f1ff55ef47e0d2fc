"""A host's lifetime: ``startup`` hooks, background tasks, the requests holding it, ``shutdown`` hooks.

``PluginHost`` takes these methods from ``Lifetime``; they need its plugin manager, its plugin
infos and ``load()``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.abc
import pluggy
import sniffio

from plugyard.core.errors import PluginError, PlugyardError
from plugyard.core.host.registration import ERROR_SEPARATOR, invoke
from plugyard.core.stalls import StallWatch

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost
    from plugyard.core.host.discovery import PluginInfo

log = logging.getLogger("plugyard.host")


class Lifetime:
    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo]
    strict: bool
    _task_group: anyio.abc.TaskGroup | None
    in_flight: int
    """How many requests hold ``in_use()`` now."""
    _idle: anyio.Event | None

    def load(self) -> PluginHost:
        raise NotImplementedError

    def in_use(self) -> _InUse:
        """Mark a request (a tool call, a resource read) as using this host until the block ends: a
        live reload shuts a replaced host down only once none is left (see ``wait_idle``)."""
        return _InUse(self)

    def release(self) -> None:
        """One request holding ``in_use()`` ended (``in_use()`` calls it)."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no request holds ``in_use()``."""
        while self.in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()

    def start_background(self, fn: Callable[[], Coroutine[Any, Any, Any]], *, name: str | None = None) -> None:
        """Run ``fn()`` until the host stops. Only valid while the host is running."""
        if self._task_group is None:
            raise RuntimeError("start_background() is only available while the host is running")
        self._task_group.start_soon(fn, name=name)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PluginHost]:
        """Load the plugins, run ``startup`` hooks, and on exit ``shutdown`` hooks (shielded)."""
        host = self.load()
        watch = None
        if sniffio.current_async_library() == "asyncio":
            watch = StallWatch(asyncio.get_running_loop(), lambda: list(host.tools))
            watch.start()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    await self._lifetime_hook("startup")
                    yield host
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._lifetime_hook("shutdown")
                    self._task_group = None
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The task group is ours, not the caller's: hand back the one error that happened.
            raise_single(group)
        finally:
            if watch is not None:
                watch.stop()

    async def _lifetime_hook(self, hook_name: str) -> None:
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                result = invoke(impl, host=self)
                if inspect.isawaitable(result):
                    await result
            except PlugyardError:
                # A deliberate refusal (for example a database schema behind): the host cannot run.
                raise
            except Exception as exc:
                message = f"{hook_name} raised {type(exc).__name__}: {exc}"
                log.exception("plugin %r: %s", impl.plugin_name, message)
                info = self.infos.get(impl.plugin_name)
                if info is not None:
                    info.error = f"{info.error + ERROR_SEPARATOR if info.error else ''}{message}"
                if self.strict:
                    raise PluginError(impl.plugin_name, message) from exc


class _InUse:
    """``PluginHost.in_use()``: a plain context manager (every call enters one; a generator-based
    one cost several times as much)."""

    __slots__ = ("_host",)

    def __init__(self, host: Lifetime) -> None:
        self._host = host

    def __enter__(self) -> Lifetime:
        self._host.in_flight += 1
        return self._host

    def __exit__(self, *_exc: object) -> None:
        self._host.release()


def raise_single(group: BaseExceptionGroup[Any]) -> NoReturn:
    """Re-raise a task group's only error as itself (a group of several stays a group)."""
    if len(group.exceptions) == 1:
        raise group.exceptions[0] from group.exceptions[0].__cause__
    raise group
