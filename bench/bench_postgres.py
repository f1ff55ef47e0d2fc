#!/usr/bin/env python
"""Production mode's benchmark: the history recorder's write throughput into PostgreSQL against
the same database's raw limit measured in the same run, beside the same figures for SQLite.

Writers, each writing the same N rows (500 per transaction) into a freshly created and migrated
database, taking turns round by round (the order rotates every round):

- asyncpg ``executemany`` of ``INSERT ... ON CONFLICT (call_id) DO NOTHING`` (the raw limit with
  plugyard's duplicate-safety; the baseline the ratios are against);
- asyncpg ``copy_records_to_table`` (COPY: the fastest way in, but without ON CONFLICT);
- plugyard's ``Recorder`` (submit while ``run()`` runs, timed until ``close()`` returns), which
  also maintains the history rollups in the same transaction;
- SQLite: plugyard's ``Recorder`` against plain ``sqlite3`` ``executemany`` (from bench_pipeline).

Then, with ``--query-rows`` (default 1,000,000), the history service's queries (when
``plugyard/history/service.py`` exists) on both backends at that many rows.

    python bench/bench_postgres.py [--rows N] [--rounds R] [--query-rows M] [--write]

Needs a PostgreSQL server (``$PLUGYARD_BENCH_POSTGRES``, default postgresql://postgres@127.0.0.1:5432/postgres).
``--write`` replaces the PostgreSQL section of ``bench/RESULTS.md``. Never run this as a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shlex
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import asyncpg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_pipeline as bp
from sqlalchemy.engine import make_url

from plugyard.core.calls import ToolOutcome
from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.recorder import Recorder

ADMIN = os.environ.get("PLUGYARD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = BENCH / "RESULTS.md"
BEGIN = "<!-- bench_postgres:begin -->"
END = "<!-- bench_postgres:end -->"
BATCH = bp.BATCH
COLUMNS = [
    "call_id", "user_id", "session_id", "tool_name", "plugin_name", "arguments", "success", "error_type",
    "error_message", "execution_time_ms", "result_size", "satisfaction", "intent", "workflow_run_id", "created_at",
]  # fmt: skip
PG_INSERT = (
    f"INSERT INTO tool_call ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${i}' for i in range(1, 16))}) "
    "ON CONFLICT (call_id) DO NOTHING"
)


# -- databases ------------------------------------------------------------------------------


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, migrated database; its SQLAlchemy URL. Dropped afterwards."""
    name = f"plugyard_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(ADMIN).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    try:
        yield url
    finally:
        admin = await asyncpg.connect(ADMIN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_count(url: str) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM tool_call"))
    finally:
        await conn.close()


def pg_records(outcomes: list[ToolOutcome]) -> list[tuple[Any, ...]]:
    """The rows as asyncpg takes them (JSON as text, timezone-aware datetimes)."""
    out = []
    for o in outcomes:
        c = o.call
        out.append((
            c.call_id, c.user_id, c.session_id, c.tool_name, c.plugin_name, json.dumps(c.arguments), True,
            None, None, o.duration_ms, o.result_size, None, None, None, c.started_at,
        ))  # fmt: skip
    return out


# -- writers (each returns seconds for all rows) -----------------------------------------------


async def raw_executemany(url: str, records: list[tuple[Any, ...]]) -> float:
    conn = await asyncpg.connect(dsn(url))
    try:
        t0 = time.perf_counter()
        for start in range(0, len(records), BATCH):
            async with conn.transaction():
                await conn.executemany(PG_INSERT, records[start : start + BATCH])
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def raw_copy(url: str, records: list[tuple[Any, ...]]) -> float:
    conn = await asyncpg.connect(dsn(url))
    try:
        t0 = time.perf_counter()
        for start in range(0, len(records), BATCH):
            async with conn.transaction():
                await conn.copy_records_to_table("tool_call", records=records[start : start + BATCH], columns=COLUMNS)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def recorder(url: str, outcomes: list[ToolOutcome], tmp: Path) -> float:
    """As bench_pipeline's recorder run: back-pressure below queue_size so nothing is journaled."""
    engine = create_engine(url)
    rec = Recorder(engine, journal=tmp / f"pg-{uuid.uuid4().hex}.jsonl", batch_size=BATCH, flush_interval=0.2)
    high_water = rec.queue_size // 2
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(rec.run)
            await anyio.lowlevel.checkpoint()
            t0 = time.perf_counter()
            for start in range(0, len(outcomes), BATCH):
                for outcome in outcomes[start : start + BATCH]:
                    rec.submit(outcome)
                await anyio.lowlevel.checkpoint()
                while rec.depth > high_water:
                    await anyio.sleep(0.001)
            await rec.close()
            elapsed = time.perf_counter() - t0
    finally:
        await engine.dispose()
    if rec.journaled:
        raise RuntimeError(f"{rec.journaled} records went to the journal")
    return elapsed


async def core_insert(url: str, outcomes: list[ToolOutcome]) -> float:
    """Diagnostic: the recorder's INSERT … ON CONFLICT DO NOTHING RETURNING call_id through SQLAlchemy
    Core, without the rollups: splits the recorder's cost into the insert and the rollup upkeep."""
    from sqlalchemy.dialects import postgresql

    from plugyard.history.models import tool_call_table
    from plugyard.history.recorder import outcome_row

    rows = [outcome_row(o) for o in outcomes]
    statement = (
        postgresql.insert(tool_call_table)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(tool_call_table.c.call_id)
    )
    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            async with engine.begin() as connection:
                (await connection.execute(statement, rows[start : start + BATCH])).scalars().all()
        return time.perf_counter() - t0
    finally:
        await engine.dispose()


@dataclass
class Writes:
    rows: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)

    def rate(self, name: str) -> float:
        s = self.seconds[name]
        return self.rows * len(s) / sum(s)


