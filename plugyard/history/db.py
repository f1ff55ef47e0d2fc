"""Engines for the history database: SQLite (WAL) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from plugyard.core.errors import ConfigError
from plugyard.history.errors import HistoryError

SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def check_url(url: str) -> sa.URL:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            f"database url {url!r} is not a SQLAlchemy URL; use sqlite+aiosqlite:///path.db "
            "or postgresql+asyncpg://user@host/db"
        ) from None
    if parsed.drivername not in SUPPORTED:
        raise ConfigError(
            f"database url {url!r} uses driver {parsed.drivername!r}; plugyard supports {', '.join(SUPPORTED)}"
        )
    return parsed


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database url>"


def first_line(exc: BaseException) -> str:
    """The first line of what a database error says (the driver's own message, without SQLAlchemy's
    statement and parameters), for one-line messages."""
    lines = str(getattr(exc, "orig", None) or exc).splitlines()
    return lines[0] if lines else repr(exc)


_AIOSQLITE_WORKER = "(_connection_worker_thread)"


def sqlite_workers() -> set[threading.Thread]:
    """The threads aiosqlite runs its connections on, now."""
    return {t for t in threading.enumerate() if t.name.endswith(_AIOSQLITE_WORKER)}


async def settle_sqlite_workers(before: set[threading.Thread]) -> None:
    """Wait (at most 2 s each, shielded) for the aiosqlite threads started since ``before`` to end. After a failed
    connect aiosqlite tells its thread to stop without waiting for it, and the thread then hands its result to the
    event loop: when a refusal ends the process at once, the loop may be closed by then, and the thread prints a
    traceback. Called once the engine is disposed, so every such thread is ending."""
    with anyio.CancelScope(shield=True):
        for thread in sqlite_workers() - before:
            await anyio.to_thread.run_sync(thread.join, 2.0)


async def refusal(
    what: str, exc: BaseException, engine: AsyncEngine | None, before: set[threading.Thread]
) -> HistoryError:
    """``unusable(what, exc)``, once ``engine`` is disposed and the aiosqlite threads started since ``before`` have
    ended: what a plugin's startup raises when the database it opened cannot be used."""
    if engine is not None:
        await engine.dispose()
    await settle_sqlite_workers(before)
    return unusable(what, exc)


def unusable(what: str, exc: BaseException) -> HistoryError:
    """The error a plugin raises at start when ``what`` (a database, a journal) cannot be used: the host
    refuses to start (exit 3) rather than answer calls it could not record."""
    return HistoryError(
        f"{what} cannot be used ({type(exc).__name__}: {first_line(exc)}); the server refuses "
        "to start rather than answer calls it cannot record (check [database] url, the folder's permissions and "
        "free space, or [plugins.history] journal)"
    )


def unreachable(url: str, exc: BaseException) -> HistoryError:
    """What the history says when its database refuses a connection or a query (gone, corrupt, a database or
    role that does not exist): one line naming it (password masked) and where it is configured. The server's
    start and every ``plugyard db`` / ``plugyard history`` command say it alike."""
    cause = getattr(exc, "orig", None) or exc
    # asyncpg's errors reach SQLAlchemy through its adapter's generic ``Error``: the driver's own is its cause.
    cause = cause.__cause__ if isinstance(cause.__cause__, Exception) else cause
    reason = "cannot be reached" if isinstance(cause, OSError) else "cannot be used"
    return HistoryError(
        f"the history database {safe_url(url)} {reason} ({type(cause).__name__}: {first_line(exc)}); "
        "check [database] url / PLUGYARD_DATABASE_URL"
    )


def not_started(url: str, *, configured: bool) -> Path | None:
    """The SQLite file a history that has simply not started yet would be in (a fresh machine: no server has
    run): missing at the default place, or where a configured URL says inside a folder that exists. None
    otherwise, and for a configured file whose folder is missing too (more likely a typo: see
    ``require_existing``)."""
    parsed = check_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    if path.exists() or (configured and not path.parent.is_dir()):
        return None
    return path


def require_existing(url: str) -> None:
    """For commands that only read (or trim) the history: a SQLite file that is not there is an
    error, not a new empty database. (PostgreSQL says by itself when a database does not exist.)"""
    parsed = check_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database).expanduser()
    if not path.is_file():
        where = "its folder does not exist either" if not path.parent.is_dir() else "no such file"
        raise HistoryError(
            f"the history database {str(path)!r} does not exist ({where}); check [database] url in plugins.toml "
            "or PLUGYARD_DATABASE_URL (a server creates it on its first start; `plugyard db upgrade` does too)"
        )


def make_folder(path: Path) -> None:
    """Create a SQLite file's folder. Failing is ``HistoryError`` naming the file, whatever the cause (a file
    in the way, no permission, a read-only disk): a plain ``OSError`` from a plugin's ``startup`` would be
    reported as a broken plugin and skipped, and the server would serve without recording."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryError(
            f"the history database {str(path)!r} cannot be used: its folder cannot be created "
            f"({type(exc).__name__}: {first_line(exc)}); a server refuses to start rather than answer calls it "
            "cannot record (check [database] url / PLUGYARD_DATABASE_URL and the folder's permissions)"
        ) from exc


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (history queries, `plugyard history`) run beside the recorder's writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; a SQLite file's folder is created if missing."""
    parsed = check_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            make_folder(Path(database).expanduser())
        engine = create_async_engine(parsed, **kwargs)
        sa.event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **kwargs)
