#!/usr/bin/env python
"""The foundation benchmark: what does plugyard's call path cost over a bare mcp SDK server?

Three measurements, each against a baseline taken in the same run:

1. in-memory: ``Client(server)`` in this process, plugyard (recording ON, SQLite file) against
   a bare ``MCPServer`` serving the same no-op function;
2. stdio: ``Client(StdioServerParameters(...))`` against real subprocesses: ``plugyard serve``
   (plugins.toml with the no-op plugin and the history plugin) and ``bench/bare_server.py``;
3. recorder: the history ``Recorder``'s sustained rows/s into SQLite against plain ``sqlite3``
   ``executemany`` of the same rows into the same schema (batches of 500, one transaction each).

Plugyard and bare alternate round by round (the order flips every round), so machine noise
hits both. After the plugyard runs the history table is counted: it must hold one row per call.

    python bench/bench_pipeline.py [--calls N] [--rounds R] [--rows M] [--db-rounds D] [--write]

``--write`` replaces the pipeline section of ``bench/RESULTS.md``. Never run this as a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import noop_plugin
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.recorder import Recorder
from plugyard.mcp_server.server import PlugyardServer

RESULTS = BENCH / "RESULTS.md"
BEGIN = "<!-- bench_pipeline:begin -->"
END = "<!-- bench_pipeline:end -->"
TOOL = "noop"
BATCH = 500
# Targets from the issue.
STDIO_RATIO = 0.90
STDIO_P50_MS = 0.1
INPROC_RATIO = 0.80


# -- measuring ----------------------------------------------------------------------------


@dataclass
class Series:
    """One configuration's rounds: per-call latencies (ns) and the wall time of each round."""

    latencies: list[int] = field(default_factory=list)
    round_seconds: list[float] = field(default_factory=list)
    round_calls: list[int] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    """History rows not yet written when the round's last call returned (recorded plugyard only)."""
    drain_seconds: list[float] = field(default_factory=list)
    """Untimed wait after the round until those rows were in the database."""

    @property
    def calls_per_s(self) -> float:
        return sum(self.round_calls) / sum(self.round_seconds)

    @property
    def calls_per_s_with_drain(self) -> float:
        return sum(self.round_calls) / (sum(self.round_seconds) + sum(self.drain_seconds))

    def round_rates(self) -> list[float]:
        return [n / s for n, s in zip(self.round_calls, self.round_seconds, strict=True)]

    def pct_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index] / 1e6


async def _calls(
    client: Client, n: int, start: int, series: Series | None, drain: Callable[[], Awaitable[None]] | None = None
) -> None:
    """n sequential calls; each result is checked (every configuration pays the same check). ``drain``,
    when given, runs inside the timed window after the last call: writing the round's history."""
    perf = time.perf_counter_ns
    lat: list[int] = []
    t0 = perf()
    for i in range(start, start + n):
        c0 = perf()
        result = await client.call_tool(TOOL, {"x": i})
        lat.append(perf() - c0)
        if result.is_error or result.structured_content != {"result": i}:
            raise RuntimeError(f"unexpected result for x={i}: {result!r}")
    if drain is not None:
        await drain()
    elapsed = (perf() - t0) / 1e9
    if series is not None:
        series.latencies.extend(lat)
        series.round_seconds.append(elapsed)
        series.round_calls.append(n)


