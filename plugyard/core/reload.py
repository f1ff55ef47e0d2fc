"""Live reload: discover plugins again while serving, without losing a call or a record.

A ``HostReloader`` owns the hosts of a long-running server. ``reload()`` builds a fresh
``PluginHost`` (plugins.toml read again, entry points listed again), starts it beside the
current one, switches to it (``on_switch`` callbacks: the MCP adapter re-indexes and subscribes
to the new host's events), tells clients their lists changed, waits until no request still
holds the old host (``PluginHost.in_use``) and only then shuts the old host down, which flushes
its history recorder. For that moment two recorders write to one database: rows are keyed by
call id and every batch is one transaction, so SQLite (WAL, busy timeout) and PostgreSQL both
take it. A new host that fails to load (strict mode) or to start leaves the current one serving.

``Fingerprint`` is what ``serve --reload`` polls: the installed ``plugyard`` entry points
(distribution, version, entry point), the contents of plugins.toml and of the plugin files
it names, and the source files of plugins installed in editable mode (``pip install -e``: their
code changes without a new version, so an edit reloads them too). SIGHUP asks for a reload at any
time (``reload_on_hangup``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import anyio.to_thread

from plugyard.core.config import Config, find_config_file
from plugyard.core.errors import ConfigError
from plugyard.core.host import ENTRY_POINT_GROUP, PluginHost, raise_single

log = logging.getLogger("plugyard.reload")

OnSwitch = Callable[[PluginHost, PluginHost], Awaitable[None] | None]
"""``(old, new)``: called right after ``new`` became the current host, before ``old`` stops."""

EntryPointKey = tuple[str | None, str | None, str, str]
"""(distribution, version, entry point name, entry point value)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a reload depends on: compare two to know whether plugins may have changed."""

    entry_points: frozenset[EntryPointKey]
    files: tuple[tuple[str, str | None], ...]
    """(path, sha256 of the contents or None when missing) of plugins.toml and the plugin files it names."""
    sources: tuple[tuple[str, str], ...] = ()
    """(top-level module, digest of its source files) of each plugin installed in editable mode."""

    @classmethod
    def take(cls, config: Config, config_file: Path | None = None) -> Fingerprint:
        """The fingerprint now; ``config_file`` is the plugins.toml to watch (default ``config.source``)."""
        keys = installed_entry_points()
        paths = [p for p in (config_file or config.source,) if p is not None]
        paths += [config.resolve_path(m) for m in config.plugins.modules if m.endswith(".py")]
        return cls(keys, tuple((str(p), _digest(p)) for p in paths), tuple(sorted(editable_sources().items())))


def editable_sources() -> dict[str, str]:
    """For each plugin installed in editable mode, its top-level module and a digest of the names,
    sizes and modification times of its ``.py`` files. plugyard's own code is not a plugin's."""
    found: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        top = ep.value.split(":")[0].split(".")[0]
        if ep.dist is None or top in found or top == "plugyard" or not _is_editable(ep.dist):
            continue
        found[top] = _source_digest(top)
    return found


def _is_editable(dist: importlib.metadata.Distribution) -> bool:
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(isinstance(direct, dict) and (direct.get("dir_info") or {}).get("editable"))


def _source_digest(top: str) -> str:
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "missing"
    if spec.submodule_search_locations:
        files = sorted(f for folder in spec.submodule_search_locations for f in Path(folder).rglob("*.py"))
    else:
        files = [Path(spec.origin)] if spec.origin else []
    digest = hashlib.sha256()
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def installed_entry_points() -> frozenset[EntryPointKey]:
    return frozenset(
        (
            ep.dist.name if ep.dist is not None else None,
            ep.dist.version if ep.dist is not None else None,
            ep.name,
            ep.value,
        )
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    )


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def forget_modules(
    before: frozenset[EntryPointKey], after: frozenset[EntryPointKey], edited: Iterable[str] = ()
) -> list[str]:
    """Drop from ``sys.modules`` the packages of entry points that are new or changed version, and
    the ``edited`` ones (editable installs whose source changed), so the next discovery imports
    the code as it is rather than the copy already in memory (hosts still running keep their
    module objects). plugyard's own modules are never dropped."""
    importlib.invalidate_caches()
    tops = {value.split(":")[0].split(".")[0] for (_, _, _, value) in after - before} | set(edited)
    tops.discard("plugyard")
    dropped = [name for name in sys.modules if name.split(".")[0] in tops]
    for name in dropped:
        del sys.modules[name]
    return dropped


