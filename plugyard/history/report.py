"""``plugyard history report --html``: the history as one self-contained page of charts.

The figures come from ``ToolHistoryService`` (the rollups: cheap at millions of rows). The page embeds
them as JSON and draws its SVG charts with the small script beside this module (``report.js``, inlined
with ``report.css``): no network, no third-party code. A plain table of the same figures is server-side
HTML, so the page still says something where scripts do not run.
"""

from __future__ import annotations

import dataclasses
import html
import json
from datetime import UTC, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import anyio

from plugyard.history.history_tools import HISTORY_TOOL_NAMES
from plugyard.history.rollup_models import LATENCY_BOUNDS_MS
from plugyard.history.service import ToolHistoryService

# Nothing is fetched: the page may not load anything, only run and style what it carries.
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
TOP_TOOLS = 8
"""Tools charted one by one over time; the rest are summed as "other"."""


@dataclasses.dataclass(frozen=True, slots=True)
class ReportSummary:
    path: Path
    days: int
    calls: int
    tools: int
    users: int


async def gather(
    service: ToolHistoryService, *, days: int = 30, users: int = 8, tools_per_user: int = 5
) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data."""
    start = service.window_start(days).date()
    window = [start + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(window)}
    figures = await service.get_daily_tool_figures(days)
    stats = await service.get_tool_statistics(None, days)
    order = [s.tool_name for s in stats]  # most-called first
    daily: dict[str, dict[str, list[int]]] = {tool: {"calls": [0] * days, "successes": [0] * days} for tool in order}
    latency: dict[str, list[int]] = {tool: [0] * len(figures[0].latency_buckets) for tool in order} if figures else {}
    for f in figures:
        i = index.get(f.day)
        if i is None or f.tool_name not in daily:
            continue
        daily[f.tool_name]["calls"][i] += f.calls
        daily[f.tool_name]["successes"][i] += f.successes
        latency[f.tool_name] = [a + b for a, b in zip(latency[f.tool_name], f.latency_buckets, strict=True)]
    people = []
    for user_id, calls in await service.get_most_active_users(users):
        # Calling tool_stats or rate_tool_call says nothing about which tools do a user's work.
        ranked = await service.get_user_preferred_tools(user_id, limit=tools_per_user + len(HISTORY_TOOL_NAMES))
        preferred = [p for p in ranked if p.tool_name not in HISTORY_TOOL_NAMES][:tools_per_user]
        people.append(
            {
                "user_id": user_id,
                "calls": calls,
                "tools": [
                    {
                        "tool_name": p.tool_name,
                        "score": p.score,
                        "success_rate": p.success_rate,
                        "calls": p.calls,
                        "avg_ms": p.avg_ms,
                        "satisfaction": p.satisfaction,
                    }
                    for p in preferred
                ],
            }
        )
    return {
        "generated_at": service.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "days": days,
        "window": [d.isoformat() for d in window],
        "tools": order,
        "top_tools": TOP_TOOLS,
        "daily": daily,
        "latency": {"bounds_ms": list(LATENCY_BOUNDS_MS), "per_tool": latency},
        "stats": [s.as_dict() for s in stats],
        "users": people,
    }


def _asset(name: str) -> str:
    return resources.files(__package__ or "plugyard.history").joinpath(name).read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in a tool name or user id must not end the element.
    return (
        json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _table(stats: list[dict[str, Any]]) -> str:
    if not stats:
        return "<p class='empty'>No calls in this window.</p>"
    rows = []
    for s in stats:
        errors = ", ".join(f"{e['error_type']} ({e['count']})" for e in s["top_errors"])
        rows.append(
            "<tr>"
            f"<td>{html.escape(s['tool_name'])}</td><td class='n'>{s['calls']:,}</td>"
            f"<td class='n'>{s['success_rate']:.1%}</td><td class='n'>{_ms(s['p50_ms'])}</td>"
            f"<td class='n'>{_ms(s['p95_ms'])}</td><td>{html.escape(errors)}</td>"
            "</tr>"
        )
    return (
        "<div class='table'><table><thead><tr><th>tool</th><th>calls</th><th>success</th><th>p50 ms</th>"
        "<th>p95 ms</th><th>top errors</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def render(data: dict[str, Any], *, title: str = "plugyard history") -> str:
    """The page: inline CSS and script, the data as JSON, a summary table for readers without scripts."""
    calls = sum(s["calls"] for s in data["stats"])
    successes = sum(s["successes"] for s in data["stats"])
    rate = f"{successes / calls:.1%}" if calls else "-"
    heading = html.escape(title)
    window = f"{data['window'][0]} to {data['window'][-1]}" if data["window"] else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{heading}</title>
<style>{_asset("report.css")}</style>
</head>
<body>
<header>
  <h1>{heading}</h1>
  <p class="sub">Last {data["days"]} day(s), {window} &middot; generated {html.escape(data["generated_at"])}</p>
  <div class="kpis">
    <div><b>{calls:,}</b><span>calls</span></div>
    <div><b>{rate}</b><span>succeeded</span></div>
    <div><b>{len(data["stats"])}</b><span>tools</span></div>
    <div><b>{len(data["users"])}</b><span>users shown</span></div>
  </div>
  <p id="report-error" hidden></p>
</header>
<main>
  <section><h2>Calls per day</h2><p class="note">Stacked by tool; the {data["top_tools"]} most-called tools by name.</p>
    <div class="chart" id="chart-calls"></div></section>
  <section><h2>Success rate per day</h2>
    <p class="note">One row per tool, one cell per day, coloured by the share of calls that succeeded; grey: no calls.
      Each row ends with the tool's rate over the window.</p>
    <div class="chart" id="chart-success"></div></section>
  <section><h2>Latency distribution</h2>
    <p class="note">Calls per latency bucket (ms, upper bounds),
      <label>for <select id="latency-tool"></select></label></p>
    <div class="chart" id="chart-latency"></div></section>
  <section><h2>What each user prefers</h2>
    <p class="note">Each user's best tools by their time-discounted success estimate (what the router learns from);
      the history's own tools (reading and rating the history) are not counted.</p>
    <div class="chart" id="chart-users"></div></section>
  <section><h2>Per tool</h2>{_table(data["stats"])}</section>
</main>
<script type="application/json" id="report-data">{_json_for_script(data)}</script>
<script>{_asset("report.js")}</script>
</body>
</html>
"""


async def write_report(
    service: ToolHistoryService, path: Path, *, days: int = 30, users: int = 8, title: str = "plugyard history"
) -> ReportSummary:
    data = await gather(service, days=days, users=users)
    page = render(data, title=title)
    target = anyio.Path(path)
    await target.parent.mkdir(parents=True, exist_ok=True)
    await target.write_text(page, encoding="utf-8")
    return ReportSummary(
        path=path,
        days=days,
        calls=sum(s["calls"] for s in data["stats"]),
        tools=len(data["stats"]),
        users=len(data["users"]),
    )