async def _wait_until(predicate: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    # Polling on purpose: the condition is rows landing in a database, possibly in another process.
    try:
        with anyio.fail_after(limit):
            while not predicate():
                await anyio.sleep(0.002)
    except TimeoutError:
        raise RuntimeError(f"timed out after {limit:g} s waiting for {what}") from None


RECORDED = "plugyard"
UNRECORDED = "plugyard, history off"


async def _alternate(
    clients: dict[str, Client],
    *,
    calls: int,
    rounds: int,
    warmup: int,
    unwritten: Callable[[str, int], int],
    progress: str,
    drains: dict[str, Callable[[], Awaitable[None]]] | None = None,
) -> tuple[dict[str, Series], dict[str, int]]:
    """Warm every client up, then ``rounds`` rounds of ``calls`` calls each, the order rotating
    every round.

    After every segment, untimed, the benchmark waits until ``unwritten(name, calls made to that
    recorded plugyard so far)`` is 0 for every recorded configuration: no configuration is ever
    timed while a recorded plugyard's last history batch is still being written.
    """
    series = {name: Series() for name in clients}
    made = dict.fromkeys((n for n in clients if n == RECORDED), 0)

    async def settle() -> float:
        t0 = time.perf_counter()
        await _wait_until(lambda: all(unwritten(n, m) <= 0 for n, m in made.items()), "plugyard's history rows")
        return time.perf_counter() - t0

    for name, client in clients.items():
        await _calls(client, warmup, made.get(name, 0), None)
        if name in made:
            made[name] += warmup
        await settle()
    names = list(clients)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            await _calls(clients[name], calls, made.get(name, 0), series[name], (drains or {}).get(name))
            if name in made:
                made[name] += calls
                series[name].backlog.append(unwritten(name, made[name]))
                series[name].drain_seconds.append(await settle())
            else:
                await settle()
        print(f"  {progress} round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return series, made


def count_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("SELECT count(*) FROM tool_call").fetchone()
    return int(n)


@dataclass
class PipelineResult:
    transport: str
    series: dict[str, Series]
    calls_made: int
    rows: int

    @property
    def bare(self) -> Series:
        return self.series["bare"]

    @property
    def plugyard(self) -> Series:
        return self.series[RECORDED]


async def bench_inprocess(tmp: Path, *, calls: int, rounds: int, warmup: int, unrecorded: bool) -> PipelineResult:
    bare = MCPServer("bare")
    bare.add_tool(noop_plugin.noop)
    db = tmp / "inprocess.db"
    config = parse_config({"database": {"url": f"sqlite+aiosqlite:///{db}"}})
    history = HistoryPlugin()
    host = PluginHost(config, entry_points=False, plugins={"noop": noop_plugin, "history": history})
    # The diagnostic configuration: the same pipeline with no history plugin at all.
    plain = PluginHost(parse_config({}), entry_points=False, plugins={"noop": noop_plugin})

    def unwritten(_name: str, made: int) -> int:
        recorder = history.recorder
        assert recorder is not None
        return made - recorder.written - recorder.journaled

    async with host.running(), plain.running():
        servers: dict[str, Any] = {"bare": bare, RECORDED: PlugyardServer(host)}
        if unrecorded:
            servers[UNRECORDED] = PlugyardServer(plain)
        async with contextlib.AsyncExitStack() as stack:
            clients = {name: await stack.enter_async_context(Client(s)) for name, s in servers.items()}
            # In-process the recorder is at hand: each round's timed window ends when its rows are written
            # (flush() wakes the writer at once), so all of the writing is paid inside the rounds.
            assert history.recorder is not None
            series, made_by = await _alternate(
                clients,
                calls=calls,
                rounds=rounds,
                warmup=warmup,
                unwritten=unwritten,
                progress="in-memory",
                drains={RECORDED: history.recorder.flush},
            )
    assert history.recorder is not None and history.recorder.journaled == 0, "records went to the journal"
    return PipelineResult("in-memory", series, sum(made_by.values()), count_rows(db))


def _plugins_toml(path: Path, db: Path | None, disabled: list[str]) -> Path:
    lines = []
    if db is not None:
        lines += ["[database]", f"url = {json.dumps(f'sqlite+aiosqlite:///{db}')}", ""]
    lines += [
        "[plugins]",
        f"modules = [{json.dumps(str(BENCH / 'noop_plugin.py'))}]",
        f"disabled = {json.dumps(disabled)}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def bench_stdio(tmp: Path, *, calls: int, rounds: int, warmup: int, unrecorded: bool) -> PipelineResult:
    db = tmp / "stdio.db"
    first_party = ["notes", "diagnose", "calculator"]
    toml = _plugins_toml(tmp / "plugins.toml", db, first_party)

    def serve(config: Path) -> StdioServerParameters:
        return StdioServerParameters(
            command=sys.executable, args=["-m", "plugyard", "--config", str(config), "serve"], cwd=tmp
        )

    targets = {
        "bare": StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], cwd=tmp),
        RECORDED: serve(toml),
    }
    if unrecorded:
        targets[UNRECORDED] = serve(_plugins_toml(tmp / "no-history.toml", None, [*first_party, "history"]))

    def unwritten(_name: str, made: int) -> int:
        # The server's recorder is in another process: count its rows (WAL: reading beside it is fine).
        try:
            return made - count_rows(db)
        except sqlite3.OperationalError:
            return made

    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(Client(t)) for name, t in targets.items()}
        series, made_by = await _alternate(
            clients, calls=calls, rounds=rounds, warmup=warmup, unwritten=unwritten, progress="stdio"
        )
    # Leaving the clients closed the servers' stdin; `plugyard serve` flushed its history and exited.
    return PipelineResult("stdio", series, sum(made_by.values()), count_rows(db))


