#!/usr/bin/env python
"""Served plugyard against a bare mcp SDK server, per transport, tail included.

Every configuration is a real server process, started once and kept for the whole run; the rounds rotate
between the configurations of a transport, so noise on the machine hits every one of them:

- stdio: one client, sequential calls. Baseline: the SDK's own stdio server (``bench/bare_server.py``).
  Against it: ``plugyard serve`` recording into SQLite, and into PostgreSQL.
- http: stateless streamable HTTP, 16 clients at once, each with its own ``Client`` (its own HTTP
  connection pool and session), each making sequential calls. Baseline: the same bare ``MCPServer`` served
  by its own ``run("streamable-http", stateless_http=True)``. Against it: ``plugyard serve --transport http
  --stateless`` recording into SQLite, and into PostgreSQL. ``--stateful``: both with sessions instead
  (plugyard's HTTP default). ``--load raw``: each client a ``RawClient`` (bench/raw_client.py), requests
  written as bytes as a load tool sends them, so the servers rather than the SDK clients set the pace.
- ``--upstream`` adds, on each transport, plugyard serving the bare server's no-op as a mounted upstream:
  against the bare server of that transport, the same upstream called directly.

Each round reports calls/s and p99 per configuration, and their ratios against the bare server of the same
round; the summary gives the median and the spread (min-max) of those per-round ratios. After every
segment the benchmark waits, untimed, until the recorded plugyard's history rows are in the database, and
at the end it checks one row per call made.

    python bench/bench_serve.py [--rounds R] [--stdio-calls N] [--http-calls N] [--clients C]
                                [--only stdio http] [--no-postgres] [--everything] [--upstream]
                                [--stateful] [--load sdk|raw] [--client-mode legacy|auto] [--write]

PostgreSQL: ``$PLUGYARD_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``); each
recorded configuration gets a freshly created, migrated database, dropped afterwards. ``--write`` replaces
the serve section of ``bench/RESULTS.md``. Never run this as a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx2
from mcp import Client, StdioServerParameters

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_pipeline import count_rows, machine, write_results
from raw_client import RawClient

from plugyard.history import migrate
from plugyard.history.db import create_engine

TOOL = "noop"
BEGIN = "<!-- bench_serve:begin -->"
END = "<!-- bench_serve:end -->"
PG_ADMIN = os.environ.get("PLUGYARD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
FIRST_PARTY = ["notes", "diagnose", "calculator", "assistant", "intents", "intents_llm", "workflows"]
# Targets from the issue: recorded plugyard against the bare server of the same transport and round.
RATE_TARGET = 1.0
P99_TARGET = 1.2


def pct(values: list[int], q: float) -> float:
    """The q-th percentile (nearest rank) in ms of latencies in ns."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index] / 1e6


