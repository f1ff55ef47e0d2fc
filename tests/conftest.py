from __future__ import annotations

import os
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from plugyard.core.config import Config, parse_config
from plugyard.core.history.plugin import HistoryPlugin
from plugyard.core.host import PluginHost

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


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite+aiosqlite:///{db_path}"


def sample_plugin() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tests_sample_plugin", FIXTURES / "sample_plugin.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def config(db_url: str) -> Config:
    return parse_config({"database": {"url": db_url}, "history": {"flush_interval": 0.05}})


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
    """The recorded calls, straight from the SQLite file."""
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM tool_call WHERE {where} ORDER BY id")]


async def query(db_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows from any history database (SQLite or PostgreSQL), for assertions."""
    import sqlalchemy as sa

    from plugyard.core.history.db import create_engine

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(sql), params)
            return [dict(r._mapping) for r in result]
    finally:
        await engine.dispose()


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

[history]
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
    return [sys.executable, "-m", "plugyard.cli"]


@pytest.fixture
def isolated_sys_path() -> Iterator[None]:
    saved = list(sys.path)
    yield
    sys.path[:] = saved