@dataclasses.dataclass(frozen=True, slots=True)
class ReloadResult:
    """What one reload did: ``host`` serves now; ``error`` says why the previous host was kept."""

    host: PluginHost
    reloaded: bool
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str | None = None

    def describe(self) -> str:
        if not self.reloaded:
            return f"plugins not reloaded, the previous ones keep serving: {self.error}"
        failed = [i.name for i in self.host.infos.values() if i.status == "failed"]
        return (
            f"plugins reloaded: {len(self.host.tools)} tool(s)"
            + (f"; added {', '.join(self.added)}" if self.added else "")
            + (f"; removed {', '.join(self.removed)}" if self.removed else "")
            + (f"; failed to load: {', '.join(failed)}" if failed else "")
        )


@dataclasses.dataclass(slots=True)
class _Running:
    stop: anyio.Event
    stopped: anyio.Event


class HostReloader:
    """The current host of a server, replaced by ``reload()``; ``build`` makes a loaded host."""

    def __init__(self, build: Callable[[], PluginHost] | None = None) -> None:
        self._build = build
        self._on_switch: list[OnSwitch] = []
        self._running: dict[int, _Running] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._lock = anyio.Lock()
        self._host: PluginHost | None = None
        self._entry_points: frozenset[EntryPointKey] | None = None
        self._sources: dict[str, str] = {}
        self.reloads = 0

    @property
    def host(self) -> PluginHost:
        """The host serving now."""
        if self._host is None:
            raise RuntimeError("the reloader is not running")
        return self._host

    def on_switch(self, callback: OnSwitch) -> None:
        self._on_switch.append(callback)

    @asynccontextmanager
    async def running(self, host: PluginHost | None = None) -> AsyncIterator[HostReloader]:
        """Start ``host`` (or a built one); on exit stop whichever host is current then."""
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                self._entry_points = await anyio.to_thread.run_sync(installed_entry_points)
                self._sources = await anyio.to_thread.run_sync(editable_sources)
                first = host if host is not None else await self._make()
                await self._start(first)
                self._host = first
                try:
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        async with self._lock:
                            await self._stop(self.host)
                            for state in list(self._running.values()):
                                state.stop.set()
                    self._task_group = None
                    # A host whose start a cancelled reload abandoned still stops (its shutdown is shielded).
                    tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise_single(group)

    async def _make(self) -> PluginHost:
        if self._build is None:
            raise RuntimeError("this reloader was given no way to build a host")
        # Importing plugins blocks; calls keep being served meanwhile.
        return await anyio.to_thread.run_sync(self._build)

    async def _start(self, host: PluginHost) -> None:
        assert self._task_group is not None
        state = _Running(anyio.Event(), anyio.Event())

        async def run(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            try:
                async with host.running():
                    task_status.started()
                    await state.stop.wait()
            finally:
                state.stopped.set()

        await self._task_group.start(run)
        self._running[id(host)] = state

    async def _stop(self, host: PluginHost) -> None:
        state = self._running.pop(id(host), None)
        if state is None:
            return
        # In-flight calls finish on the host they started on, and are recorded by its recorder.
        await host.wait_idle()
        state.stop.set()
        await state.stopped.wait()

    async def reload(self) -> ReloadResult:
        """Discover plugins again and switch to them; returns once the previous host has stopped
        (its records written). On failure the current host keeps serving and ``error`` says why."""
        async with self._lock:
            old = self.host
            try:
                installed = await anyio.to_thread.run_sync(installed_entry_points)
                sources = await anyio.to_thread.run_sync(editable_sources)
                edited = [top for top, digest in sources.items() if self._sources.get(top, digest) != digest]
                forget_modules(self._entry_points or installed, installed, edited)
                self._entry_points, self._sources = installed, sources
                new = await self._make()
            except Exception as exc:  # noqa: BLE001 - plugin imports and plugins.toml: the old host keeps serving
                return self._failed(old, exc)
            # From here on a reload completes, or both hosts would be half-alive.
            with anyio.CancelScope(shield=True):
                try:
                    await self._start(new)
                except Exception as exc:  # noqa: BLE001 - plugins' startup hooks: the old host keeps serving
                    return self._failed(old, exc)
                self._host = new
                self.reloads += 1
                for callback in self._on_switch:
                    try:
                        switched = callback(old, new)
                        if switched is not None:
                            await switched
                    except Exception:
                        log.exception("a reload listener failed; ignored")
                await new.notify_lists_changed()
                await self._stop(old)
        before, after = {t.name for t in old.tools}, {t.name for t in new.tools}
        result = ReloadResult(new, True, tuple(sorted(after - before)), tuple(sorted(before - after)))
        log.info("%s", result.describe())
        return result

    @staticmethod
    def _failed(old: PluginHost, exc: Exception) -> ReloadResult:
        message = f"{type(exc).__name__}: {exc}"
        log.error("reload failed; the previous plugins keep serving: %s", message)
        return ReloadResult(old, False, error=message)


async def watch_for_changes(
    reloader: HostReloader,
    *,
    interval: float = 1.0,
    config_file: Callable[[], Path | None] | None = None,
    on_reload: Callable[[ReloadResult], None] | None = None,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Poll every ``interval`` seconds; reload when the fingerprint changes. Runs until cancelled.

    ``config_file`` says where plugins.toml is now (default: the current host's ``config.source``),
    so a plugins.toml created after start-up is noticed."""

    def take() -> Fingerprint:
        where = config_file() if config_file is not None else None
        return Fingerprint.take(reloader.host.config, where)

    seen = await anyio.to_thread.run_sync(take)
    task_status.started()
    while True:
        await anyio.sleep(interval)
        try:
            now = await anyio.to_thread.run_sync(take)
        except Exception:
            log.exception("cannot check plugins for changes; trying again")
            continue
        if now == seen:
            continue
        # Seen even when the reload fails: a broken edit is reported once, the next edit retries.
        seen = now
        result = await reloader.reload()
        if on_reload is not None:
            on_reload(result)
        # What the new host's configuration names may differ (plugin files added or removed).
        seen = await anyio.to_thread.run_sync(take)


def config_file_finder(explicit: str | None) -> Callable[[], Path | None]:
    """Where plugins.toml is now, as ``load_config(explicit)`` would find it (None when absent)."""

    def find() -> Path | None:
        try:
            return find_config_file(explicit)
        except (ConfigError, OSError):
            # Deleted or moved: the fingerprint changes, and the reload reports the error.
            return Path(explicit) if explicit is not None else None

    return find


async def reload_on_hangup(
    reloader: HostReloader,
    *,
    on_reload: Callable[[ReloadResult], None] | None = None,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """The ``plugins_changed`` admin action: each SIGHUP reloads the plugins. Runs until cancelled."""
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            log.info("received SIGHUP; reloading plugins")
            result = await reloader.reload()
            if on_reload is not None:
                on_reload(result)


@dataclasses.dataclass(frozen=True, slots=True)
class ReloadOptions:
    """How a server reloads: ``build`` makes a loaded host from the configuration as it is now;
    ``watch_interval`` (seconds) polls for changes (``serve --reload``), None reloads on SIGHUP only."""

    build: Callable[[], PluginHost]
    watch_interval: float | None = None
    config_file: Callable[[], Path | None] | None = None
    on_reload: Callable[[ReloadResult], None] | None = None


async def start_reloading(tg: anyio.abc.TaskGroup, reloader: HostReloader, options: ReloadOptions) -> None:
    """Start the SIGHUP handler and, with ``watch_interval``, the change watcher in ``tg``."""
    await tg.start(functools.partial(reload_on_hangup, reloader, on_reload=options.on_reload))
    if options.watch_interval is not None:
        await tg.start(
            functools.partial(
                watch_for_changes,
                reloader,
                interval=options.watch_interval,
                config_file=options.config_file,
                on_reload=options.on_reload,
            )
        )