@dataclass
class Series:
    """One configuration's rounds: per-call latencies (ns) per round and each round's wall time."""

    rounds: list[list[int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    """The server process's CPU seconds per round, its history writing included (measured after the rows landed)."""
    client_cpu: list[float] = field(default_factory=list)
    """This process's CPU seconds (the clients) in each round's timed window."""

    @property
    def cpu_ms_per_call(self) -> float:
        return sum(self.cpu) / len(self.all) * 1e3

    @property
    def client_cpu_ms_per_call(self) -> float:
        return sum(self.client_cpu) / len(self.all) * 1e3

    def rate(self, r: int) -> float:
        return len(self.rounds[r]) / self.seconds[r]

    def p99(self, r: int) -> float:
        return pct(self.rounds[r], 99)

    @property
    def all(self) -> list[int]:
        return [x for lat in self.rounds for x in lat]

    @property
    def total_rate(self) -> float:
        return len(self.all) / sum(self.seconds)


def cpu_seconds(pid: int) -> float:
    """User + system CPU so far of a process and of every live process it started (Linux /proc): a
    plugyard's upstream server counts as the server's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            kids.update(int(k) for k in (task / "children").read_text().split())
    return own + sum(cpu_seconds(k) for k in kids if Path(f"/proc/{k}").exists())


def newest_child(before: set[int]) -> int:
    """The pid of the child process this benchmark started since ``before`` (a stdio server)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in before:
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                    return int(entry.name)
    raise RuntimeError("the stdio server's process was not found")


def children() -> set[int]:
    return {int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()}


@dataclass
class Config:
    """One server process: how to reach it and, when it records, how to count its rows."""

    name: str
    clients: list[Any]
    """``Client``s, or ``RawClient``s (``--load raw``): both answer ``call_tool(name, arguments)``."""
    pid: int
    unwritten: Callable[[int], Awaitable[int]] | None = None
    made: int = 0
    series: Series = field(default_factory=Series)
    everything: bool = False
    """Every client searches once a segment (``search_tools``) and calls through the ``call_tool`` proxy."""


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plugins_toml(
    path: Path,
    url: str,
    journal: Path,
    extra: list[str] | None = None,
    *,
    everything: bool = False,
    upstream: str | None = None,
) -> Path:
    """The no-op plugin and the history plugin; with ``everything``, every first-party plugin too and
    tool search on (tools/list shows search_tools and call_tool; the no-op is called through the proxy);
    with ``upstream`` (the protocol plugyard speaks to it), no no-op plugin: the no-op is the tool of
    ``bare_server.py`` mounted over stdio as the upstream ``bare`` (``prefix = ""``)."""
    module = [] if upstream else [str(BENCH / "noop_plugin.py")]
    mount = [
        "",
        "[plugins.upstream.servers.bare]",
        f"command = {json.dumps(sys.executable)}",
        f"args = {json.dumps([str(BENCH / 'bare_server.py')])}",
        'prefix = ""',
        f"protocol = {json.dumps(upstream)}",
    ]
    lines = [
        "[database]",
        f"url = {json.dumps(url)}",
        "",
        "[server]",
        'default_user = "bench"',
        *(['tool_search = "on"'] if everything else []),
        "",
        "[plugins]",
        f"modules = {json.dumps(module)}",
        f"disabled = {json.dumps([] if everything else FIRST_PARTY)}",
        "",
        "[plugins.history]",
        f"journal = {json.dumps(str(journal))}",
        *(extra or []),
        *(mount if upstream else []),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def postgres_database(tag: str) -> AsyncIterator[str]:
    """A fresh, migrated database; its SQLAlchemy URL. Dropped afterwards."""
    name = f"plugyard_bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN.rsplit("/", 1)[0]
        url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_engine(url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield url
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def row_counter(url: str, stack: contextlib.AsyncExitStack) -> Callable[[], Awaitable[int]]:
    if url.startswith("sqlite"):
        path = Path(url.split(":///", 1)[1])

        async def count_sqlite() -> int:
            try:
                return count_rows(path)
            except sqlite3.OperationalError:
                return 0

        return count_sqlite
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    stack.push_async_callback(conn.close)

    async def count_pg() -> int:
        return int(await conn.fetchval("SELECT count(*) FROM tool_call"))

    return count_pg


@contextlib.asynccontextmanager
async def http_server(
    argv: list[str], cwd: Path, port: int, log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, int]]:
    """Start ``argv`` (which serves on ``port``), wait until it answers, yield its MCP URL and pid, stop it."""
    with log.open("wb") as err:
        process = await anyio.open_process(argv, cwd=cwd, stdin=None, stdout=err, stderr=err, env=env)
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            with anyio.fail_after(60):
                while True:
                    if process.returncode is not None:
                        raise RuntimeError(f"{shlex.join(argv)} exited: {log.read_text(errors='replace')[-2000:]}")
                    try:
                        async with httpx2.AsyncClient() as http:
                            await http.get(f"http://127.0.0.1:{port}/")
                        break
                    except httpx2.TransportError:
                        await anyio.sleep(0.1)
            yield url, process.pid
        finally:
            process.terminate()  # SIGTERM: plugyard drains and flushes its history
            with anyio.move_on_after(30):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


PROBES: list[tuple[str, Path]] = []
"""(configuration, samples file) of every server run under ``serve_probe.py`` (``--probe``)."""


def plugyard_argv(toml: Path, *rest: str, probe: bool = False, py_spy: str | None = None) -> list[str]:
    if py_spy:
        # py-spy (pip install py-spy; not a dependency) samples the server it starts: raw stacks into py_spy/.
        Path(py_spy).mkdir(parents=True, exist_ok=True)
        out = Path(py_spy) / f"{toml.stem}.txt"
        PROBES.append((f"py-spy {toml.stem}", out))
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        return [exe, "record", "-r", "250", "-f", "raw", "-o", str(out), "--", *plugyard_argv(toml, *rest)]
    if probe:
        out = toml.with_suffix(".probe.json")
        PROBES.append((f"{toml.stem} {' '.join(rest)}".strip(), out))
        return [sys.executable, str(BENCH / "serve_probe.py"), str(out), "--config", str(toml), "serve", *rest]
    return [sys.executable, "-m", "plugyard", "--config", str(toml), "serve", *rest]


# -- measuring ------------------------------------------------------------------------------------


async def client_calls(client: Any, n: int, start: int, out: list[int], everything: bool = False) -> None:
    perf = time.perf_counter_ns
    if everything:
        c0 = perf()
        found = await client.call_tool("search_tools", {"query": "no-op that returns x", "limit": 3})
        out.append(perf() - c0)
        if found.is_error:
            raise RuntimeError(f"search_tools failed: {found!r}")
    for i in range(start, start + n):
        c0 = perf()
        if everything:
            result = await client.call_tool("call_tool", {"name": TOOL, "arguments": {"x": i}})
        else:
            result = await client.call_tool(TOOL, {"x": i})
        out.append(perf() - c0)
        if result.is_error or result.structured_content != {"result": i}:
            raise RuntimeError(f"unexpected result for x={i}: {result!r}")


async def segment(config: Config, calls_each: int, timed: bool) -> None:
    """Every client of ``config`` makes ``calls_each`` sequential calls, all clients at once."""
    lat: list[int] = []
    cpu0 = cpu_seconds(config.pid)
    client0 = time.process_time()
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for k, client in enumerate(config.clients):
            tg.start_soon(client_calls, client, calls_each, config.made + k * calls_each, lat, config.everything)
    elapsed = time.perf_counter() - t0
    client_cpu = time.process_time() - client0
    config.made += (calls_each + config.everything) * len(config.clients)
    if timed:
        config.series.rounds.append(lat)
        config.series.seconds.append(elapsed)
        config.series.client_cpu.append(client_cpu)
    if config.unwritten is not None:
        if timed:
            config.series.backlog.append(await config.unwritten(config.made))
        with anyio.fail_after(120):
            while await config.unwritten(config.made) > 0:
                await anyio.sleep(0.005)
    if timed:
        config.series.cpu.append(cpu_seconds(config.pid) - cpu0)


async def rotate(configs: list[Config], *, rounds: int, calls_each: int, warmup_each: int, label: str) -> None:
    for config in configs:
        await segment(config, warmup_each, timed=False)
    for r in range(rounds):
        k = r % len(configs)
        for config in configs[k:] + configs[:k]:
            await segment(config, calls_each, timed=True)
        bare = configs[0].series
        line = ", ".join(
            f"{c.name} {c.series.rate(r) / bare.rate(r):.2f}x rate {c.series.p99(r) / bare.p99(r):.2f}x p99"
            for c in configs[1:]
        )
        print(f"  {label} round {r + 1}/{rounds}: bare {bare.rate(r):,.0f}/s p99 {bare.p99(r):.2f} ms; {line}",
              file=sys.stderr, flush=True)  # fmt: skip


@dataclass
class TransportResult:
    transport: str
    clients: int
    configs: list[Config]
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)


async def recorded_configs(
    tmp: Path, stack: contextlib.AsyncExitStack, args: argparse.Namespace, tag: str
) -> list[tuple[str, str, Path, dict[str, str] | None]]:
    """(name, database url, plugins.toml, environment) of every recorded plugyard of one transport; with
    ``--before DIR``, each also as the plugyard package found in DIR (another version, same run)."""
    databases = [("SQLite", f"sqlite+aiosqlite:///{tmp / f'{tag}.db'}")]
    if args.postgres:
        databases.append(("PostgreSQL", await stack.enter_async_context(postgres_database(tag))))
    versions: list[tuple[str, dict[str, str] | None]] = [("plugyard", None)]
    if args.before:
        versions.insert(0, ("plugyard before", {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}))
    out = []
    for db, url in databases:
        for k, (version, env) in enumerate(versions):
            if k:  # every version writes a database of its own
                url = f"sqlite+aiosqlite:///{tmp / f'{tag}-{k}.db'}" if db == "SQLite" else (
                    await stack.enter_async_context(postgres_database(f"{tag}{k}")))  # fmt: skip
            stem = f"{tag}-{db.lower()}-{k}"
            out.append((f"{version}, {db}", url, plugins_toml(tmp / f"{stem}.toml", url, tmp / f"{stem}.j"), env))
    if args.everything:
        url = f"sqlite+aiosqlite:///{tmp / f'{tag}-everything.db'}"
        stem = f"{tag}-everything"
        toml = plugins_toml(tmp / f"{stem}.toml", url, tmp / f"{stem}.j", everything=True)
        out.append((EVERYTHING, url, toml, None))
    if args.upstream:
        url = f"sqlite+aiosqlite:///{tmp / f'{tag}-upstream.db'}"
        stem = f"{tag}-upstream"
        toml = plugins_toml(tmp / f"{stem}.toml", url, tmp / f"{stem}.j", upstream=args.client_mode)
        out.append((UPSTREAM, url, toml, None))
    return out


EVERYTHING = "plugyard, everything on, SQLite"
"""Every first-party plugin enabled, tool search on: each client searches once a segment, then calls
the no-op through ``call_tool`` (recorded as the no-op: search events and their learning included)."""


UPSTREAM = "plugyard, an upstream's tool, SQLite"
"""The no-op is ``bare_server.py``'s, mounted over stdio as an upstream and recorded: against the bare
server of the same transport, which is that upstream called directly (its CPU counts as plugyard's)."""


async def bench_stdio(tmp: Path, args: argparse.Namespace) -> TransportResult:
    async with contextlib.AsyncExitStack() as stack:
        bare = StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], cwd=tmp)
        before = children()
        first = await stack.enter_async_context(Client(bare, mode=args.client_mode))
        configs = [Config("bare `MCPServer`", [first], newest_child(before))]
        counted: dict[str, Callable[[], Awaitable[int]]] = {}
        for name, url, toml, env in await recorded_configs(tmp, stack, args, "stdio"):
            argv = plugyard_argv(toml, probe=args.probe, py_spy=args.py_spy)
            params = StdioServerParameters(command=argv[0], args=argv[1:], cwd=tmp, env=env)
            before = children()
            client = await stack.enter_async_context(Client(params, mode=args.client_mode))
            pid = newest_child(before)
            count = counted[name] = await row_counter(url, stack)
            configs.append(Config(name, [client], pid, _unwritten(count), everything=name == EVERYTHING))
        await rotate(configs, rounds=args.rounds, calls_each=args.stdio_calls, warmup_each=300, label="stdio")
        result = TransportResult("stdio", 1, configs)
        for c in configs[1:]:
            result.rows[c.name] = (await counted[c.name](), c.made)
    return result