WRITERS = {
    "executemany": "asyncpg `executemany`, INSERT … ON CONFLICT (call_id) DO NOTHING (baseline)",
    "copy": "asyncpg `copy_records_to_table` (COPY, no conflict handling)",
    "recorder": "**plugyard `Recorder`** (batch_size=500, rollups in the same transaction)",
    "core": "diagnostic: the recorder's INSERT … RETURNING through SQLAlchemy, without rollups",
}


async def bench_writes(tmp: Path, *, rows: int, rounds: int) -> Writes:
    outcomes = bp.make_outcomes(rows)
    records = pg_records(outcomes)
    result = Writes(rows)
    names = list(WRITERS)
    runs: dict[str, Callable[[str], Awaitable[float]]] = {
        "executemany": lambda url: raw_executemany(url, records),
        "copy": lambda url: raw_copy(url, records),
        "recorder": lambda url: recorder(url, outcomes, tmp),
        "core": lambda url: core_insert(url, outcomes),
    }
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            async with fresh_postgres() as url:
                gc.collect()
                result.seconds.setdefault(name, []).append(await runs[name](url))
                result.counts.setdefault(name, []).append(await pg_count(url))
        print(f"  postgres write round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    for name, counts in result.counts.items():
        if any(c != rows for c in counts):
            raise RuntimeError(f"{name}: rows in the table {counts}, expected {rows} each")
    return result


# -- queries at scale --------------------------------------------------------------------------


def service_available() -> bool:
    return (Path(__file__).resolve().parent.parent / "plugyard" / "core" / "history" / "service.py").exists()


TOOLS = [f"tool_{i:02d}" for i in range(20)]
USERS = [f"user_{i:03d}" for i in range(200)]
QUERY_DAYS = 90


def history_rows(n: int) -> list[dict[str, Any]]:
    """n calls over the last QUERY_DAYS days: 200 users, 20 tools, about 1 in 8 failing."""
    import datetime as dt
    import random

    rnd = random.Random(5)
    now = dt.datetime.now(dt.UTC)
    span = QUERY_DAYS * 86400
    rows = []
    for i in range(n):
        ok = rnd.random() > 0.125
        rows.append({
            "call_id": f"q{i:09d}", "user_id": rnd.choice(USERS), "session_id": None, "tool_name": rnd.choice(TOOLS),
            "plugin_name": "bench", "arguments": {"i": i}, "success": ok,
            "error_type": None if ok else rnd.choice(["ToolTimeout", "RuntimeError", "InvalidArguments"]),
            "error_message": None if ok else "failed", "execution_time_ms": rnd.lognormvariate(3, 1),
            "result_size": 10, "satisfaction": None, "intent": None, "workflow_run_id": None,
            "created_at": now - dt.timedelta(seconds=rnd.randrange(span)),
        })  # fmt: skip
    return rows


async def load(url: str, rows: list[dict[str, Any]]) -> float:
    """Everything through rollups.write_calls (the recorder's own path), 5,000 rows a transaction."""
    from plugyard.history.rollups import write_calls

    engine = create_engine(url)
    try:
        t0 = time.perf_counter()
        for start in range(0, len(rows), 5000):
            async with engine.begin() as connection:
                await write_calls(connection, rows[start : start + 5000])
        return time.perf_counter() - t0
    finally:
        await engine.dispose()


QUERIES: dict[str, Callable[[Any, int], Awaitable[Any]]] = {
    "get_tool_success_rate(tool, 30 days)": lambda s, i: s.get_tool_success_rate(TOOLS[i % 20], 30),
    "get_tool_success_rate(tool, 30 days, user)": lambda s, i: s.get_tool_success_rate(
        TOOLS[i % 20], 30, user_id=USERS[i % 200]
    ),
    "get_user_preferred_tools(user)": lambda s, i: s.get_user_preferred_tools(USERS[i % 200]),
    "get_tool_statistics(30 days), every tool": lambda s, i: s.get_tool_statistics(days=30),
    "get_tool_statistics(tool, 30 days, user)": lambda s, i: s.get_tool_statistics(
        TOOLS[i % 20], 30, user_id=USERS[i % 200]
    ),
    "get_recent_failed_tools(user)": lambda s, i: s.get_recent_failed_tools(USERS[i % 200]),
}


async def time_queries(url: str, reps: int) -> dict[str, list[float]]:
    from plugyard.history.service import ToolHistoryService

    engine = create_engine(url)
    service = ToolHistoryService(engine)
    out: dict[str, list[float]] = {}
    try:
        for name, run in QUERIES.items():
            await run(service, 0)  # warm: plans, caches, pool
            seconds = []
            for i in range(reps):
                t0 = time.perf_counter()
                await run(service, i + 1)
                seconds.append(time.perf_counter() - t0)
            out[name] = seconds
    finally:
        await engine.dispose()
    return out


@dataclass
class Queries:
    rows: int
    load_seconds: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)