# -- the recorder ---------------------------------------------------------------------------


def make_outcomes(n: int) -> list[ToolOutcome]:
    now = dt.datetime.now(dt.UTC)
    session = str(uuid.uuid4())
    out = []
    for i in range(n):
        call = ToolCall(
            call_id=str(uuid.uuid4()),
            tool_name=TOOL,
            plugin_name="noop_plugin",
            arguments={"x": i},
            user_id="bench",
            session_id=session,
            started_at=now + dt.timedelta(microseconds=i),
        )
        out.append(ToolOutcome(call=call, success=True, duration_ms=0.05, result=i, result_size=len(str(i))))
    return out


COLUMNS = (
    "call_id, user_id, session_id, tool_name, plugin_name, arguments, success, error_type, error_message, "
    "execution_time_ms, result_size, satisfaction, intent, workflow_run_id, created_at"
)
RAW_INSERT = f"INSERT INTO tool_call ({COLUMNS}) VALUES ({', '.join('?' * 15)}) ON CONFLICT (call_id) DO NOTHING"


def raw_params(outcomes: list[ToolOutcome]) -> list[tuple[Any, ...]]:
    """The rows exactly as SQLAlchemy binds them for SQLite (JSON text, naive datetime text)."""
    rows = []
    for o in outcomes:
        c = o.call
        rows.append((
            c.call_id, c.user_id, c.session_id, c.tool_name, c.plugin_name,
            json.dumps(c.arguments), 1, None, None, o.duration_ms, o.result_size, None, None, None,
            c.started_at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
        ))  # fmt: skip
    return rows