def _unwritten(count: Callable[[], Awaitable[int]]) -> Callable[[int], Awaitable[int]]:
    async def unwritten(made: int) -> int:
        return made - await count()

    return unwritten


async def bench_http(tmp: Path, args: argparse.Namespace) -> TransportResult:
    async with contextlib.AsyncExitStack() as stack:

        async def clients(url: str) -> list[Any]:
            if args.load_kind == "raw":
                modern = args.client_mode == "auto"
                return [
                    await stack.enter_async_context(RawClient(url, modern=modern, session=args.stateful))
                    for _ in range(args.clients)
                ]
            return [await stack.enter_async_context(Client(url, mode=args.client_mode)) for _ in range(args.clients)]

        port = free_port()
        mode = "http-stateful" if args.stateful else "http"
        bare_argv = [sys.executable, str(BENCH / "bare_server.py"), mode, str(port)]
        bare_url, pid = await stack.enter_async_context(http_server(bare_argv, tmp, port, tmp / "bare-http.log"))
        configs = [Config("bare `MCPServer`", await clients(bare_url), pid)]
        counted: dict[str, Callable[[], Awaitable[int]]] = {}
        for name, db_url, toml, env in await recorded_configs(tmp, stack, args, "http"):
            port = free_port()
            stateless = () if args.stateful else ("--stateless",)
            argv = plugyard_argv(
                toml, "--transport", "http", *stateless, "--port", str(port), probe=args.probe, py_spy=args.py_spy
            )
            url, pid = await stack.enter_async_context(http_server(argv, tmp, port, tmp / f"{toml.stem}.log", env))
            count = counted[name] = await row_counter(db_url, stack)
            configs.append(Config(name, await clients(url), pid, _unwritten(count), everything=name == EVERYTHING))
        await rotate(configs, rounds=args.rounds, calls_each=args.http_calls, warmup_each=20, label="http")
        result = TransportResult("http-stateful" if args.stateful else "http", args.clients, configs)
        for c in configs[1:]:
            result.rows[c.name] = (await counted[c.name](), c.made)
    return result