async def bench_queries(tmp: Path, *, rows: int, reps: int) -> Queries:
    data = history_rows(rows)
    result = Queries(rows)
    async with fresh_postgres() as url:
        print(f"  loading {rows:,} rows into PostgreSQL …", file=sys.stderr, flush=True)
        result.load_seconds["postgresql"] = await load(url, data)
        async with asyncpg_conn(url) as conn:
            await conn.execute("VACUUM ANALYZE")
        result.seconds["postgresql"] = await time_queries(url, reps)
    path = tmp / "queries.db"
    sqlite_url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    print(f"  loading {rows:,} rows into SQLite …", file=sys.stderr, flush=True)
    result.load_seconds["sqlite"] = await load(sqlite_url, data)
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("ANALYZE")
    result.seconds["sqlite"] = await time_queries(sqlite_url, reps)
    return result


@asynccontextmanager
async def asyncpg_conn(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn(url))
    try:
        yield conn
    finally:
        await conn.close()


def _pct_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] * 1000


def queries_table(q: Queries) -> list[str]:
    lines = [
        "| query | PostgreSQL p50 ms | p95 ms | SQLite p50 ms | p95 ms | PostgreSQL p50 ×SQLite |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in QUERIES:
        pg, sq = q.seconds["postgresql"][name], q.seconds["sqlite"][name]
        lines.append(
            f"| `{name}` | {_pct_ms(pg, 50):.2f} | {_pct_ms(pg, 95):.2f} | {_pct_ms(sq, 50):.2f} | "
            f"{_pct_ms(sq, 95):.2f} | {_pct_ms(pg, 50) / _pct_ms(sq, 50):.2f} |"
        )
    return lines


# -- reporting ----------------------------------------------------------------------------------


def _rate(x: float) -> str:
    return f"{x:,.0f}"


def writes_table(pg: Writes, sq: bp.RecorderResult) -> list[str]:
    base = pg.rate("executemany")
    lines = [
        "| database | writer | rows/s | ×raw (same database) | µs/row | per-round rows/s |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, label in WRITERS.items():
        rate = pg.rate(name)
        per_round = ", ".join(_rate(pg.rows / s) for s in pg.seconds[name])
        ratio = f"{rate / base:.2f}"
        lines.append(f"| PostgreSQL | {label} | {_rate(rate)} | {ratio} | {1e6 / rate:.1f} | {per_round} |")
    lines.append(
        f"| SQLite | plain `sqlite3` `executemany`, ON CONFLICT DO NOTHING (baseline) | {_rate(sq.raw_rate)} | 1.00 | "
        f"{1e6 / sq.raw_rate:.1f} | {', '.join(_rate(sq.rows / s) for s in sq.raw_seconds)} |"
    )
    lines.append(
        f"| SQLite | **plugyard `Recorder`** (batch_size=500, rollups in the same transaction) | "
        f"{_rate(sq.recorder_rate)} | {sq.recorder_rate / sq.raw_rate:.2f} | {1e6 / sq.recorder_rate:.1f} | "
        f"{', '.join(_rate(sq.rows / s) for s in sq.recorder_seconds)} |"
    )
    return lines


def report(pg: Writes, sq: bp.RecorderResult, queries: Queries | None, args: argparse.Namespace, wall: float) -> str:
    import asyncpg as apg

    command = "python bench/bench_postgres.py " + shlex.join(a for a in sys.argv[1:] if a != "--write")
    out = [
        "## Production mode: the recorder on PostgreSQL",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `{command.strip()}` ({wall:.0f} s wall).",
        "",
        *bp.machine(),
        f"- PostgreSQL {SERVER_VERSION} on the same machine (127.0.0.1, default settings), asyncpg {apg.__version__}",
        "",
        f"{pg.rows:,} rows written by each writer, {BATCH} per transaction, into a freshly created and migrated "
        f"database each time; {args.rounds} round(s), the writers taking turns in a rotating order. × is against the "
        "raw limit of the same database measured in the same run (asyncpg `executemany` of the same INSERT … ON "
        "CONFLICT plugyard issues; plain `sqlite3` `executemany` for SQLite). The recorder's transaction also "
        "updates the history rollups (issue 4), which the raw writers do not: that is part of what a recorded "
        "row costs.",
        "",
        *writes_table(pg, sq),
        "",
        f"Rows in the table after each PostgreSQL run: {pg.counts} (expected {pg.rows:,} each); SQLite: raw "
        f"{sq.raw_counts}, recorder {sq.recorder_counts}.",
    ]
    if queries is None:
        out += ["", "History service query latencies: not measured in this run (`--query-rows 0`)."]
        return "\n".join(out) + "\n"
    n = queries.rows
    out += [
        "",
        f"### The history service at {n:,} rows",
        "",
        f"{n:,} calls over the last {QUERY_DAYS} days (200 users, 20 tools, about 1 in 8 failing), loaded through "
        "the recorder's own write path (`rollups.write_calls`, 5,000 rows a transaction: "
        f"{_rate(n / queries.load_seconds['postgresql'])} rows/s into PostgreSQL, "
        f"{_rate(n / queries.load_seconds['sqlite'])} rows/s into SQLite), then ANALYZE. Each query warmed once, "
        f"then run {args.query_reps} times with the tool and user changing every call; latency as the "
        "`ToolHistoryService` caller sees it (SQLAlchemy async engine included). × is PostgreSQL over SQLite "
        "(below 1: PostgreSQL faster).",
        "",
        *queries_table(queries),
    ]
    return "\n".join(out) + "\n"


SERVER_VERSION = "?"


async def main_async(args: argparse.Namespace) -> tuple[Writes, bp.RecorderResult, Queries | None]:
    global SERVER_VERSION
    admin = await asyncpg.connect(ADMIN)
    try:
        SERVER_VERSION = str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()
    with tempfile.TemporaryDirectory(prefix="plugyard-bench-pg-") as name:
        tmp = Path(name)
        pg = await bench_writes(tmp, rows=args.rows, rounds=args.rounds)
        print("  sqlite recorder …", file=sys.stderr, flush=True)
        sq = await bp.bench_recorder(tmp, rows=args.rows, rounds=args.rounds)
        queries = None
        if args.query_rows and service_available():
            queries = await bench_queries(tmp, rows=args.query_rows, reps=args.query_reps)
    return pg, sq, queries


def write_section(text: str) -> None:
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        current = head + block + tail
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(current, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per writer per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each writer once per round)")
    parser.add_argument("--query-rows", type=int, default=1_000_000, help="rows for the query latencies (0: skip)")
    parser.add_argument("--query-reps", type=int, default=50, help="timed runs of each query per backend")
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    args = parser.parse_args()
    t0 = time.perf_counter()
    pg, sq, queries = anyio.run(main_async, args)
    text = report(pg, sq, queries, args, time.perf_counter() - t0)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
