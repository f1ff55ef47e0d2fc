"""The built-in plugin that feeds the recorder. It needs storage internals, so it lives in
``plugyard/history``, yet it is found through the ``plugyard`` entry-point group and uses the same
hooks as any plugin (and can be disabled in plugins.toml like any plugin): its settings are its
``[plugins.<name>]`` table, its ``/healthz`` report comes through the ``health`` hook and its
commands (``plugyard db ...``, ``plugyard history ...``) through ``register_commands``."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.core.config import Config, data_dir
from plugyard.core.hookspecs import hookimpl
from plugyard.core.tools import CANCELLED
from plugyard.history import migrate
from plugyard.history.db import (
    create_engine,
    is_sqlite,
    refusal,
    safe_url,
    settle_sqlite_workers,
    sqlite_workers,
    unreachable,
    unusable,
)
from plugyard.history.errors import HistoryError, SchemaBehind
from plugyard.history.history_resources import HistoryResources
from plugyard.history.history_tools import HistoryTools
from plugyard.history.models import tool_call_table
from plugyard.history.recorder import Recorder
from plugyard.history.redact import Redactor, redact_text
from plugyard.history.rollups import is_round
from plugyard.history.search import ToolSearch
from plugyard.history.search_store import SearchStore
from plugyard.history.service import ToolHistoryService
from plugyard.history.service.evidence import DecisionLinks
from plugyard.history.service.replicas import POLL_SECONDS as REPLICA_POLL_SECONDS
from plugyard.history.service.replicas import ReplicaFollower
from plugyard.history.settings import HistorySettings
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

if TYPE_CHECKING:
    import click

    from plugyard.core.host import PluginHost
    from plugyard.core.tools import Tool

log = logging.getLogger("plugyard.history")


def fallback_journal_path(journal: Path) -> Path:
    """Where records go when the journal cannot take them (its folder read-only, its disk full): the data
    directory, one file per journal; replayed at start like the journal."""
    digest = hashlib.sha256(str(journal).encode()).hexdigest()[:12]
    return data_dir() / f"fallback-journal-{digest}.jsonl"


def journal_path(config: Config, settings: HistorySettings) -> Path:
    """The journal belongs to one database: replaying it elsewhere would mix histories."""
    if settings.journal:
        return config.resolve_path(settings.journal)
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database).expanduser()
        return db.with_name(db.name + ".plugyard-journal.jsonl")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return data_dir() / f"journal-{digest}.jsonl"


class HistoryPlugin:
    """Records every plugin tool call into the ``tool_call`` table."""

    def __init__(self) -> None:
        self.engine: AsyncEngine | None = None
        self.recorder: Recorder | None = None
        self.service: ToolHistoryService | None = None
        self.router = ToolPreferenceRouter()
        self.search = ToolSearch(lambda: self.router)
        self.decision_links = DecisionLinks()
        self.replicas = ReplicaFollower()
        self._stopping: anyio.Event | None = None
        self._evidence_lock: anyio.Lock | None = None
        """Set when the plugin stops: its background loops end before the engine is disposed (a
        loop waking after ``dispose()`` would open a connection that the host's cancellation leaks)."""
        self.host: PluginHost | None = None
        self.settings = HistorySettings()
        self.name: str | None = None
        """The name the host loaded this plugin under (known once it started)."""

    @hookimpl
    def plugin_settings(self) -> type[HistorySettings]:
        return HistorySettings

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        from plugyard.history.cli import add_commands

        add_commands(cli)

    @hookimpl
    def health(self, host: PluginHost) -> Awaitable[dict[str, Any]]:
        from plugyard.history.health import report

        return report(self, host)

    @hookimpl
    def startup(self, host: PluginHost) -> object:
        return self._start(host)

    async def _start(self, host: PluginHost) -> None:
        # The host refuses to serve only on plugyard's own errors (a HistoryError); any other exception from
        # a startup hook is a broken plugin, reported and skipped, and the server would answer calls it never
        # records. So whatever the database or a file refuses while the history starts is a refusal too.
        before = sqlite_workers()
        try:
            await self._open(host)
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            what = f"the history database {safe_url(host.config.database_url)}"
            raise await refusal(what, exc, self.engine, before) from exc
        except HistoryError:
            await settle_sqlite_workers(before)
            raise

    async def _open(self, host: PluginHost) -> None:
        self.host = host
        self._stopping = anyio.Event()
        self._evidence_lock = anyio.Lock()
        self.name = host.name_of(self)
        self.settings = host.settings_for(self.name) or HistorySettings()
        config = host.config
        url = config.database_url
        self.engine = create_engine(url)
        if is_sqlite(url):
            # Dev mode: an embedded database is brought to the current schema by whoever opens it.
            await self._refuse_unless(migrate.upgrade(self.engine), f"the history database {safe_url(url)}")
        else:
            await self._check_schema(url)
        history = self.settings
        journal = journal_path(config, history)
        self.recorder = Recorder(
            self.engine,
            journal=journal,
            fallback_journal=fallback_journal_path(journal),
            redact_keys=history.redact_keys,
            batch_size=history.batch_size,
            flush_interval=history.flush_interval,
            queue_size=history.queue_size,
            durability=history.durability,
        )
        # Serving without a journal, or over a database that cannot be written, would answer calls and keep
        # none of them: refuse to start instead (exit 3), as for an unreachable PostgreSQL.
        await self._refuse_unless(self.recorder.replay_journal(), f"the history journal {journal}")
        await self._start_learning(host, self.engine)
        host.start_background(self.recorder.run, name="plugyard history recorder")

    async def _refuse_unless(self, work: Awaitable[Any], what: str) -> None:
        """Await ``work``; a database or file error becomes ``HistoryError`` (the host refuses to start)."""
        try:
            await work
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            if self.engine is not None:
                await self.engine.dispose()
            raise unusable(what, exc) from exc

    async def _check_schema(self, url: str) -> None:
        assert self.engine is not None
        try:
            at = await migrate.current(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            # Serving without recording would lose every call: refuse, naming the database.
            await self.engine.dispose()
            raise unreachable(url, exc) from exc
        head = migrate.head()
        if at != head:
            await self.engine.dispose()
            raise SchemaBehind(
                f"the history database is at revision {at or 'none'}, this plugyard needs {head}; "
                "run `plugyard db upgrade` first (servers never migrate PostgreSQL by themselves)"
            )

    async def _start_learning(self, host: PluginHost, engine: AsyncEngine) -> None:
        """The service over the database, and the router warmed from its rollups."""
        history = self.settings
        self.service = ToolHistoryService(engine)

        def timeout_for(name: str) -> float:
            tool = host.tools.get(name)
            return host.pipeline.timeout_for(tool) if tool is not None else host.config.tools.timeout

        self.router = ToolPreferenceRouter(
            BayesianLearner(half_life_days=history.half_life_days),
            timeout_for=timeout_for,
            failure_threshold=history.breaker_failures,
            cooldown=history.breaker_cooldown,
        )
        warmed = self.router.warm(await self.service.stored_counts())
        log.info("preference router warmed from %d rollup row(s)", warmed)
        redactor = Redactor(history.redact_keys)
        await self.search.start(host.tools, SearchStore(engine), lambda text: redact_text(text, redactor))
        host.start_background(self.search.run, name="plugyard tool search")
        if self.recorder is not None:
            # The decisions behind recorded calls are stored by the recorder's writer after each batch:
            # one writer at a time (a writer of their own, beside the recorder's, leaked connections).
            self.recorder.after_batch = self.flush_evidence
        if not is_sqlite(host.config.database_url):
            # Several replicas may share this database: fold in what the others record.
            await self.replicas.start(engine)
            host.start_background(self._follow_replicas, name="plugyard replica learning")

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False once the plugin is stopping."""
        stopping = self._stopping
        assert stopping is not None  # the loops start after _start
        with anyio.move_on_after(seconds):
            await stopping.wait()
        return not stopping.is_set()

    async def _follow_replicas(self) -> None:
        while await self._pause(REPLICA_POLL_SECONDS):
            assert self.engine is not None
            try:
                with anyio.CancelScope(shield=True):  # a query is short; cut off, it leaks its connection
                    rows = await self.replicas.poll(self.engine)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("history: other replicas' calls not read (%s: %s)", type(exc).__name__, exc)
                continue
            try:
                with anyio.CancelScope(shield=True):
                    ratings = await self.replicas.poll_ratings(self.engine)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("history: other replicas' ratings not read (%s: %s)", type(exc).__name__, exc)
                ratings = []
            for rating in ratings:
                self.router.observe_feedback(
                    rating.user_id, rating.tool_name, rating.old, rating.new, intent=rating.intent
                )
            for row in rows:
                if row["error_type"] == CANCELLED:
                    continue
                self.router.observe(
                    row["user_id"],
                    row["tool_name"],
                    bool(row["success"]),
                    float(row["execution_time_ms"]),
                    intent=row["intent"] or None,
                    error_type=row["error_type"],
                    at=row["created_at"].timestamp(),
                )

    async def flush_evidence(self) -> None:
        if self.service is None or not self.decision_links.rows or self._evidence_lock is None:
            return
        # One flush at a time: the stop's last flush waits for the loop's, so the engine is disposed
        # with no connection still out (one checked in after dispose() is left for the GC, unclosed).
        async with self._evidence_lock:
            try:
                await self.decision_links.flush(self.service)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("history: decision evidence not stored (%s: %s)", type(exc).__name__, exc)

    @hookimpl
    def register_tools(self, register: Any) -> None:
        tools = HistoryTools(self)
        register(tools.tool_stats, read_only=True)
        register(tools.preferred_tools, read_only=True)
        register(tools.recent_failures, read_only=True)
        register(tools.rate_tool_call, idempotent=True)
        register(tools.recommend_tools, read_only=True)
        register(self.search.search_tools, read_only=True, discovery=True)

    @hookimpl
    def register_resources(self, register: Any) -> None:
        HistoryResources(self).register(register)

    @hookimpl
    def choose_tool(self, capability: str, candidates: Sequence[Tool], user_id: str, intent: str | None) -> Tool | None:
        decision = self.router.choose(user_id, [t.name for t in candidates], intent=intent, capability=capability)
        self.decision_links.decided(decision)
        return next(t for t in candidates if t.name == decision.chosen)

    @hookimpl
    def rank_tools(self, tools: Sequence[Tool], user_id: str) -> list[Tool]:
        by_name = {t.name: t for t in tools}
        return [by_name[name] for name in self.router.order(user_id, list(by_name))]

    @hookimpl
    def after_tool_call(self, call: ToolCall, outcome: ToolOutcome) -> None:
        if self.recorder is not None:
            self.recorder.submit(outcome)
        tool = self.host.tools.get(call.tool_name) if self.host is not None else None
        self.search.observe(call, outcome, discovery=tool is not None and tool.discovery)
        self.replicas.mark_own(call.call_id)
        self.decision_links.called(
            call.user_id,
            call.tool_name,
            call.call_id,
            call.started_at.timestamp(),
            final=not is_round(outcome.error_type),
        )
        if outcome.error_type == CANCELLED or is_round(outcome.error_type):
            # Recorded, but not an outcome of the tool (cancelled; or a round that asked the client,
            # whose final round is the outcome): the router does not learn from it.
            return
        # The router learns at once, in memory; the rollups it warms from catch up with the batch.
        self.router.observe(
            call.user_id,
            call.tool_name,
            outcome.success,
            outcome.duration_ms,
            intent=call.intent,
            error_type=outcome.error_type,
            at=call.started_at.timestamp(),
        )

    @hookimpl
    def shutdown(self, host: PluginHost) -> object:
        return self._stop()

    async def recorded_calls(self, **equal: Any) -> list[dict[str, Any]]:
        """Every recorded call (oldest first), after flushing what is still queued; ``equal``
        filters on columns, e.g. ``tool_name="add"``. Meant for tests and tooling."""
        if self.engine is None or self.recorder is None:
            raise RuntimeError("the history plugin is not running")
        await self.recorder.flush()
        statement = sa.select(tool_call_table).order_by(tool_call_table.c.id)
        for column, value in equal.items():
            statement = statement.where(tool_call_table.c[column] == value)
        async with self.engine.connect() as connection:
            result = await connection.execute(statement)
            return [dict(row) for row in result.mappings()]

    async def _stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self.engine is not None and self.search.store is not None:
            await self.search.close()
        if self.recorder is not None:
            await self.recorder.close()
            await self.flush_evidence()
            r = self.recorder
            log.info("history: %d record(s) written, %d journaled", r.written, r.journaled)
            if r.on_stderr or r.lost:
                log.error("history: %d record(s) only on stderr, %d lost (see the errors above)", r.on_stderr, r.lost)
        if self.engine is not None:
            await self.engine.dispose()
