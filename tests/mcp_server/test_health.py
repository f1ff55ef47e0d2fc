"""GET /healthz: 200 with a JSON report when every plugin that reports is healthy (the history plugin:
its database answers at head), 503 otherwise."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from plugyard.core.config import parse_config
from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.mcp_server.server import HEALTH_PATH, PlugyardServer
from tests.conftest import drop_postgres_database, upgrade_to_head

pytestmark = pytest.mark.anyio


async def healthz(server: PlugyardServer) -> tuple[int, dict[str, Any]]:
    app = server.streamable_http_app(stateless_http=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.get(HEALTH_PATH)
    return response.status_code, response.json()


async def test_a_healthy_server_answers_200_with_database_recorder_and_plugins(running_host, db_url):
    async with running_host() as host:
        await host.call_tool("add", {"a": 1})
        status, body = await healthz(PlugyardServer(host))
    assert status == 200 and body["status"] == "ok"
    history = body["reports"]["history"]
    database, schema = history["database"], history["schema"]
    assert history["healthy"] is True
    assert database["reachable"] is True and database["error"] is None
    assert schema["at_head"] is True and schema["revision"] == schema["head"] == migrate.head()
    assert database["backend"] == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    assert set(history["queue"]) == {"depth", "written", "journaled", "failures", "on_stderr", "lost"}
    assert {"sample", "history"} <= set(body["plugins"]["loaded"]) and body["plugins"]["failed"] == {}


async def test_a_schema_behind_head_answers_503_naming_db_upgrade(running_host, db_url):
    async with running_host() as host:
        engine = create_engine(db_url)
        await migrate.downgrade(engine, "base")
        await engine.dispose()
        status, body = await healthz(PlugyardServer(host))
    assert status == 503 and body["status"] == "unavailable"
    history = body["reports"]["history"]
    assert history["healthy"] is False
    assert history["database"]["reachable"] is True and history["schema"]["at_head"] is False
    assert "plugyard db upgrade" in history["schema"]["error"]


@pytest.mark.postgres
async def test_an_unreachable_database_answers_503(make_host, postgres_url):
    upgrade_to_head(postgres_url)
    cfg = parse_config({"database": {"url": postgres_url}, "plugins": {"history": {"flush_interval": 0.05}}})
    async with make_host(cfg=cfg).running() as host:
        assert (await healthz(PlugyardServer(host)))[0] == 200
        drop_postgres_database(postgres_url)
        status, body = await healthz(PlugyardServer(host))
    database = body["reports"]["history"]["database"]
    assert status == 503 and database["reachable"] is False
    assert database["error"] and "postgres" in database["url"]


async def test_failed_plugins_are_reported_but_do_not_fail_the_check(running_host):
    class Broken:
        from plugyard import hookimpl

        @hookimpl
        def register_tools(self, register: Any) -> None:
            raise RuntimeError("cannot register")

    async with running_host(extra={"broken": Broken()}) as host:
        status, body = await healthz(PlugyardServer(host))
    assert status == 200
    assert "cannot register" in body["plugins"]["failed"]["broken"]


async def test_without_the_history_plugin_nothing_reports_and_the_server_is_healthy(config):
    from plugyard.core.host import PluginHost

    host = PluginHost(config, entry_points=False, plugins={})
    async with host.running():
        status, body = await healthz(PlugyardServer(host))
    assert (status, body["status"], body["reports"]) == (200, "ok", {})


async def test_a_plugin_reporting_unhealthy_makes_the_server_unavailable(running_host):
    from plugyard import hookimpl

    class Queue:
        @hookimpl
        def health(self) -> dict[str, Any]:
            return {"healthy": False, "backlog": 12}

    async with running_host(extra={"queue": Queue()}) as host:
        status, body = await healthz(PlugyardServer(host))
    assert status == 503 and body["reports"]["queue"] == {"healthy": False, "backlog": 12}
    assert body["reports"]["history"]["healthy"] is True
