"""`plugyard history report --html`: the figures it charts, a page that needs no network, charts that draw."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.report import gather, render, write_report
from plugyard.history.rollup_models import BUCKETS
from plugyard.history.service import ToolHistoryService

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOSTILE = "</script><img src=x onerror=alert(1)>"
"""A user id that would break out of the page if it were pasted in unescaped."""


async def seed(service: ToolHistoryService) -> None:
    """search: today 3 ok (10, 20, 30 ms) + 1 failed (2 s); 2 days ago 1 ok (100 ms). calc: today 1 ok (1 ms).
    Users: ada (4 calls), bob (2), HOSTILE (1)."""

    async def rec(user: str, tool: str, ok: bool, ms: float, days_ago: int = 0) -> None:
        await service.record_tool_execution(
            user, tool, ok, ms, error_type=None if ok else "Timeout", created_at=NOW - timedelta(days=days_ago)
        )

    await rec("ada", "search", True, 10)
    await rec("ada", "search", True, 20)
    await rec("ada", "search", False, 2000)
    await rec("ada", "search", True, 100, days_ago=2)
    await rec("bob", "search", True, 30)
    await rec("bob", "calc", True, 1)
    await rec(HOSTILE, "calc", True, 1)


@pytest.fixture
async def service(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield ToolHistoryService(engine, clock=lambda: NOW)
    await engine.dispose()


async def test_daily_figures_come_per_tool_and_day_with_their_latency_histogram(service):
    await seed(service)
    figures = {(f.tool_name, f.day): f for f in await service.get_daily_tool_figures(days=7)}
    assert set(figures) == {
        ("search", date(2026, 11, 29)),
        ("search", date(2026, 11, 27)),
        ("calc", date(2026, 11, 29)),
    }
    today = figures[("search", date(2026, 11, 29))]
    assert (today.calls, today.successes, today.max_ms) == (4, 3, 2000.0)
    assert len(today.latency_buckets) == BUCKETS and sum(today.latency_buckets) == 4
    assert [f.tool_name for f in await service.get_daily_tool_figures(days=1)] == ["calc", "search"]


async def test_the_most_active_users_come_first(service):
    await seed(service)
    assert await service.get_most_active_users(limit=2) == [("ada", 4), ("bob", 2)]


async def test_gather_fills_every_day_of_the_window_and_sums_latency(service):
    await seed(service)
    data = await gather(service, days=3, users=5)
    assert data["window"] == ["2026-11-27", "2026-11-28", "2026-11-29"]
    assert data["tools"] == ["search", "calc"]
    assert data["daily"]["search"] == {"calls": [1, 0, 4], "successes": [1, 0, 3]}
    assert data["daily"]["calc"] == {"calls": [0, 0, 2], "successes": [0, 0, 2]}
    assert sum(data["latency"]["per_tool"]["search"]) == 5
    assert [u["user_id"] for u in data["users"]] == ["ada", "bob", HOSTILE]
    assert data["users"][0]["tools"][0]["tool_name"] == "search"


async def test_the_page_is_self_contained_and_escapes_what_it_shows(service):
    await seed(service)
    page = render(await gather(service, days=7))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert "default-src 'none'" in page
    assert HOSTILE not in page  # neither in the JSON (escaped <, >) nor in the table
    embedded = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1))["users"][2]["user_id"] == HOSTILE


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def dump_dom(page: Path, profile: Path) -> str:
    browser = chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def root_attributes(dom: str) -> dict[str, str]:
    match = re.search(r"<html([^>]*)>", dom)
    assert match is not None
    return dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))


def chart(dom: str, chart_id: str) -> dict[str, Any]:
    match = re.search(rf'<div class="chart" id="{chart_id}"([^>]*)>(.*?)</div></section>', dom, re.S)
    assert match is not None, f"#{chart_id} is not in the page"
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
    return {"attrs": attrs, "body": match.group(2)}


async def test_headless_chromium_draws_every_chart_with_the_data(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await migrate.upgrade(engine)
    try:
        service = ToolHistoryService(engine, clock=lambda: NOW)
        await seed(service)
        page = tmp_path / "report.html"
        summary = await write_report(service, page, days=7)
    finally:
        await engine.dispose()
    assert (summary.calls, summary.tools, summary.users) == (7, 2, 3)

    dom = dump_dom(page, tmp_path / "profile")
    assert root_attributes(dom) == {"lang": "en", "data-charts": "drawn"}  # no data-report-error
    calls = chart(dom, "chart-calls")
    # One bar per (tool, day) with calls: search on two days, calc on one.
    assert calls["attrs"]["data-drawn"] == "true" and calls["attrs"]["data-marks"] == "3"
    assert calls["body"].count('class="bar"') == 3 and "<svg" in calls["body"]
    success = chart(dom, "chart-success")
    assert success["attrs"]["data-marks"] == "3" and success["body"].count('class="line"') == 2
    assert "75%" in success["body"]  # search today: 3 of 4
    latency = chart(dom, "chart-latency")
    # 1 ms (twice), 10, 20, 30, 100 and 2000 ms: buckets <=1, <=13, <=20, <=30, <=130 and <=2000.
    assert latency["attrs"]["data-drawn"] == "true" and latency["body"].count('class="bar"') == 6
    users = chart(dom, "chart-users")
    assert users["body"].count("<svg") == 3 and users["attrs"]["data-marks"] == "4"
    # The hostile user id is text on the page, not markup.
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; · 1 call(s)" in users["body"]
    assert "<img" not in dom


async def test_an_empty_history_still_gives_a_page_that_says_so(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await migrate.upgrade(engine)
    try:
        page = tmp_path / "report.html"
        summary = await write_report(ToolHistoryService(engine, clock=lambda: NOW), page, days=30)
    finally:
        await engine.dispose()
    assert summary.calls == 0
    dom = dump_dom(page, tmp_path / "profile")
    assert root_attributes(dom) == {"lang": "en", "data-charts": "drawn"}  # no data-report-error
    for chart_id in ("chart-calls", "chart-success", "chart-latency", "chart-users"):
        assert chart(dom, chart_id)["attrs"]["data-drawn"] == "empty"
