#!/usr/bin/env python
"""What does mounting a server as an upstream cost? A proxied call against the same server called directly.

One upstream, ``bench/bare_server.py`` (an ``MCPServer`` with the no-op tool), over stdio. Three clients
in one run, the SDK's ``Client`` over stdio all:

- direct: the client starts ``bare_server.py`` itself;
- proxied: the client starts ``plugyard serve`` whose plugins.toml mounts ``bare_server.py`` as the
  upstream ``bare`` (``prefix = ""``, so the tool is ``noop`` on both), the history plugin recording every
  call into a SQLite file (the product as shipped), the notes/diagnose/calculator plugins disabled;
- own: the client starts ``plugyard serve`` serving the same no-op function as its own plugin tool
  (``bench/noop_plugin.py``), recorded the same way: what plugyard's server path costs without an upstream;
- floor: the client starts ``bench/byte_relay.py``, which starts ``bare_server.py`` and copies bytes both
  ways without parsing any: what one more process on the path costs before any proxy work.

Sequential calls, warm-up first, then rounds taking turns (the order flips every round). Reported: p50/p95
per call, calls/s, the added p50 and the calls/s ratio, with each round's figure as the spread, and (on
Linux, from /proc) the CPU time each process spends per call, which says where the added time goes.
Then, in this process, the plugin's own half: the SDK ``Client`` calling ``bare_server.py`` through the
SDK's stdio transport and through the plugin's (``plugyard/plugins/upstream/pipes.py``), CPU per call.

    python bench/bench_upstream.py [--calls N] [--rounds R] [--write]

``--write`` replaces the upstream section of ``bench/RESULTS.md``. Never run this as a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_pipeline import machine, write_results
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from plugyard.plugins.upstream.pipes import stdio_pipes

BEGIN = "<!-- bench_upstream:begin -->"
END = "<!-- bench_upstream:end -->"
TOOL = "noop"
TARGET_ADDED_P50_MS = 0.3
SPOKEN = {"legacy": "the 2025-11-25 handshake", "auto": "2026-07-28 where the server does"}
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Series:
    latencies: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    """ms of CPU per call, per process (``client`` is this one), one figure per round."""

    def pct_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] / 1e6

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    def cpu_ms(self, process: str) -> float:
        return statistics.median(self.cpu[process]) if self.cpu.get(process) else float("nan")


def _descendants(pid: int) -> list[int]:
    """Processes started under ``pid`` (Linux /proc), parents first."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in map(int, f.read().split()):
                    found += [child, *_descendants(child)]
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def _calls(client: Client, n: int, series: Series | None, processes: dict[str, int] | None = None) -> None:
    perf = time.perf_counter_ns
    lat = []
    before = {name: _cpu_seconds(pid) for name, pid in (processes or {}).items()}
    own = time.process_time()
    t0 = perf()
    for i in range(n):
        c0 = perf()
        result = await client.call_tool(TOOL, {"x": i})
        lat.append(perf() - c0)
        if result.is_error or result.structured_content != {"result": i}:
            raise RuntimeError(f"unexpected result for x={i}: {result!r}")
    elapsed = (perf() - t0) / 1e9
    if series is not None:
        series.latencies.extend(lat)
        series.rates.append(n / elapsed)
        series.p50s.append(statistics.median(lat) / 1e6)
        series.cpu.setdefault("client", []).append((time.process_time() - own) / n * 1e3)
        for name, pid in (processes or {}).items():
            series.cpu.setdefault(name, []).append((_cpu_seconds(pid) - before[name]) / n * 1e3)


def _plugins_toml(tmp: Path, name: str, own: bool, mode: str) -> Path:
    database = f"sqlite+aiosqlite:///{tmp / f'{name}-history.db'}"
    lines = ["[database]", f"url = {json.dumps(database)}", "", "[plugins]"]
    if own:
        lines += [
            f"modules = [{json.dumps(str(BENCH / 'noop_plugin.py'))}]",
            'disabled = ["notes", "diagnose", "calculator"]',
        ]
    else:
        # plugyard speaks to its upstream what the direct client speaks to it.
        upstream = {
            "command": sys.executable,
            "args": [str(BENCH / "bare_server.py")],
            "prefix": "",
            "protocol": mode,
        }
        lines += [
            'disabled = ["notes", "diagnose", "calculator"]',
            "",
            "[plugins.upstream.servers.bare]",
            *(f"{k} = {json.dumps(v)}" for k, v in upstream.items()),
        ]
    path = tmp / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


PROCESSES = {
    "direct": ["upstream"],
    "proxied": ["plugyard", "upstream"],
    "own": ["plugyard"],
    "floor": ["relay", "upstream"],
}
"""The processes each target starts, in the order they start (a parent before its child)."""


