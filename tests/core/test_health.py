"""The health check gathers what each plugin's ``health`` hook reports: healthy when every plugin that
reports says so; a report that raises, never comes or has no boolean ``healthy`` counts as unhealthy."""

from __future__ import annotations

from datetime import date
from typing import Any

import anyio
import pytest

from plugyard import hookimpl
from plugyard.core.config import Config
from plugyard.core.health import check
from plugyard.core.host import PluginHost

pytestmark = pytest.mark.anyio


def host_with(**plugins: object) -> PluginHost:
    return PluginHost(Config(), entry_points=False, plugins=plugins).load()


class Reports:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    @hookimpl
    def health(self, host: PluginHost) -> Any:
        assert isinstance(host, PluginHost)
        return self.answer


class AsyncReport:
    @hookimpl
    async def health(self) -> dict[str, Any]:
        await anyio.sleep(0)
        return {"healthy": True, "since": date(2026, 1, 2)}


class Silent:
    @hookimpl
    def register_tools(self, register: Any) -> None:
        pass


async def test_healthy_when_every_reporting_plugin_says_so_and_silent_plugins_are_not_judged():
    health = await check(host_with(a=Reports({"healthy": True, "n": 1}), b=AsyncReport(), c=Silent(), d=Reports(None)))
    assert health.healthy
    # Reports are JSON: what is not (a date) arrives as its text.
    assert health.reports == {"a": {"healthy": True, "n": 1}, "b": {"healthy": True, "since": "2026-01-02"}}
    assert health.as_dict()["status"] == "ok" and health.plugins["loaded"] == ["a", "b", "c", "d"]


async def test_one_unhealthy_report_makes_the_host_unhealthy():
    health = await check(host_with(a=Reports({"healthy": True}), b=Reports({"healthy": False, "why": "queue full"})))
    assert not health.healthy and health.as_dict()["status"] == "unavailable"
    assert health.reports["b"] == {"healthy": False, "why": "queue full"}


@pytest.mark.parametrize("answer", [{"ok": True}, {"healthy": "yes"}, ["healthy"], "fine"])
async def test_a_report_without_a_boolean_healthy_counts_as_unhealthy(answer):
    health = await check(host_with(odd=Reports(answer)))
    assert not health.healthy
    assert "not a mapping with a boolean 'healthy'" in health.reports["odd"]["error"]


async def test_a_health_hook_that_raises_counts_as_unhealthy_with_the_reason():
    class Broken:
        @hookimpl
        def health(self) -> Any:
            raise OSError("disk gone")

    health = await check(host_with(broken=Broken(), fine=Reports({"healthy": True})))
    assert not health.healthy
    assert health.reports["broken"] == {"healthy": False, "error": "the health hook raised OSError: disk gone"}
    assert health.reports["fine"] == {"healthy": True}


async def test_a_report_that_never_comes_counts_as_unhealthy_and_does_not_hold_the_others():
    class Stuck:
        @hookimpl
        async def health(self) -> Any:
            await anyio.Event().wait()

    health = await check(host_with(stuck=Stuck(), fine=Reports({"healthy": True})), within=0.05)
    assert not health.healthy
    assert health.reports["stuck"] == {"healthy": False, "error": "no health report within 0.05 s"}
    assert health.reports["fine"] == {"healthy": True}
