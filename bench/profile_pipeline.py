#!/usr/bin/env python
"""Where plugyard's per-call time goes. A diagnostic beside ``bench_pipeline.py``, not a benchmark
of record: its what-if variants monkeypatch plugyard in memory (never on disk) to measure what a
change would save before anyone makes it.

    python bench/profile_pipeline.py layers          # us/call of each layer and step, in isolation
    python bench/profile_pipeline.py ablate          # in-memory end to end, one cost removed at a time
    python bench/profile_pipeline.py ablate-stdio    # the same over stdio (real `plugyard serve`)
    python bench/profile_pipeline.py cprofile        # cProfile diff: plugyard vs bare, in-memory
    python bench/profile_pipeline.py cprofile-stdio  # cProfile inside a `plugyard serve` subprocess

``layers`` takes the best of several repeats (the CPU cost of the code, no noise); ``ablate``
alternates the variants round by round like the benchmark does and reports the change in
us/call against the bare server of the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import gc
import inspect
import pstats
import resource
import sys
import tempfile
import time
import timeit
import types
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_pipeline as bp
import noop_plugin
import pydantic_core
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.recorder import Recorder, outcome_row
from plugyard.mcp_server.server import PlugyardServer

REPEATS = 7
FIRST_PARTY = ["notes", "diagnose", "calculator"]


# -- what-if patches (in memory only) -------------------------------------------------------


async def _write_nothing(self: Recorder, rows: list[dict[str, Any]]) -> None:
    """Recorder._write that drops the batch: what recording costs apart from the database."""


# -- helpers ----------------------------------------------------------------------------------


def best_us(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=REPEATS)) / number * 1e6


async def best_async_us(fn: Callable[[], Awaitable[Any]], number: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            await fn()
        best = min(best, time.perf_counter() - t0)
    return best / number * 1e6


def make_host(db_dir: Path, *, recording: bool) -> tuple[PluginHost, HistoryPlugin | None]:
    config = parse_config({"database": {"url": f"sqlite+aiosqlite:///{db_dir / 'history.db'}"}})
    history = HistoryPlugin() if recording else None
    plugins: dict[str, object] = {"noop": noop_plugin}
    if history is not None:
        plugins["history"] = history
    return PluginHost(config, entry_points=False, plugins=plugins), history


def bare_server() -> MCPServer:
    server = MCPServer("bare")
    server.add_tool(noop_plugin.noop)
    return server


# -- layers -----------------------------------------------------------------------------------


async def layers(n: int) -> None:
    rows: list[tuple[str, float]] = []
    bare = bare_server()
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        host_on, history = make_host(tmp, recording=True)
        host_off, _ = make_host(tmp, recording=False)
        async with host_on.running(), host_off.running():
            assert history is not None and history.recorder is not None
            live = history.recorder
            on, off = PlugyardServer(host_on), PlugyardServer(host_off)
            args = {"x": 1}

            async def timed(label: str, fn: Callable[[], Awaitable[Any]]) -> None:
                rows.append((label, await best_async_us(fn, n)))
                live._queue.clear()  # these loops never yield, so the writer never runs: drop the rows

            await timed("bare MCPServer.call_tool (no client)", lambda: bare.call_tool("noop", args))
            await timed("PlugyardServer.call_tool, recorded (no client)", lambda: on.call_tool("noop", args))
            await timed("PlugyardServer.call_tool, history off", lambda: off.call_tool("noop", args))
            await timed("ToolPipeline.call, recorded", lambda: host_on.pipeline.call("noop", args, user_id="u"))
            await timed("ToolPipeline.call, history off", lambda: host_off.pipeline.call("noop", args, user_id="u"))

            tool = host_on.tools.get("noop")
            assert tool is not None
            validated = tool.arg_model.model_validate(args)
            now = dt.datetime.now(dt.UTC)
            call = ToolCall(
                call_id="c", tool_name="noop", plugin_name="p", arguments=args, user_id="u", session_id="s",
                started_at=now,
            )  # fmt: skip
            outcome = ToolOutcome(call=call, success=True, duration_ms=0.1, result=1, result_size=1)
            scratch = Recorder(live.engine, journal=tmp / "unused.jsonl")
            after = host_on.pipeline._after

            def submit() -> None:
                scratch.submit(outcome)
                if scratch.depth >= 400:
                    scratch._queue.clear()

            def after_hooks() -> None:
                for _plugin, hook in after:
                    hook(call=call, outcome=outcome)
                live._queue.clear()

            output = on._outputs["noop"]
            assert output is not None
            converted = output.convert_result(1)
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("  PlugyardServer._user_id() [server.py -> Config.default_user -> getpass]", on._user_id),
                ("  str(uuid.uuid4()) [tools.py ToolPipeline.call: call_id]", lambda: str(uuid.uuid4())),
                ("  datetime.now(UTC) [ToolPipeline.call]", lambda: dt.datetime.now(dt.UTC)),
                ("  ToolCall(...) + ToolOutcome(...)", lambda: ToolOutcome(call=ToolCall(
                    call_id="c", tool_name="noop", plugin_name="p", arguments=args, user_id="u", session_id="s",
                    started_at=now), success=True, duration_ms=0.1, result=1, result_size=1)),
                ("  tool.arg_model.model_validate(args) [ToolPipeline._run]",
                 lambda: tool.arg_model.model_validate(args)),
                ("  kwargs from the validated model [ToolPipeline._run]",
                 lambda: {k: getattr(validated, k) for k in type(validated).model_fields}),
                ("  len(pydantic_core.to_json(result)) [ToolPipeline.call: result_size]",
                 lambda: len(pydantic_core.to_json(1))),
                ("  inspect.isawaitable(x) (per hook)", lambda: inspect.isawaitable(None)),
                ("  after_tool_call hooks (HistoryPlugin -> Recorder.submit)", after_hooks),
                ("  Recorder.submit(outcome) [outcome_row + deque append]", submit),
                ("  outcome_row(outcome)", lambda: outcome_row(outcome)),
                ("  FuncMetadata.convert_result(result) [both servers pay this]", lambda: output.convert_result(1)),
                ("  CallToolResult.model_copy(update={'meta': ...}) [server.py call_tool]",
                 lambda: converted.model_copy(update={"meta": {**(converted.meta or {}), "k": "v"}})),
            ]  # fmt: skip
            for label, fn in steps:
                rows.append((label, best_us(fn, n)))

            async def with_timeout() -> None:
                with anyio.fail_after(30):
                    await noop_plugin.noop(1)

            async def without_timeout() -> None:
                await noop_plugin.noop(1)

            rows.append(("  await noop(1)", await best_async_us(without_timeout, n)))
            label = "  with anyio.fail_after(30): await noop(1) [ToolPipeline._run]"
            rows.append((label, await best_async_us(with_timeout, n)))
            rows.append(("  ToolPipeline._before_hooks (none registered)", await best_async_us(
                lambda: host_on.pipeline._before_hooks(call), n)))  # fmt: skip
    width = max(len(label) for label, _ in rows)
    print(f"{'layer / step':<{width}}  us/call (best of {REPEATS} x {n:,})")
    for label, us in rows:
        print(f"{label:<{width}}  {us:8.2f}")


# -- ablate (in-memory) -----------------------------------------------------------------------


async def _rotate(clients: dict[str, Client], calls: int, rounds: int, recorders: list[Recorder]) -> dict[str, Any]:
    series = {k: bp.Series() for k in clients}
    cpu: dict[str, list[float]] = {k: [] for k in clients}
    switches: dict[str, list[int]] = {k: [] for k in clients}
    for client in clients.values():
        await bp._calls(client, 500, 0, None)
    names = list(clients)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            t0, u0 = time.thread_time(), resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
            await bp._calls(clients[name], calls, 0, series[name])
            cpu[name].append(time.thread_time() - t0)
            switches[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - u0)
            for rec in recorders:
                await bp._wait_until(lambda rec=rec: rec.depth == 0, "recorder")
            await anyio.sleep(0.05)
        print(f"  round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    return {"series": series, "cpu": cpu, "switches": switches}


def _ablation_table(series: dict[str, bp.Series], extra: dict[str, list[str]] | None = None) -> None:
    b = series["bare"]
    head = "| variant | calls/s | x bare | us/call | delta us/call | p50 ms | delta p50 ms |"
    cols = list(extra or {})
    print(head + "".join(f" {c} |" for c in cols))
    print("|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(cols))
    for name, s in series.items():
        us, bus = 1e6 / s.calls_per_s, 1e6 / b.calls_per_s
        i = list(series).index(name)
        cells = "".join(f" {extra[c][i]} |" for c in cols) if extra else ""
        print(
            f"| {name} | {s.calls_per_s:,.0f} | {s.calls_per_s / b.calls_per_s:.2f} | {us:.0f} | {us - bus:+.0f} | "
            f"{s.pct_ms(50):.3f} | {s.pct_ms(50) - b.pct_ms(50):+.3f} |{cells}"
        )


async def ablate(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        specs: list[tuple[str, bool]] = [
            ("recorded (as shipped)", True),
            ("recorded, Recorder._write drops the batch", True),
            ("recorded, the recorder's SQL in a worker thread (the design before)", True),
            ("history off", False),
        ]
        async with contextlib.AsyncExitStack() as stack:
            servers: dict[str, Any] = {"bare": bare_server()}
            recorders: list[Recorder] = []
            for i, (label, recording) in enumerate(specs):
                (tmp / str(i)).mkdir()
                host, history = make_host(tmp / str(i), recording=recording)
                await stack.enter_async_context(host.running())
                server = PlugyardServer(host)
                if history is not None and history.recorder is not None:
                    recorders.append(history.recorder)
                    if "drops" in label:
                        history.recorder._write = types.MethodType(_write_nothing, history.recorder)  # type: ignore[method-assign]
                    elif "worker thread" in label and history.recorder._writer.sqlite is not None:
                        writer = history.recorder._writer.sqlite

                        async def in_thread(call_ids: Any, statements: Any, writer: Any = writer) -> bool:
                            connection = writer._connect(on_loop=False)
                            return bool(await anyio.to_thread.run_sync(writer._run, connection, call_ids, statements))

                        writer.run = in_thread  # type: ignore[method-assign]
                servers[label] = server
            clients = {k: await stack.enter_async_context(Client(s)) for k, s in servers.items()}
            out = await _rotate(clients, calls, rounds, recorders)
    n = calls * rounds
    extra = {
        "loop-thread CPU us/call": [f"{sum(out['cpu'][k]) / n * 1e6:.0f}" for k in servers],
        "voluntary ctx switches/call": [f"{sum(out['switches'][k]) / n:.2f}" for k in servers],
    }
    print(f"in-memory, {rounds} rounds x {calls:,} calls, variants rotating:")
    _ablation_table(out["series"], extra)


# -- ablate over stdio ------------------------------------------------------------------------

STDIO_VARIANTS = {
    "recorded (as shipped)": ("as-shipped", FIRST_PARTY),
    "recorded, Recorder._write drops the batch": ("write-nothing", FIRST_PARTY),
    "history off": ("as-shipped", [*FIRST_PARTY, "history"]),
}


def serve_variant(variant: str, argv: list[str]) -> None:
    """Entry point of the stdio what-if servers: patch, then run the real CLI."""
    if variant == "bare-plugyard-stdio":
        # The bare server over plugyard's own stdio transport (stdin read on the event loop).
        from bare_server import build

        from plugyard.mcp_server.stdio import run_stdio

        anyio.run(run_stdio, build())
        return
    if variant == "write-nothing":
        Recorder._write = _write_nothing  # type: ignore[method-assign]
    from plugyard.cli import main as cli_main

    sys.argv = ["plugyard", *argv]
    cli_main()


async def ablate_stdio(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        me = str(Path(__file__).resolve())
        targets: dict[str, StdioServerParameters] = {
            "bare": StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], cwd=tmp),
            "bare, served by plugyard's stdio transport": StdioServerParameters(
                command=sys.executable, args=[me, "_serve", "bare-plugyard-stdio"], cwd=tmp
            ),
        }
        for i, (label, (variant, disabled)) in enumerate(STDIO_VARIANTS.items()):
            toml = bp._plugins_toml(tmp / f"{i}.toml", tmp / f"{i}.db", disabled)
            targets[label] = StdioServerParameters(
                command=sys.executable,
                args=[me, "_serve", variant, "--config", str(toml), "serve"],
                cwd=tmp,
            )
        async with contextlib.AsyncExitStack() as stack:
            clients = {k: await stack.enter_async_context(Client(t)) for k, t in targets.items()}
            series = {k: bp.Series() for k in clients}
            for client in clients.values():
                await bp._calls(client, 500, 0, None)
            names = list(clients)
            for r in range(rounds):
                k = r % len(names)
                for label in names[k:] + names[:k]:
                    gc.collect()
                    await bp._calls(clients[label], calls, 0, series[label])
                    await anyio.sleep(0.3)  # > flush_interval: the last batch lands untimed
                print(f"  round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    print(f"stdio, {rounds} rounds x {calls:,} calls, variants rotating:")
    _ablation_table(series)


# -- cProfile ---------------------------------------------------------------------------------


def _short(file: str) -> str:
    for marker in ("site-packages/", "/plugyard/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file.split("/lib/", 1)[-1]


def _per_call(stats: pstats.Stats, n: int) -> dict[tuple[str, int, str], tuple[float, float, float]]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return {
        (_short(f), line, fn): (nc / n, tt / n * 1e6, ct / n * 1e6)
        for (f, line, fn), (_cc, nc, tt, ct, _callers) in raw.items()
    }


async def cprofile_inmemory(n: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        host, _ = make_host(Path(name), recording=True)
        profiles: dict[str, pstats.Stats] = {}
        async with host.running():
            for label, server in (("bare", bare_server()), ("plugyard", PlugyardServer(host))):
                async with Client(server) as client:
                    await bp._calls(client, 500, 0, None)
                    prof = cProfile.Profile()
                    prof.enable()
                    await bp._calls(client, n, 0, None)
                    prof.disable()
                profiles[label] = pstats.Stats(prof)
    b, p = _per_call(profiles["bare"], n), _per_call(profiles["plugyard"], n)
    print(
        f"main thread under cProfile: bare {profiles['bare'].total_tt / n * 1e6:.0f} us/call, "  # type: ignore[attr-defined]
        f"plugyard {profiles['plugyard'].total_tt / n * 1e6:.0f} us/call ({n:,} calls each; profiler inflates)"  # type: ignore[attr-defined]
    )
    print(f"{'delta tottime us/call':>21} {'delta cumtime':>13} {'calls/call bare':>15} {'plugyard':>8}  function")
    rows = []
    for key in set(b) | set(p):
        nb, tb, cb = b.get(key, (0, 0, 0))
        np_, tp, cp = p.get(key, (0, 0, 0))
        rows.append((tp - tb, cp - cb, nb, np_, key))
    for dt_, dc, nb, np_, (f, line, fn) in sorted(rows, reverse=True)[:top]:
        print(f"{dt_:21.2f} {dc:13.2f} {nb:15.2f} {np_:8.2f}  {f}:{line}({fn})")


async def cprofile_stdio(n: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        out = tmp / "serve.prof"
        toml = bp._plugins_toml(tmp / "plugins.toml", tmp / "p.db", FIRST_PARTY)
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "cProfile", "-o", str(out), "-m", "plugyard", "--config", str(toml), "serve"],
            cwd=tmp,
        )
        async with Client(params) as client:
            await bp._calls(client, n, 0, None)
        await bp._wait_until(out.exists, "the profile")
        stats = pstats.Stats(str(out))
    print(f"`plugyard serve` main thread, {n:,} calls (startup included; blocking waits show as epoll.poll):")
    print(f"{'tottime us/call':>15} {'cumtime us/call':>15}  function")
    for (f, line, fn), (_nc, tt, ct) in sorted(_per_call(stats, n).items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"{tt:15.2f} {ct:15.2f}  {f}:{line}({fn})")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_serve":
        serve_variant(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("layers", "ablate", "ablate-stdio", "cprofile", "cprofile-stdio"))
    parser.add_argument("-n", type=int, default=None, help="calls (per round for the ablations)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--top", type=int, default=40)
    a = parser.parse_args()
    if a.what == "layers":
        anyio.run(layers, a.n or 5000)
    elif a.what == "ablate":
        anyio.run(ablate, a.n or 2000, a.rounds)
    elif a.what == "ablate-stdio":
        anyio.run(ablate_stdio, a.n or 1500, a.rounds)
    elif a.what == "cprofile":
        anyio.run(cprofile_inmemory, a.n or 10000, a.top)
    else:
        anyio.run(cprofile_stdio, a.n or 10000, a.top)


if __name__ == "__main__":
    main()