async def run(calls: int, rounds: int, warmup: int, mode: str) -> dict[str, Series]:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)

        def serve(name: str, own: bool) -> StdioServerParameters:
            config = _plugins_toml(tmp, name, own, mode)
            args = ["-m", "plugyard", "--config", str(config), "serve"]
            return StdioServerParameters(
                command=sys.executable, args=args, cwd=tmp, env={"PLUGYARD_DATA_DIR": str(tmp)}
            )

        targets = {
            "direct": StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], cwd=tmp),
            "proxied": serve("proxied", own=False),
            "own": serve("own", own=True),
            "floor": StdioServerParameters(
                command=sys.executable,
                args=[str(BENCH / "byte_relay.py"), sys.executable, str(BENCH / "bare_server.py")],
                cwd=tmp,
            ),
        }
        series = {name: Series() for name in targets}
        async with contextlib.AsyncExitStack() as stack:
            clients, processes = {}, {}
            for name, target in targets.items():
                known = set(_descendants(os.getpid()))
                clients[name] = await stack.enter_async_context(Client(target, mode=mode))
                await _calls(clients[name], warmup, None)
                started = [pid for pid in _descendants(os.getpid()) if pid not in known]
                processes[name] = dict(zip(PROCESSES[name], started, strict=False))
            names = list(clients)
            for r in range(rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    gc.collect()
                    await _calls(clients[name], calls, series[name], processes[name])
                print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        return series


async def transports(calls: int, rounds: int, warmup: int) -> dict[str, Series]:
    """In this process: the plugin's SDK client calling the upstream through either stdio transport."""
    params = StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")])
    ways: dict[str, Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = {
        "sdk stdio": lambda: stdio_client(params),
        "pipes": lambda: stdio_pipes(params, sys.stderr, "bare"),
    }
    series = {name: Series() for name in ways}

    @contextlib.asynccontextmanager
    async def connected(name: str) -> AsyncIterator[tuple[Client, dict[str, int]]]:
        known = set(_descendants(os.getpid()))
        async with Client(ways[name]()) as client:
            started = [pid for pid in _descendants(os.getpid()) if pid not in known]
            yield client, dict(zip(["upstream"], started, strict=False))

    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(connected(name)) for name in ways}
        for client, _ in clients.values():
            await _calls(client, warmup, None)
        for r in range(rounds):
            for name in list(ways) if r % 2 == 0 else list(ways)[::-1]:
                gc.collect()
                client, processes = clients[name]
                await _calls(client, calls, series[name], processes)
    return series


def _spread(values: list[float], fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def report(series: dict[str, Series], ways: dict[str, Series], args: argparse.Namespace, wall: float) -> str:
    direct, proxied, own, floor = series["direct"], series["proxied"], series["own"], series["floor"]
    added = proxied.pct_ms(50) - direct.pct_ms(50)
    floor_added = floor.pct_ms(50) - direct.pct_ms(50)
    floor_rounds = [f - d for f, d in zip(floor.p50s, direct.p50s, strict=True)]
    ratios = [p / d for p, d in zip(proxied.rates, direct.rates, strict=True)]
    added_rounds = [p - d for p, d in zip(proxied.p50s, direct.p50s, strict=True)]
    own_rounds = [o - d for o, d in zip(own.p50s, direct.p50s, strict=True)]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    def cpu(s: Series, process: str) -> str:
        return f"{s.cpu_ms(process):.3f} ({_spread(s.cpu[process])})" if s.cpu.get(process) else "—"

    def middle(s: Series) -> str:
        return cpu(s, "plugyard") if s.cpu.get("plugyard") else cpu(s, "relay")

    def p50(s: Series) -> str:
        return f"{s.pct_ms(50):.3f} ({min(s.p50s):.3f})"

    rows = [
        f"| {label} | {s.rate:,.0f} | {s.pct_ms(50):.3f} | {s.pct_ms(95):.3f} | {cpu(s, 'client')} | "
        f"{middle(s)} | {cpu(s, 'upstream')} |"
        for label, s in (
            ("direct: the SDK client → the upstream", direct),
            ("proxied: → plugyard → the upstream", proxied),
            ("floor: → a byte relay (`byte_relay.py`) → the upstream", floor),
            ("own: → plugyard serving the same tool itself", own),
        )
    ]
    sdk, pipes = ways["sdk stdio"], ways["pipes"]
    way_rows = [
        f"| {label} | {p50(s)} | {cpu(s, 'client')} | {cpu(s, 'upstream')} |"
        for label, s in (("the SDK's `stdio_client`", sdk), ("the plugin's `pipes.py`", pipes))
    ]
    plugyard_proxied = proxied.cpu_ms("plugyard")
    plugyard_own = own.cpu_ms("plugyard")
    met = "yes" if added <= TARGET_ADDED_P50_MS else "**no**"
    return "\n".join(
        [
            "## Upstream: a call through plugyard against the same server called directly",
            "",
            f"Run {now}, `python bench/bench_upstream.py --calls {args.calls} --rounds {args.rounds} "
            f"--mode {args.mode}` "
            f"({wall:.0f} s wall).",
            "",
            *machine(),
            f"- 1-minute load average {args.load[0]:.2f} at the start, {args.load[1]:.2f} at the end "
            "(other processes share the machine)",
            "",
            "The upstream is `bench/bare_server.py` (an `MCPServer` with the no-op tool) over stdio. Direct: the SDK's "
            "`Client` starts it itself. Proxied: the same `Client` starts `plugyard serve`, whose plugins.toml mounts "
            'it as upstream `bare` (`prefix = ""`), the history plugin recording every call into SQLite. Own: '
            "`plugyard serve` with the same no-op function as its own plugin tool, recorded the same way. Floor: "
            "`bench/byte_relay.py` between the client and the upstream, copying bytes both ways and parsing none "
            "(its CPU in the plugyard column). "
            f"The clients (and plugyard to its upstream) speak {SPOKEN[args.mode]}. "
            f"{args.warmup} warm-up calls each, then {args.rounds} rounds × {args.calls:,} sequential calls per "
            "client, taking turns. calls/s: median of the rounds. CPU: ms per call of each process (/proc), median "
            "of the rounds (range of the rounds).",
            "",
            "| path | calls/s | p50 ms | p95 ms | CPU client | CPU plugyard (relay) | CPU upstream |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"- added p50: **{added:+.3f} ms** (per round: {min(added_rounds):+.3f} to {max(added_rounds):+.3f} ms); "
            f"target ≤ {TARGET_ADDED_P50_MS} ms: {met}",
            f"- calls/s proxied/direct: **{statistics.median(ratios):.2f}×** (per round {_spread(ratios, '{:.2f}')}×)",
            f"- the floor, a process that only copies bytes: **{floor_added:+.3f} ms** p50 added (per round "
            f"{min(floor_rounds):+.3f} to {max(floor_rounds):+.3f} ms); plugyard adds {added - floor_added:+.3f} ms "
            "above it (parsing, validating, recording and the pipeline).",
            f"- plugyard serving a tool of its own adds {statistics.median(own_rounds):+.3f} ms p50 over the bare "
            f"server (per round {min(own_rounds):+.3f} to {max(own_rounds):+.3f} ms).",
            f"- where the added time goes: plugyard's process spends {plugyard_proxied:.3f} ms CPU per proxied call; "
            f"{plugyard_own:.3f} ms of that is what it spends on a call to a tool of its own (the MCP server: stdin "
            "read and parsed, dispatched by the SDK's server, plugyard's pipeline and recording, the answer "
            f"serialized and written), and {plugyard_proxied - plugyard_own:.3f} ms the upstream plugin's half (the "
            "request written and its answer read on the raw lane of pipes.py, the answer turned into the SDK "
            "server's result) inflated by contention: with three processes on the path the same work costs more "
            "CPU, the client's "
            f"{proxied.cpu_ms('client') / direct.cpu_ms('client'):.2f}× and the upstream's "
            f"{proxied.cpu_ms('upstream') / direct.cpu_ms('upstream'):.2f}× what they spend on a direct call. "
            "The rest, "
            f"{added - plugyard_proxied:+.3f} ms, is not CPU time of plugyard's: the extra process on the path, two "
            "more pipe wake-ups per call, each a wait for a CPU on a 2-CPU machine that other processes share "
            "(it grows with the load).",
            f"- the target: a call to a tool of plugyard's own already costs its process {plugyard_own:.3f} ms CPU, "
            f"against the {TARGET_ADDED_P50_MS} ms allowed for the whole proxied hop; and a process that does "
            f"nothing but copy the bytes adds {floor_added:+.3f} ms on this machine.",
            "",
            f"The plugin's half alone, in one process: the SDK `Client` calling the same upstream, {len(sdk.p50s)} "
            f"rounds × {args.calls:,} calls through each transport, taking turns (p50: of all "
            "calls, in brackets the lowest round's, as other processes only ever add to it; CPU: median (range) of "
            "the rounds):",
            "",
            "| transport | p50 ms | CPU client | CPU upstream |",
            "|---|---:|---:|---:|",
            *way_rows,
            "",
            "- pipes.py against the SDK's `stdio_client`: client CPU per call "
            f"{pipes.cpu_ms('client') / sdk.cpu_ms('client'):.2f}×, "
            f"p50 {pipes.pct_ms(50) / sdk.pct_ms(50):.2f}× (lowest rounds {min(pipes.p50s) / min(sdk.p50s):.2f}×).",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument(
        "--mode",
        choices=["legacy", "auto"],
        default="legacy",
        help="the clients' protocol: legacy (the 2025-11-25 handshake, what desktop clients speak) or auto "
        "(2026-07-28 where the server speaks it)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    load0 = os.getloadavg()[0]
    series = anyio.run(run, args.calls, args.rounds, args.warmup, args.mode)
    ways = anyio.run(
        transports, args.calls, max(2, args.rounds // 2), args.warmup, backend_options={"use_uvloop": True}
    )
    args.load = (load0, os.getloadavg()[0])
    text = report(series, ways, args, time.perf_counter() - start)
    print(text)
    if args.write:
        write_results(text, BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