async def fresh_db(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(engine)
    await engine.dispose()


def raw_sqlite(path: Path, params: list[tuple[Any, ...]]) -> float:
    """Seconds to write ``params`` with plain sqlite3, same PRAGMAs as plugyard's engine."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    for start in range(0, len(params), BATCH):
        conn.execute("BEGIN")
        conn.executemany(RAW_INSERT, params[start : start + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


async def recorder_run(path: Path, tmp: Path, outcomes: list[ToolOutcome]) -> tuple[float, float, Recorder]:
    """Seconds from the first submit until ``close()`` returns (every row written), and the CPU
    seconds the event-loop thread spent meanwhile (the rest runs in the database worker thread)."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    recorder = Recorder(engine, journal=tmp / f"{path.stem}.j.jsonl", batch_size=BATCH, flush_interval=0.2)
    # Back-pressure below the recorder's queue_size, so nothing overflows to the journal: this
    # measures what the database path sustains, not how fast a loop can append to a deque.
    high_water = recorder.queue_size // 2
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.lowlevel.checkpoint()
            t0, cpu0 = time.perf_counter(), time.thread_time()
            for start in range(0, len(outcomes), BATCH):
                for outcome in outcomes[start : start + BATCH]:
                    recorder.submit(outcome)
                await anyio.lowlevel.checkpoint()
                while recorder.depth > high_water:
                    await anyio.sleep(0.001)
            await recorder.close()
            elapsed, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    finally:
        await engine.dispose()
    return elapsed, cpu, recorder


@dataclass
class RecorderResult:
    rows: int
    raw_seconds: list[float] = field(default_factory=list)
    recorder_seconds: list[float] = field(default_factory=list)
    recorder_loop_cpu: list[float] = field(default_factory=list)
    raw_counts: list[int] = field(default_factory=list)
    recorder_counts: list[int] = field(default_factory=list)

    @property
    def raw_rate(self) -> float:
        return self.rows * len(self.raw_seconds) / sum(self.raw_seconds)

    @property
    def recorder_rate(self) -> float:
        return self.rows * len(self.recorder_seconds) / sum(self.recorder_seconds)


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def bench_recorder(tmp: Path, *, rows: int, rounds: int) -> RecorderResult:
    outcomes = make_outcomes(rows)
    params = raw_params(outcomes)
    result = RecorderResult(rows)
    for r in range(rounds):
        order = ("raw", "recorder") if r % 2 == 0 else ("recorder", "raw")
        for which in order:
            path = tmp / f"{which}-{r}.db"
            await fresh_db(path)
            gc.collect()
            if which == "raw":
                result.raw_seconds.append(raw_sqlite(path, params))
                result.raw_counts.append(count_rows(path))
            else:
                seconds, cpu, recorder = await recorder_run(path, tmp, outcomes)
                result.recorder_loop_cpu.append(cpu)
                assert recorder.journaled == 0, f"{recorder.journaled} records went to the journal"
                result.recorder_seconds.append(seconds)
                result.recorder_counts.append(count_rows(path))
            _remove_db(path)
        print(f"  recorder round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return result


# -- reporting ------------------------------------------------------------------------------


def machine() -> list[str]:
    model = cpus = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                model = value.strip()
            elif key.strip() == "CPU(s)":
                cpus = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    u = platform.uname()  # the node name (hostname) is left out on purpose
    from importlib.metadata import version

    libs = ", ".join(f"{p} {version(p)}" for p in ("mcp", "pydantic", "SQLAlchemy", "aiosqlite", "anyio"))
    return [
        f"- CPU: {model}, {cpus} CPU(s) (`lscpu`)",
        f"- OS: {u.system} {u.release} {u.machine}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), SQLite {sqlite3.sqlite_version}",
        f"- {libs}",
    ]


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def pipeline_table(results: list[PipelineResult]) -> list[str]:
    lines = [
        "| transport | server | calls/s | ×bare | p50 ms | Δp50 ms | p95 ms | Δp95 ms "
        "| ×bare per round: median (min–max) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {"bare": "bare `MCPServer` (baseline)", RECORDED: "**plugyard, recorded**",
              UNRECORDED: "plugyard, history plugin disabled (diagnostic)"}  # fmt: skip
    for res in results:
        b = res.bare
        for name, s in res.series.items():
            if name == "bare":
                lines.append(
                    f"| {res.transport} | {labels[name]} | {_fmt_rate(b.calls_per_s)} | 1.00 | {b.pct_ms(50):.3f} "
                    f"| – | {b.pct_ms(95):.3f} | – | – |"
                )
                continue
            ratios = [x / y for x, y in zip(s.round_rates(), b.round_rates(), strict=True)]
            bold = "**" if name == RECORDED else ""
            lines.append(
                f"| {res.transport} | {labels[name]} | {_fmt_rate(s.calls_per_s)} | "
                f"{bold}{s.calls_per_s / b.calls_per_s:.2f}{bold} | {s.pct_ms(50):.3f} | "
                f"{bold}{s.pct_ms(50) - b.pct_ms(50):+.3f}{bold} | {s.pct_ms(95):.3f} | "
                f"{s.pct_ms(95) - b.pct_ms(95):+.3f} | "
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |"
            )
    return lines


def backlog_notes(results: list[PipelineResult]) -> list[str]:
    notes = []
    for res in results:
        p = res.plugyard
        if not p.backlog:
            continue
        backlog = statistics.median(p.backlog)
        if not any(p.backlog):
            notes.append(
                f"- {res.transport}: every round's history rows were written inside its timed window "
                "(the benchmark flushed the recorder before the round's clock stopped)."
            )
            continue
        drain_ms = statistics.median(p.drain_seconds) * 1000
        ratio = p.calls_per_s_with_drain / res.bare.calls_per_s
        notes.append(
            f"- {res.transport}: when a round's last call returned, a median {backlog:,.0f} of its "
            f"{res.plugyard.round_calls[0]:,} history rows were not yet written; they landed a median "
            f"{drain_ms:.0f} ms later (untimed). Counting that wait, plugyard's rate is "
            f"{_fmt_rate(p.calls_per_s_with_drain)} calls/s ({ratio:.2f}× bare)"
            + (
                " — the writer falls behind while calls keep the event loop busy."
                if backlog >= BATCH
                else "; most of that wait is the recorder's flush_interval (0.2 s) timer, not work."
            )
        )
    return notes


def targets_table(results: dict[str, PipelineResult]) -> list[str]:
    lines = ["| target (from the issue) | measured | met |", "|---|---:|:---:|"]

    def row(text: str, value: str, ok: bool) -> None:
        lines.append(f"| {text} | {value} | {'yes' if ok else '**no**'} |")

    s = results.get("stdio")
    if s is not None:
        ratio = s.plugyard.calls_per_s / s.bare.calls_per_s
        delta = s.plugyard.pct_ms(50) - s.bare.pct_ms(50)
        row(f"stdio, recorded: calls/s ≥ {STDIO_RATIO:.2f}× bare", f"{ratio:.2f}×", ratio >= STDIO_RATIO)
        row(f"stdio, recorded: p50 ≤ bare + {STDIO_P50_MS} ms", f"{delta:+.3f} ms", delta <= STDIO_P50_MS)
    m = results.get("in-memory")
    if m is not None:
        ratio = m.plugyard.calls_per_s / m.bare.calls_per_s
        row(f"in-process, recorded: calls/s ≥ {INPROC_RATIO:.2f}× bare", f"{ratio:.2f}×", ratio >= INPROC_RATIO)
    return lines


def recorder_table(rec: RecorderResult) -> list[str]:
    loop_us = sum(rec.recorder_loop_cpu) / (rec.rows * len(rec.recorder_loop_cpu)) * 1e6
    return [
        "| writer | rows/s | ×raw | µs/row | event-loop thread CPU µs/row | per-round rows/s |",
        "|---|---:|---:|---:|---:|---|",
        f"| plain `sqlite3` `executemany`, {BATCH} rows/transaction (the raw limit) | {_fmt_rate(rec.raw_rate)} | "
        f"1.00 | {1e6 / rec.raw_rate:.1f} | – | {', '.join(_fmt_rate(rec.rows / s) for s in rec.raw_seconds)} |",
        f"| plugyard `Recorder` (batch_size={BATCH}, flush_interval=0.2) | {_fmt_rate(rec.recorder_rate)} | "
        f"**{rec.recorder_rate / rec.raw_rate:.2f}** | {1e6 / rec.recorder_rate:.1f} | {loop_us:.1f} | "
        f"{', '.join(_fmt_rate(rec.rows / s) for s in rec.recorder_seconds)} |",
    ]


def report(results: list[PipelineResult], rec: RecorderResult | None, args: argparse.Namespace, wall: float) -> str:
    command = "python bench/bench_pipeline.py " + shlex.join(a for a in sys.argv[1:] if a != "--write")
    out = [
        "## Pipeline: plugyard vs a bare `MCPServer`",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `{command.strip()}` ({wall:.0f} s wall).",
        "",
        *machine(),
        f"- 1-minute load average {args.load[0]:.2f} at the start, {args.load[1]:.2f} at the end "
        "(other processes share the machine; the rotation spreads their noise over every configuration)",
        "",
    ]
    if results:
        out += [
            f"A no-op async tool (`noop(x: int = 0) -> int`, the same function on every server) called "
            f"sequentially by one client: {args.warmup:,} warm-up calls, then {args.rounds} rounds × "
            f"{args.calls:,} calls per configuration, the configurations taking turns and the order rotating "
            "every round. Over stdio each server is a real subprocess: `plugyard serve` with a plugins.toml "
            "(the no-op plugin from `bench/noop_plugin.py`, the history plugin, the other first-party "
            "plugins disabled) and `bench/bare_server.py` (`MCPServer.run()`). Recorded plugyard writes every "
            "call to a SQLite file in a temp dir through the history plugin (default batch_size 500, "
            "flush_interval 0.2 s). In-memory, a recorded round's timed window ends only when its history "
            "rows are written (the benchmark calls the recorder's `flush()`, which wakes the writer at once): "
            "every row's writing is paid inside the rounds. Over stdio the server's writer cannot be hurried "
            "from outside; after every segment the benchmark waits, untimed, until that history is in the "
            "database, so no configuration is timed while plugyard's last batch is being written (what that "
            "wait hides is listed below the table). Latency is per call as the client sees it; "
            "calls/s is the calls over the wall time of the rounds; Δ and × are against the bare server "
            'of the same run and transport. The "history plugin disabled" row is a diagnostic (not a '
            "target): the same pipeline with nothing recorded, to split the cost between the pipeline and "
            "the recorder.",
            "",
            *pipeline_table(results),
            "",
            *backlog_notes(results),
            "",
            *targets_table({r.transport: r for r in results}),
            "",
            "History rows after the recorded plugyard runs (must equal the calls made, warm-up included): "
            + "; ".join(
                f"{r.transport} {r.rows:,} / {r.calls_made:,} {'ok' if r.rows == r.calls_made else 'MISMATCH'}"
                for r in results
            )
            + ".",
            "",
        ]
    if rec is not None:
        out += [
            "### Recorder: sustained rows/s into SQLite",
            "",
            f"{rec.rows:,} `ToolOutcome`s submitted to a `Recorder` while `run()` runs (the producer yields "
            f"every {BATCH} and holds back above half the queue size, so nothing is journaled), timed from the "
            "first submit until `close()` returns; against plain `sqlite3` `executemany` of the same rows "
            "(pre-serialised) into the same migrated schema, same PRAGMAs (WAL, synchronous=NORMAL), same "
            f"`ON CONFLICT (call_id) DO NOTHING`. {len(rec.raw_seconds)} round(s) each, alternating, fresh "
            "database file every time.",
            "",
            *recorder_table(rec),
            "",
            f"Rows in the table after each run: raw {rec.raw_counts}, recorder {rec.recorder_counts} "
            f"(expected {rec.rows:,} each).",
            "",
        ]
    return "\n".join(out)


def write_results(section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the section between ``begin`` and ``end`` markers of RESULTS.md (appended when missing)."""
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        if begin in text and end in text:
            head, _, rest = text.partition(begin)
            _, _, tail = rest.partition(end)
            RESULTS.write_text(head + block + tail, encoding="utf-8")
            return
        RESULTS.write_text(text.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    RESULTS.write_text(
        "# Benchmark results\n\nFigures are ratios against a baseline measured in the same run; raw numbers "
        "beside them. See `bench/README.md` for what each benchmark measures.\n\n" + block + "\n",
        encoding="utf-8",
    )


async def main_async(args: argparse.Namespace) -> tuple[list[PipelineResult], RecorderResult | None]:
    results: list[PipelineResult] = []
    rec = None
    with tempfile.TemporaryDirectory(prefix="plugyard-bench-") as name:
        tmp = Path(name)
        common = {"calls": args.calls, "rounds": args.rounds, "warmup": args.warmup, "unrecorded": args.diagnostic}
        if "memory" in args.only:
            results.append(await bench_inprocess(tmp, **common))
        if "stdio" in args.only:
            results.append(await bench_stdio(tmp, **common))
        if "recorder" in args.only:
            rec = await bench_recorder(tmp, rows=args.rows, rounds=args.db_rounds)
    return results, rec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per configuration per round")
    parser.add_argument("--rounds", type=int, default=8, help="rounds (each configuration once per round)")
    parser.add_argument("--warmup", type=int, default=500, help="untimed calls per configuration first")
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the recorder benchmark")
    parser.add_argument("--db-rounds", type=int, default=2, help="rounds of the recorder benchmark")
    parser.add_argument(
        "--only", nargs="+", choices=("memory", "stdio", "recorder"), default=("memory", "stdio", "recorder")
    )
    parser.add_argument(
        "--no-diagnostic",
        dest="diagnostic",
        action="store_false",
        help="skip the plugyard-with-history-disabled configuration",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the pipeline section of bench/RESULTS.md")
    args = parser.parse_args()
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    results, rec = anyio.run(main_async, args)
    args.load = (load0, os.getloadavg()[0])
    text = report(results, rec, args, time.perf_counter() - t0)
    print(text)
    dropped = [r for r in results if r.rows != r.calls_made]
    if rec is not None and any(n != rec.rows for n in rec.raw_counts + rec.recorder_counts):
        dropped.append(rec)  # type: ignore[arg-type]
    for r in results:
        print(f"history rows ({r.transport}): {r.rows:,} for {r.calls_made:,} calls", file=sys.stderr)
    if dropped:
        print("ERROR: history rows do not match the calls made; results not written", file=sys.stderr)
        return 1
    if args.write:
        write_results(text)
        print(f"wrote {RESULTS.relative_to(BENCH.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
