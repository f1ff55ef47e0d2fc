"""`plugyard history report --html`: the figures it charts, a page that needs no network, charts that draw."""

from __future__ import annotations

import html
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
            "--virtual-time-budget=10000",  # wait for the report to post its DOM to a harness
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


async def report_page(tmp_path: Path, fill: Any, days: int) -> tuple[Path, Any]:
    """The report of a fresh SQLite history filled by ``fill(service)``, written to report.html."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await migrate.upgrade(engine)
    try:
        service = ToolHistoryService(engine, clock=lambda: NOW)
        await fill(service)
        page = tmp_path / "report.html"
        return page, await write_report(service, page, days=days)
    finally:
        await engine.dispose()


async def test_headless_chromium_draws_every_chart_with_the_data(tmp_path):
    page, summary = await report_page(tmp_path, seed, days=7)
    assert (summary.calls, summary.tools, summary.users) == (7, 2, 3)

    dom = dump_dom(page, tmp_path / "profile")
    assert root_attributes(dom) == {"lang": "en", "data-charts": "drawn"}  # no data-report-error
    calls = chart(dom, "chart-calls")
    # One bar per (tool, day) with calls: search on two days, calc on one.
    assert calls["attrs"]["data-drawn"] == "true" and calls["attrs"]["data-marks"] == "3"
    assert calls["body"].count('class="bar"') == 3 and "<svg" in calls["body"]
    success = chart(dom, "chart-success")
    # A heatmap: a cell per (tool, day) with calls, an empty cell for each day without.
    assert success["attrs"]["data-marks"] == "3" and success["body"].count('class="cell"') == 3
    assert success["body"].count('class="no-calls"') == 2 * 7 - 3
    assert "2026-11-29 · search: 75% of 4 call(s)" in success["body"]  # search today: 3 of 4
    assert "80% of 5" in success["body"] and "100% of 2" in success["body"]  # each row's rate over the window
    latency = chart(dom, "chart-latency")
    # 1 ms (twice), 10, 20, 30, 100 and 2000 ms: buckets <=1, <=13, <=20, <=30, <=130 and <=2000.
    assert latency["attrs"]["data-drawn"] == "true" and latency["body"].count('class="bar"') == 6
    users = chart(dom, "chart-users")
    assert users["body"].count("<svg") == 3 and users["attrs"]["data-marks"] == "4"
    # The hostile user id is text on the page, not markup.
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; · 1 call(s)" in users["body"]
    assert "<img" not in dom


async def test_an_empty_history_still_gives_a_page_that_says_so(tmp_path):
    async def nothing(service: ToolHistoryService) -> None:
        pass

    page, summary = await report_page(tmp_path, nothing, days=30)
    assert summary.calls == 0
    dom = dump_dom(page, tmp_path / "profile")
    assert root_attributes(dom) == {"lang": "en", "data-charts": "drawn"}  # no data-report-error
    for chart_id in ("chart-calls", "chart-success", "chart-latency", "chart-users"):
        assert chart(dom, chart_id)["attrs"]["data-drawn"] == "empty"


AUDIT = (Path(__file__).parent / "report_audit.js").read_text(encoding="utf-8")
"""Injected after report.js: measures the drawn page in the browser's layout and posts its DOM."""

HARNESS = """<!DOCTYPE html><html><body style="margin:0"><textarea id="out"></textarea><script>
window.addEventListener("message", function (e) { document.getElementById("out").textContent = e.data; });
</script><iframe src="{src}" width="{width}" height="900" style="border:0"></iframe></body></html>"""


def dump_dom_at(page: Path, profile: Path, width: int) -> str:
    """The report's DOM as drawn in a viewport ``width`` pixels wide: headless Chromium's window is
    at least 500 px, so the page runs in an iframe of that width and posts its DOM to the harness."""
    harness = page.with_name(f"harness-{width}.html")
    harness.write_text(HARNESS.replace("{src}", page.name).replace("{width}", str(width)), encoding="utf-8")
    outer = dump_dom(harness, profile)
    match = re.search(r'<textarea id="out">(.*?)</textarea>', outer, re.S)
    assert match is not None and match.group(1), "the report did not post its DOM"
    return html.unescape(match.group(1))


LONG = "search_the_internal_knowledge_base_for_documents"


async def seed_busy(service: ToolHistoryService) -> None:
    """30 days of 12 tools (one with a long name that always works, two of the history's own) for two users."""
    tools = [
        LONG,
        "calculate",
        "read_note",
        "parse_traceback",
        "list_notes",
        "convert_units",
        "assist",
        "search_notes",
        "a",
        "b",
        "tool_stats",
        "rate_tool_call",
    ]
    for day in range(30):
        for i, tool in enumerate(tools):
            if (day + i) % 3 == 0:
                continue
            for user in ("ada", "bob"):
                ok = tool == LONG or (day * 7 + i) % 5 != 0
                call_id = await service.record_tool_execution(
                    user,
                    tool,
                    ok,
                    5.0 * (i + 1),
                    error_type=None if ok else "Boom",
                    created_at=NOW - timedelta(days=day),
                )
                if day == 1:  # rated: the preference bars carry "★4.5"-style labels
                    await service.update_user_satisfaction(call_id, 4 + i % 2)
    # ada reads and rates her history a lot, and it always works: still not a preference.
    for _ in range(40):
        await service.record_tool_execution("ada", "tool_stats", True, 1.0, created_at=NOW)
        await service.record_tool_execution("ada", "rate_tool_call", True, 1.0, created_at=NOW)


@pytest.mark.parametrize("width", [420, 1280])
async def test_a_busy_history_fits_the_screen_without_cut_or_clashing_labels(tmp_path, width):
    page, _summary = await report_page(tmp_path, seed_busy, days=30)
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", f"<script>{AUDIT}</script></body>"))
    dom = dump_dom_at(page, tmp_path / "profile", width)
    attrs = root_attributes(dom)
    assert "data-report-error" not in attrs and attrs["data-charts"] == "drawn"
    audit = json.loads(html.unescape(attrs["data-audit"]))
    assert audit["width"] == width
    assert audit["scroll"] <= width, "the page scrolls sideways"
    assert audit["beyond"] == [] and audit["clipped"] == [] and audit["overlap"] == []
    # A name shortened to fit keeps the whole name in its tooltip.
    assert all(short.endswith("…") and full.startswith(short[:-1]) for short, full in audit["shortened"])
    success = chart(dom, "chart-success")
    assert success["body"].count('class="label"') == 9  # 8 tools by name and "other (4)"
    assert "other (4)" in success["body"]
    users = chart(dom, "chart-users")
    assert "tool_stats" not in users["body"] and "rate_tool_call" not in users["body"]
    assert LONG in users["body"]  # whole, or in the tooltip of its shortened label


async def test_the_histories_own_tools_are_not_a_users_preference(service):
    await seed(service)
    for _ in range(5):
        await service.record_tool_execution("ada", "rate_tool_call", True, 1.0, created_at=NOW)
        await service.record_tool_execution("carol", "tool_stats", True, 1.0, created_at=NOW)
    people = {u["user_id"]: u for u in (await gather(service, days=7, users=5))["users"]}
    assert [t["tool_name"] for t in people["ada"]["tools"]] == ["search"]
    assert people["carol"]["tools"] == [] and people["carol"]["calls"] == 5