# -- reporting ------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def per_round(res: TransportResult, c: Config) -> tuple[list[float], list[float]]:
    b = res.configs[0].series
    n = len(b.rounds)
    return [c.series.rate(r) / b.rate(r) for r in range(n)], [c.series.p99(r) / b.p99(r) for r in range(n)]


TRANSPORT_LABEL = {
    "stdio": "stdio, one client, sequential",
    "http": "streamable HTTP stateless, {clients} clients each with its own session",
    "http-stateful": "streamable HTTP with sessions (the default), {clients} clients each with its own session",
}


def table(results: list[TransportResult]) -> list[str]:
    lines = [
        "| transport | server | calls/s | p50 ms | p99 ms | calls/s ×bare per round: median (min–max) "
        "| p99 ×bare per round: median (min–max) | pooled calls/s ×bare | pooled p99 ×bare "
        "| server CPU ms/call | clients' CPU ms/call |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        label = TRANSPORT_LABEL[res.transport].format(clients=res.clients)
        b = res.configs[0].series
        for c in res.configs:
            s = c.series
            if c is res.configs[0]:
                ratios = "| – | – | 1.00 | 1.00 |"
            else:
                rates, p99s = per_round(res, c)
                ratios = (
                    f"| **{spread(rates)}** | **{spread(p99s)}** | {s.total_rate / b.total_rate:.2f} "
                    f"| {pct(s.all, 99) / pct(b.all, 99):.2f} |"
                )
            lines.append(
                f"| {label} | {c.name} | {s.total_rate:,.0f} | {pct(s.all, 50):.2f} | {pct(s.all, 99):.2f} {ratios}"
                f" {s.cpu_ms_per_call:.3f} | {s.client_cpu_ms_per_call:.3f} |"
            )
    return lines


def targets(results: list[TransportResult]) -> list[str]:
    lines = ["| target (issue 18), per-round median | measured | met |", "|---|---:|:---:|"]
    for res in results:
        for c in res.configs[1:]:
            rates, p99s = per_round(res, c)
            r, p = statistics.median(rates), statistics.median(p99s)
            lines.append(
                f"| {res.transport}, {c.name}: calls/s ≥ {RATE_TARGET:.1f}× bare | {r:.2f}× | "
                f"{'yes' if r >= RATE_TARGET else '**no**'} |"
            )
            lines.append(
                f"| {res.transport}, {c.name}: p99 ≤ {P99_TARGET:.1f}× bare | {p:.2f}× | "
                f"{'yes' if p <= P99_TARGET else '**no**'} |"
            )
    return lines


def report(results: list[TransportResult], args: argparse.Namespace, wall: float) -> str:
    command = "python bench/bench_serve.py " + shlex.join(a for a in sys.argv[1:] if a != "--write")
    rows = "; ".join(
        f"{res.transport} {name} {n:,} / {made:,} {'ok' if n == made else 'MISMATCH'}"
        for res in results
        for name, (n, made) in res.rows.items()
    )
    backlog = "; ".join(
        f"{res.transport} {c.name} {statistics.median(c.series.backlog):,.0f}"
        for res in results
        for c in res.configs[1:]
        if c.series.backlog
    )
    return "\n".join(
        [
            "## Served: plugyard vs a bare `MCPServer`, per transport, tail included (bench_serve.py)",
            "",
            f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, `{command.strip()}` ({wall:.0f} s wall).",
            "",
            *machine(),
            f"- 1-minute load average {args.load[0]:.2f} at the start, {args.load[1]:.2f} at the end (2 CPUs, shared: "
            "other processes ran meanwhile; the rotation spreads their noise over every configuration)",
            "",
            "A no-op async tool (`noop(x: int = 0) -> int`, the same function on every server); every server a real "
            "process, started once; the configurations of a transport take turns, the order rotating every round. "
            + ("Clients (stdio; HTTP clients below): " if args.load_kind == "raw" else "Clients: ")
            + f"the SDK's `Client(mode={args.client_mode!r})` on every server ("
            + (
                "the 2025-11-25 handshake, as desktop clients speak it; "
                if args.client_mode == "legacy"
                else "2026-07-28 when the server speaks it, self-contained requests; "
            )
            + "`--client-mode` picks). "
            f"stdio: one client, {args.stdio_calls:,} sequential calls a round, against `bench/bare_server.py` "
            "(the SDK's own stdio server). HTTP: "
            + ("streamable HTTP with sessions, " if args.stateful else "stateless streamable HTTP, ")
            + f"{args.clients} `Client`s at once (each its own HTTP connection and session), {args.http_calls} "
            'sequential calls each a round, against the same bare server run by `MCPServer.run("streamable-http", '
            + (
                "stateless_http=False)` and plugyard without `--stateless` (sessions, both servers' default; "
                if args.stateful
                else "stateless_http=True)` ("
            )
            + "uvicorn at log level warning, as `plugyard serve` runs it; both parse HTTP "
            "with httptools, which plugyard installs and uvicorn then picks for either; the bare server runs on "
            "asyncio as `MCPServer.run` does, plugyard on uvloop). plugyard: `plugyard "
            "serve` with the no-op plugin and the history plugin (defaults: batch_size 500, flush_interval 0.2 s), "
            "the other first-party plugins disabled, recording into a SQLite file or a fresh PostgreSQL database "
            "(same machine, default settings). "
            + (
                "HTTP clients: `RawClient`s (bench/raw_client.py), each one keep-alive connection sending "
                "`tools/call` as bytes (h11) and parsing only the answer, as a load tool would; stdio keeps the "
                "SDK client. "
                if args.load_kind == "raw"
                else ""
            )
            + f"{args.rounds} rounds. The ratios are per round, against the bare "
            "server of the same round: the median and the spread over rounds; the pooled ratios are over all the "
            "rounds' calls. After every segment the benchmark waits, untimed, until the history rows are written "
            f"(median rows not yet written when a recorded segment's last call returned: {backlog or '–'}).",
            "",
            *table(results),
            "",
            *targets(results),
            "",
            f"History rows at the end (must equal the calls made, warm-up included): {rows}.",
            "",
        ]
    )


async def main_async(args: argparse.Namespace) -> list[TransportResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="plugyard-serve-") as name:
        tmp = Path(name)
        if "stdio" in args.only:
            results.append(await bench_stdio(tmp, args))
        if "http" in args.only:
            results.append(await bench_http(tmp, args))
        if args.probe or args.py_spy:
            from serve_probe import summary

            for name, path in PROBES:
                if name.startswith("py-spy"):
                    print(f"{name}: {path}", file=sys.stderr)
                    continue
                print("\n".join(summary(str(path), name)), file=sys.stderr)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--stdio-calls", type=int, default=1000, help="sequential calls per stdio round")
    parser.add_argument("--http-calls", type=int, default=60, help="calls per HTTP client per round")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--client-mode",
        choices=("legacy", "auto"),
        default="legacy",
        help="the clients' protocol: legacy, the 2025-11-25 handshake desktop clients speak (default); auto, the "
        "SDK Client's own default (2026-07-28 where the server speaks it)",
    )
    parser.add_argument("--only", nargs="+", choices=("stdio", "http"), default=("stdio", "http"))
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument(
        "--load",
        dest="load_kind",
        choices=("sdk", "raw"),
        default="sdk",
        help="HTTP clients: the SDK's Client (default), or raw requests as a load tool sends them",
    )
    parser.add_argument(
        "--stateful",
        action="store_true",
        help="HTTP with sessions (`plugyard serve --transport http`'s default) on both servers, not stateless",
    )
    parser.add_argument(
        "--everything", action="store_true", help="add plugyard with every plugin and tool search on (issue 18)"
    )
    parser.add_argument(
        "--upstream", action="store_true", help="add plugyard serving the bare server's tool as a mounted upstream"
    )
    parser.add_argument("--probe", action="store_true", help="run plugyard under bench/serve_probe.py (diagnostic)")
    parser.add_argument("--before", metavar="DIR", help="also run the plugyard package in DIR (a before/after pair)")
    parser.add_argument("--py-spy", metavar="DIR", help="sample plugyard servers with py-spy into DIR (diagnostic)")
    parser.add_argument("--write", action="store_true", help="rewrite the serve section of bench/RESULTS.md")
    args = parser.parse_args()
    if args.load_kind == "raw" and args.stateful and args.client_mode != "legacy":
        parser.error("--load raw --stateful opens 2025-11-25 sessions: use it with --client-mode legacy")
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    results = anyio.run(main_async, args)
    args.load = (load0, os.getloadavg()[0])
    text = report(results, args, time.perf_counter() - t0)
    print(text)
    if any(n != made for res in results for n, made in res.rows.values()):
        print("ERROR: history rows do not match the calls made; results not written", file=sys.stderr)
        return 1
    if args.write:
        write_results(text, BEGIN, END)
        print("wrote bench/RESULTS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
