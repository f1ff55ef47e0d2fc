from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx2 as httpx
import pytest

from plugyard.core import llm
from plugyard.core.config import Config, parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's plugins.toml, data directory or database."""
    monkeypatch.setenv("PLUGYARD_DATA_DIR", str(tmp_path / "data"))
    for name in ("PLUGYARD_CONFIG", "PLUGYARD_DATABASE_URL", "PLUGYARD_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


# -- databases: every test that takes `db_url` runs on SQLite and on a real PostgreSQL ----------
#
# Each PostgreSQL test gets a database of its own, created on the server's maintenance database
# and dropped (WITH (FORCE)) afterwards. It is a copy of a template migrated to head once
# (`CREATE DATABASE ... TEMPLATE`, see `migrated_template`), as an operator's `plugyard db upgrade`
# leaves it; a test that needs an empty one (migrations from nothing) carries
# @pytest.mark.empty_database("why"), and `postgres_url` is always empty. PostgreSQL tests are
# skipped only when no server answers AND $CI is unset; the run's header and summary say so. Tests
# about SQLite itself (WAL, file locking) carry @pytest.mark.sqlite_only("why").

POSTGRES_ADMIN_URL = os.environ.get("PLUGYARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
T = TypeVar("T")


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a private loop (in a thread when this one already runs a
    loop): database set-up from sync fixtures and async tests alike, never on the test's loop."""

    def run() -> T:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


async def _admin(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@functools.cache
def postgres_unavailable() -> str | None:
    """None when the test PostgreSQL server answers; else why it does not."""
    try:
        _run_async(_admin("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _postgres_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def template_name() -> str:
    """The migrated template's name: the head revision and a digest of the migration scripts, so a
    changed migration (on this branch or another checkout sharing the server) gets its own."""
    from plugyard.history import migrate

    scripts = Path(migrate.__file__).parent.parent / "migrations"
    digest = hashlib.sha256()
    for path in sorted([scripts / "env.py", *(scripts / "versions").glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"plugyard_tpl_{migrate.head()}_{digest.hexdigest()[:12]}"


# Session-level advisory lock on the maintenance database: one process builds a given template,
# the others wait for it and find it built.
_TEMPLATE_LOCK = "SELECT pg_advisory_lock(hashtext($1))"
_TEMPLATE_UNLOCK = "SELECT pg_advisory_unlock(hashtext($1))"


async def _build_template(name: str) -> None:
    import asyncpg

    from plugyard.history import migrate
    from plugyard.history.db import create_engine

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(_TEMPLATE_LOCK, name, timeout=120)
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                return  # built by an earlier run, or by another process while this one waited
            # Built under another name and renamed when complete: a run killed mid-build leaves
            # only `<name>_build`, which the next builder (holding the lock) drops.
            building = f"{name}_build"
            await conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{building}"')
            engine = create_engine(_postgres_url(building))
            try:
                await migrate.upgrade(engine)
            finally:
                await engine.dispose()
            # No connections to a template, ever: CREATE DATABASE ... TEMPLATE refuses to copy a
            # database someone is connected to. (RENAME waits, as CREATE does, up to 5 s for the
            # migration's backend to finish exiting.)
            await conn.execute(f'ALTER DATABASE "{building}" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true')
            await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        finally:
            await conn.execute(_TEMPLATE_UNLOCK, name)
        await _drop_old_templates(conn)
    finally:
        await conn.close()


KEEP_TEMPLATES = 8


async def _drop_old_templates(conn: Any) -> None:
    """Keep the newest few templates (checkouts with other migrations share the server); a run whose
    template goes builds it again (`_create_database`)."""
    import asyncpg

    old = await conn.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE 'plugyard\\_tpl\\_%'"
        " AND datname NOT LIKE '%\\_build' ORDER BY oid DESC OFFSET $1",
        KEEP_TEMPLATES,
    )
    for row in old:
        try:
            await conn.execute(f'ALTER DATABASE "{row["datname"]}" IS_TEMPLATE false')
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}"')
        except asyncpg.PostgresError:
            pass  # being copied right now, or already gone: the next build tries again


@functools.cache
def migrated_template() -> str:
    """The name of a database at head to copy per test: reused across runs while the migrations
    are unchanged, built (once, whoever comes first) when they changed."""
    name = template_name()
    _run_async(_build_template(name))
    return name


async def _clone(name: str, template: str) -> None:
    import asyncpg

    for attempt in range(5):
        try:
            await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return
        except asyncpg.ObjectInUseError:
            # Someone is connected to the template (nobody should be: it allows no connections).
            if attempt == 4:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


_cloned: set[str] = set()


def _create_database(name: str, *, migrated: bool) -> None:
    import asyncpg

    if not migrated:
        _run_async(_admin(f'CREATE DATABASE "{name}"'))
        return
    try:
        _run_async(_clone(name, migrated_template()))
    except asyncpg.InvalidCatalogNameError:
        # The template went away under this run (dropped by hand): build it again.
        migrated_template.cache_clear()
        _run_async(_clone(name, migrated_template()))
    _cloned.add(_postgres_url(name))


@contextmanager
def postgres_database(*, migrated: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, empty or (``migrated``) at head: its
    ``postgresql+asyncpg://`` URL."""
    why = postgres_unavailable()
    if why is not None:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({why})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so PostgreSQL tests may not be skipped")
        pytest.skip(f"{message}; set CI=1 to make this a failure")
    name = f"plugyard_test_{uuid.uuid4().hex[:16]}"
    _create_database(name, migrated=migrated)
    url = _postgres_url(name)
    try:
        yield url
    finally:
        _cloned.discard(url)
        _run_async(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test is about SQLite itself; db_url is not run on PostgreSQL"
    )
    config.addinivalue_line(
        "markers",
        "empty_database(reason): db_url on PostgreSQL is an empty database, not a copy of the migrated template",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("db_url", ["sqlite"] if sqlite_only else BACKENDS, indirect=True)


def pytest_report_header(config: pytest.Config) -> str:
    why = postgres_unavailable()
    if why is None:
        return f"postgresql: {POSTGRES_ADMIN_URL} reachable; database tests run on SQLite and PostgreSQL"
    verdict = "CI is set: PostgreSQL tests will FAIL" if os.environ.get("CI") else "PostgreSQL tests are SKIPPED"
    return f"postgresql: NOT REACHABLE at {POSTGRES_ADMIN_URL} ({why}); {verdict}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    why = postgres_unavailable()
    if why is not None and not os.environ.get("CI"):
        terminalreporter.write_sep(
            "!", f"PostgreSQL NOT REACHABLE at {POSTGRES_ADMIN_URL}: its tests were SKIPPED ({why})", red=True
        )


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_path: Path) -> Iterator[str]:
    """A history database of the test's own: a SQLite file not yet created (whoever opens it
    migrates it, as in dev mode), or a fresh PostgreSQL database at head (as `plugyard db upgrade`
    leaves it; empty under @pytest.mark.empty_database)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite+aiosqlite:///{db_path}"
        return
    empty = request.node.get_closest_marker("empty_database") is not None
    with postgres_database(migrated=not empty) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """For tests about PostgreSQL only (mark them `postgres`): a fresh, empty database."""
    with postgres_database() as url:
        yield url


def drop_postgres_database(url: str) -> None:
    """Take a test's PostgreSQL database away, as when the server loses it."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    _run_async(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def upgrade_to_head(url: str) -> None:
    """What an operator's `plugyard db upgrade` does, from a sync fixture or test."""
    from plugyard.history import migrate
    from plugyard.history.db import create_engine

    async def go() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    _run_async(go())


def sample_plugin() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tests_sample_plugin", FIXTURES / "sample_plugin.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def config(db_url: str) -> Config:
    if is_postgres(db_url) and db_url not in _cloned:
        # Servers never migrate PostgreSQL themselves: play the operator's `plugyard db upgrade`
        # (a copy of the migrated template is at head already).
        upgrade_to_head(db_url)
    return parse_config({"database": {"url": db_url}, "plugins": {"history": {"flush_interval": 0.05}}})


@pytest.fixture
def make_host(config: Config) -> Callable[..., PluginHost]:
    """A fresh host with the sample plugin and the history recorder (no entry points)."""

    def make(*, extra: dict[str, Any] | None = None, cfg: Config | None = None, **kwargs: Any) -> PluginHost:
        plugins: dict[str, Any] = {"sample": sample_plugin(), "history": HistoryPlugin()}
        plugins.update(extra or {})
        return PluginHost(cfg or config, entry_points=False, plugins=plugins, **kwargs).load()

    return make


@pytest.fixture
def running_host(make_host: Callable[..., PluginHost]) -> Callable[..., Any]:
    @asynccontextmanager
    async def run(**kwargs: Any) -> AsyncIterator[PluginHost]:
        host = make_host(**kwargs)
        async with host.running():
            yield host

    return run


def rows(db_path: Path, where: str = "1=1") -> list[dict[str, Any]]:
    """The recorded calls, straight from the SQLite file (SQLite-only tests and e2e tests;
    a test that takes `db_url` runs on PostgreSQL too and uses `recorded(db_url)`)."""
    if not Path(db_path).exists():
        raise AssertionError(f"{db_path} does not exist; on PostgreSQL use `await recorded(db_url)`")
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM tool_call WHERE {where} ORDER BY id")]


async def query(db_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows from any history database (SQLite or PostgreSQL), for assertions."""
    import sqlalchemy as sa

    from plugyard.history.db import create_engine

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(sql), params)
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


async def recorded(db_url: str, where: str = "1=1") -> list[dict[str, Any]]:
    """The recorded calls, oldest first, from either backend: ``arguments`` decoded from JSON
    (SQLite hands back text, PostgreSQL a dict); ``success`` is 1/0 or True/False (both == 1/0)."""
    found = await query(db_url, f"SELECT * FROM tool_call WHERE {where} ORDER BY id")
    for row in found:
        if isinstance(row.get("arguments"), str):
            row["arguments"] = json.loads(row["arguments"])
    return found


@contextmanager
def serving_http(
    config: Path, tmp_path: Path, *, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `plugyard serve --transport http` on a free port; yields (base URL, process) once it
    answers, and stops it with SIGTERM afterwards (if the test has not already). Its stderr goes
    to ``serve-<port>.log`` in ``tmp_path`` (a pipe nobody reads would fill and stall it)."""
    port = free_port()
    command = [sys.executable, "-m", "plugyard", "--config", str(config), "serve", "--transport", "http"]
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [*command, "--port", str(port), *args],
            env=env or subprocess_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=0.5)
            break
        except httpx.TransportError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(15)
                raise RuntimeError(f"server did not start: {log.read_text(errors='replace')}") from exc
            time.sleep(0.1)
    try:
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)


def server_log(tmp_path: Path) -> str:
    """What the HTTP servers started by ``serving_http`` in this test wrote on stderr."""
    return "".join(p.read_text(errors="replace") for p in sorted(tmp_path.glob("serve-*.log")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, db_file: Path, *, extra: str = "", modules: list[str] | None = None) -> Path:
    mods = modules if modules is not None else [str(FIXTURES / "sample_plugin.py")]
    path.write_text(
        f"""
[database]
url = "sqlite+aiosqlite:///{db_file}"

[plugins.history]
flush_interval = 0.05

[plugins]
modules = {mods!r}
{extra}
""".replace("'", '"'),
        encoding="utf-8",
    )
    return path


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGYARD_")}
    env["PLUGYARD_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def plugyard_cmd() -> list[str]:
    return [sys.executable, "-m", "plugyard"]


@pytest.fixture
def isolated_sys_path() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved


# -- the Anthropic API: the real SDK against an in-process fake (the only mock the suite uses) -------


def anthropic_message(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


class FakeAnthropic:
    """Answers POST /v1/messages with whatever ``answer(request_json)`` returns; records requests."""

    def __init__(self, answer: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/messages"
        body = json.loads(request.content)
        self.requests.append(body)
        return httpx.Response(200, json=anthropic_message(self.answer(body)))


@pytest.fixture
def fake_anthropic(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeAnthropic]:
    """The real SDK, with ANTHROPIC_API_KEY set, talking to an in-process fake of the API."""

    def install(answer: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> FakeAnthropic:
        fake = FakeAnthropic(answer)
        monkeypatch.setenv(llm.API_KEY_ENV, "sk-test")
        client = anthropic.AsyncAnthropic(
            api_key="sk-test",
            max_retries=0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake.handle)),
        )
        monkeypatch.setitem(llm._clients, "override", client)
        return fake

    return install
