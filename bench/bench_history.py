#!/usr/bin/env python
"""The history's read side at scale: ToolHistoryService latencies over a SQLite file of N calls.

Rows (1,000 users, 200 tools, 90 days, ~8% failures) are generated with raw sqlite3 ``executemany``
into a database migrated to head, with the rollups computed in the same pass (the same code the
recorder uses), so the rollups match the rows exactly. Then, through the async service (SQLAlchemy +
aiosqlite, what the MCP tools use), each method runs ``--samples`` times with random arguments:

- the four read methods (success rate, preferred tools, statistics with p95, recent failures), for
  everyone and for one user; beside them, the same success rate and statistics computed from raw rows
  with the foundation's indexes (what the rollups replace);
- ``update_user_satisfaction``;
- the writer: rows/s of ``write_calls`` (raw rows + rollups, batches of 500, one transaction each)
  against raw sqlite3 ``executemany`` of the same rows into the same schema, measured in the same run;
- ``cleanup_old_records``: deleted rows/s (calls older than 80 days: ~11% of the rows).

    python bench/bench_history.py [--rows N] [--samples S] [--write]

``--write`` replaces this benchmark's section of bench/RESULTS.md. Never run this as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.rollups import Deltas, aggregate, write_calls
from plugyard.history.service import ToolHistoryService

RESULTS = BENCH / "RESULTS.md"


def section(rows: int) -> str:
    return f"## History service at {rows:,} calls (bench_history.py)"


USERS, TOOLS, DAYS = 1000, 200, 90
INTENTS = [None, "exam_preparation", "task_decomposition", "error_diagnosis", "deep_learning", "skill_building"]
ERRORS = ["ToolTimeout", "ToolFailed", "InvalidArguments", "RuntimeError", "ValueError"]
NOW = datetime.now(UTC)
COLUMNS = [
    "call_id",
    "user_id",
    "session_id",
    "tool_name",
    "plugin_name",
    "arguments",
    "success",
    "error_type",
    "error_message",
    "execution_time_ms",
    "result_size",
    "satisfaction",
    "intent",
    "workflow_run_id",
    "created_at",
]


def make_rows(n: int, rng: random.Random, *, days: int = DAYS) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        tool = rng.randrange(TOOLS)
        ok = rng.random() > 0.03 + 0.1 * (tool % 7) / 6
        rows.append(
            {
                "call_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "user_id": f"user{rng.randrange(USERS)}",
                "session_id": None,
                "tool_name": f"tool{tool}",
                "plugin_name": "bench",
                "arguments": {},
                "success": ok,
                "error_type": None if ok else rng.choice(ERRORS),
                "error_message": None if ok else "it went wrong",
                "execution_time_ms": rng.lognormvariate(3.0, 1.2),
                "result_size": 100,
                "satisfaction": None,
                "intent": rng.choice(INTENTS),
                "workflow_run_id": None,
                "created_at": NOW - timedelta(seconds=rng.random() * days * 86_400),
            }
        )
    return rows


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def raw_insert(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    sql = f"INSERT INTO tool_call ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    conn.executemany(sql, [tuple(_sqlite_value(r[c]) for c in COLUMNS) for r in rows])


def merge(into: Deltas, more: Deltas) -> None:
    for key, value in more.daily.items():
        have = into.daily.get(key)
        if have is None:
            into.daily[key] = value
            continue
        for column, number in value.items():
            if column == "max_ms":
                have[column] = max(have[column], number)
            elif column not in ("tool_name", "day"):
                have[column] += number
    for key, count in more.errors.items():
        into.errors[key] = into.errors.get(key, 0) + count
    for key, value in more.users.items():
        have = into.users.get(key)
        if have is None:
            into.users[key] = value
            continue
        for column, number in value.items():
            if column == "last_called_at":
                have[column] = max(have[column], number)
            elif column not in ("user_id", "intent", "tool_name"):
                have[column] += number


def insert_rollups(conn: sqlite3.Connection, deltas: Deltas) -> None:
    def put(table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        conn.executemany(sql, [tuple(_sqlite_value(r[c]) for c in columns) for r in rows])

    put("tool_daily", list(deltas.daily.values()))
    put(
        "tool_error_daily",
        [{"tool_name": t, "day": d, "error_type": e, "count": n} for (t, d, e), n in deltas.errors.items()],
    )
    put("user_tool_stats", list(deltas.users.values()))


async def migrate_file(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(engine)
    await engine.dispose()


def populate(path: Path, n: int, seed: int = 1) -> list[str]:
    """N rows and their rollups; returns a sample of call ids (for rating)."""
    asyncio.run(migrate_file(path))
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    total = Deltas()
    sample: list[str] = []
    chunk = 100_000
    started = time.perf_counter()
    for start in range(0, n, chunk):
        rows = make_rows(min(chunk, n - start), rng)
        raw_insert(conn, rows)
        merge(total, aggregate(rows))
        sample.extend(r["call_id"] for r in rows[:200])
        conn.commit()
        print(f"  {start + len(rows):>10,} rows  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    insert_rollups(conn, total)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return sample


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(samples: int, fn: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    await fn(0)  # warm the connection and the page cache
    times = []
    for i in range(samples):
        start = time.perf_counter()
        await fn(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return {"p50": statistics.median(times), "p95": pct(times, 0.95), "max": max(times)}


async def measure_reads(path: Path, samples: int, call_ids: list[str]) -> dict[str, dict[str, float]]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    service = ToolHistoryService(engine)
    rng = random.Random(2)

    def tool() -> str:
        return f"tool{rng.randrange(TOOLS)}"

    def user() -> str:
        return f"user{rng.randrange(USERS)}"

    t = {}
    t["success rate, everyone (30 d)"] = await timed(samples, lambda i: service.get_tool_success_rate(tool(), 30))
    t["success rate, one user (30 d)"] = await timed(
        samples, lambda i: service.get_tool_success_rate(tool(), 30, user_id=user())
    )
    t["preferred tools, one user"] = await timed(samples, lambda i: service.get_user_preferred_tools(user()))
    t["statistics + p95, one tool (30 d)"] = await timed(samples, lambda i: service.get_tool_statistics(tool(), 30))
    t["statistics + p95, one user (30 d)"] = await timed(
        samples, lambda i: service.get_tool_statistics(None, 30, user_id=user())
    )
    t["statistics + p95, all 200 tools (30 d)"] = await timed(
        max(10, samples // 10), lambda i: service.get_tool_statistics(None, 30)
    )
    t["recent failures, one user"] = await timed(samples, lambda i: service.get_recent_failed_tools(user(), 10))
    t["satisfaction update"] = await timed(
        samples, lambda i: service.update_user_satisfaction(call_ids[i % len(call_ids)], rng.randint(1, 5))
    )
    await engine.dispose()
    return t


def measure_raw(path: Path, samples: int) -> dict[str, dict[str, float]]:
    """What the rollups replace: the same answers from raw rows (six foundation indexes + 0002's)."""
    conn = sqlite3.connect(path)
    rng = random.Random(3)
    since = (NOW - timedelta(days=30)).replace(tzinfo=None).isoformat(sep=" ")
    out = {}
    for label, sql, n in (
        (
            "raw rows: success rate, everyone (30 d)",
            "SELECT count(*), sum(success) FROM tool_call WHERE tool_name = ? AND created_at >= ?",
            samples,
        ),
        (
            "raw rows: statistics, one tool (30 d)",
            "SELECT execution_time_ms, success FROM tool_call WHERE tool_name = ? AND created_at >= ? "
            "ORDER BY execution_time_ms",
            max(10, samples // 4),
        ),
    ):
        times = []
        for _ in range(n):
            start = time.perf_counter()
            conn.execute(sql, (f"tool{rng.randrange(TOOLS)}", since)).fetchall()
            times.append((time.perf_counter() - start) * 1000.0)
        out[label] = {"p50": statistics.median(times), "p95": pct(times, 0.95), "max": max(times)}
    conn.close()
    return out


async def _write_rollups(path: Path, batches: list[list[dict[str, Any]]]) -> float:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    start = time.perf_counter()
    for batch in batches:
        async with engine.begin() as conn:
            await write_calls(conn, batch)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return elapsed


def measure_writer(tmp: Path, rows: int, rounds: int = 3) -> dict[str, float]:
    rng = random.Random(4)
    best_ours, best_raw = 0.0, 0.0
    for r in range(rounds):
        data = make_rows(rows, rng, days=2)
        batches = [data[i : i + 500] for i in range(0, rows, 500)]
        ours, raw = tmp / f"writer-ours-{r}.db", tmp / f"writer-raw-{r}.db"
        asyncio.run(migrate_file(ours))
        asyncio.run(migrate_file(raw))
        conn = sqlite3.connect(raw)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        start = time.perf_counter()
        for batch in batches:
            raw_insert(conn, batch)
            conn.commit()
        raw_rate = rows / (time.perf_counter() - start)
        conn.close()
        ours_rate = rows / asyncio.run(_write_rollups(ours, batches))
        best_ours, best_raw = max(best_ours, ours_rate), max(best_raw, raw_rate)
    return {"rollups rows/s": best_ours, "raw executemany rows/s": best_raw, "ratio": best_ours / best_raw}


async def measure_cleanup(path: Path) -> dict[str, float]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    service = ToolHistoryService(engine)
    result = await service.cleanup_old_records(80)
    await engine.dispose()
    return {"deleted": result.deleted, "seconds": result.seconds, "rows/s": result.rows_per_second}


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )


def render(
    n: int, reads: dict[str, Any], raw: dict[str, Any], writer: dict[str, float], cleanup: dict[str, float]
) -> str:
    lines = [
        section(n),
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"`python bench/bench_history.py --rows {n}`: {n:,} calls ({USERS:,} users, {TOOLS} tools, {DAYS} days) "
        "in a SQLite file (WAL), read through `ToolHistoryService` (SQLAlchemy async + aiosqlite).",
        "",
        "| method | p50 ms | p95 ms | max ms | target |",
        "|---|---:|---:|---:|---|",
    ]
    targets = {
        "success rate, everyone (30 d)": 2.0,
        "success rate, one user (30 d)": 2.0,
        "preferred tools, one user": 2.0,
        "statistics + p95, one tool (30 d)": 2.0,
        "statistics + p95, one user (30 d)": 2.0,
        "recent failures, one user": 2.0,
        "satisfaction update": 5.0,
    }
    for label, t in {**reads, **raw}.items():
        target = targets.get(label)
        verdict = "" if target is None else f"p95 < {target:g} ms: {'met' if t['p95'] < target else 'MISSED'}"
        lines.append(f"| {label} | {t['p50']:.3f} | {t['p95']:.3f} | {t['max']:.3f} | {verdict} |")
    lines += [
        "",
        f"Writer (batches of 500, one transaction each, rollups maintained): {writer['rollups rows/s']:,.0f} rows/s; "
        f"raw sqlite3 `executemany` of the same rows into the same schema: {writer['raw executemany rows/s']:,.0f} "
        f"rows/s; ratio {writer['ratio']:.2f} (target: at least 10,000 rows/s: "
        f"{'met' if writer['rollups rows/s'] >= 10_000 else 'MISSED'}).",
        "",
        f"Cleanup (`cleanup_old_records(80)`, chunks of 5,000, rollups adjusted in each chunk's transaction): "
        f"{cleanup['deleted']:,.0f} rows in {cleanup['seconds']:.1f} s = {cleanup['rows/s']:,.0f} rows/s.",
        "",
    ]
    return "\n".join(lines)


def write_section(block: str, heading: str) -> None:
    """Replace the section under ``heading`` (up to the next ``## ``) in RESULTS.md, or append it."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if heading in text:
        head, _, rest = text.partition(heading)
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt >= 0 else "\n"
        RESULTS.write_text(head + block + tail, encoding="utf-8")
    else:
        RESULTS.write_text(text.rstrip() + "\n\n" + block, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--writer-rows", type=int, default=20_000)
    parser.add_argument("--write", action="store_true", help="rewrite this section of bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        path = tmp / "history.db"
        print(f"generating {args.rows:,} rows ...", file=sys.stderr)
        call_ids = populate(path, args.rows)
        reads = asyncio.run(measure_reads(path, args.samples, call_ids))
        raw = measure_raw(path, args.samples)
        writer = measure_writer(tmp, args.writer_rows)
        cleanup = asyncio.run(measure_cleanup(path))
    block = render(args.rows, reads, raw, writer, cleanup)
    print(block)
    if args.write:
        write_section(block, section(args.rows))
        print(f"wrote {RESULTS.relative_to(BENCH.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
