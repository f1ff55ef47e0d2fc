#!/usr/bin/env python
"""Where plugyard's per-call time goes (a diagnostic, not the benchmark of record).

    python bench/profile_pipeline.py layers      # µs/call of each layer and step, in-process
    python bench/profile_pipeline.py memory      # bare vs plugyard recording on vs off, in-memory
    python bench/profile_pipeline.py stdio       # the same over stdio
    python bench/profile_pipeline.py cprofile    # cProfile of the in-memory client->server path
    python bench/profile_pipeline.py cprofile-stdio   # cProfile inside a `plugyard serve` subprocess

``layers`` times each piece of the call path on its own (best of several repeats, so it is
the CPU cost of the code, not noise); ``stdio`` splits the stdio gap into what the recorder costs
and what the rest of the pipeline costs (same for ``memory``).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import gc
import inspect
import json
import pstats
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_pipeline  # noqa: E402
import noop_plugin  # noqa: E402
import pydantic_core  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

from plugyard.core.calls import ToolCall, ToolOutcome  # noqa: E402
from plugyard.core.config import parse_config  # noqa: E402
from plugyard.core.history.plugin import HistoryPlugin  # noqa: E402
from plugyard.core.history.recorder import Recorder, outcome_row  # noqa: E402
from plugyard.core.host import PluginHost  # noqa: E402
from plugyard.mcp_server.server import PlugyardServer  # noqa: E402

REPEATS = 7


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


def host_for(tmp: Path, *, recording: bool) -> tuple[PluginHost, HistoryPlugin | None]:
    config = parse_config({"database": {"url": f"sqlite+aiosqlite:///{tmp / 'layers.db'}"}})
    history = HistoryPlugin() if recording else None
    plugins: dict[str, object] = {"noop": noop_plugin}
    if history is not None:
        plugins["history"] = history
    return PluginHost(config, entry_points=False, plugins=plugins), history


async def layers(n: int) -> None:
    rows: list[tuple[str, float]] = []
    bare = MCPServer("bare")
    bare.add_tool(noop_plugin.noop)
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        host_on, history = host_for(tmp, recording=True)
        host_off, _ = host_for(tmp / "off", recording=False)
        async with host_on.running(), host_off.running():
            srv_on, srv_off = PlugyardServer(host_on), PlugyardServer(host_off)
            args = {"x": 1}
            rows.append(("bare MCPServer.call_tool (direct, no client)", await best_async_us(lambda: bare.call_tool("noop", args), n)))
            rows.append(("PlugyardServer.call_tool, recording on", await best_async_us(lambda: srv_on.call_tool("noop", args), n)))
            rows.append(("PlugyardServer.call_tool, recording off", await best_async_us(lambda: srv_off.call_tool("noop", args), n)))
            rows.append(("host.pipeline.call, recording on", await best_async_us(lambda: host_on.pipeline.call("noop", args, user_id="u"), n)))
            rows.append(("host.pipeline.call, recording off", await best_async_us(lambda: host_off.pipeline.call("noop", args, user_id="u"), n)))

            # -- the steps of ToolPipeline.call / _run / PlugyardServer.call_tool, one by one --
            tool = host_on.tools.get("noop")
            assert tool is not None
            validated = tool.arg_model.model_validate(args)
            now = dt.datetime.now(dt.UTC)
            call = ToolCall(call_id="c", tool_name="noop", plugin_name="p", arguments=args, user_id="u",
                            session_id="s", started_at=now)
            outcome = ToolOutcome(call=call, success=True, duration_ms=0.1, result=1, result_size=1)
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("  str(uuid.uuid4())  [tools.py ToolPipeline.call: call_id]", lambda: str(uuid.uuid4())),
                ("  datetime.now(UTC)  [ToolPipeline.call: started_at]", lambda: dt.datetime.now(dt.UTC)),
                ("  ToolCall(...)", lambda: ToolCall(call_id="c", tool_name="noop", plugin_name="p", arguments=args,
                                                     user_id="u", session_id="s", started_at=now)),
                ("  tool.arg_model.model_validate(args)  [_run]", lambda: tool.arg_model.model_validate(args)),
                ("  {n: getattr(v, n) for n in type(v).model_fields}  [_run]",
                 lambda: {k: getattr(validated, k) for k in type(validated).model_fields}),
                ("  pydantic_core.to_json(result)  [call: result_size]", lambda: len(pydantic_core.to_json(1))),
                ("  ToolOutcome(...)", lambda: ToolOutcome(call=call, success=True, duration_ms=0.1, result=1, result_size=1)),
                ("  outcome_row(outcome)  [recorder.py Recorder.submit]", lambda: outcome_row(outcome)),
                ("  host.config.default_user  [server.py _user_id -> config.py]", lambda: host_on.config.default_user),
                ("  PlugyardServer._user_id()", srv_on._user_id),
                ("  inspect.isawaitable(None)", lambda: inspect.isawaitable(None)),
            ]
            scratch = Recorder(history.recorder.engine, journal=tmp / "unused.jsonl") if history and history.recorder else None
            if scratch is not None:
                def submit_one() -> None:
                    scratch.submit(outcome)
                    if scratch.depth >= 400:
                        scratch._queue.clear()
                steps.append(("  Recorder.submit(outcome)  [queue append]", submit_one))
                after = host_on.pipeline._after
                def after_hooks() -> None:
                    for _plugin, hook in after:
                        hook(call=call, outcome=outcome)
                    history.recorder._queue.clear()  # type: ignore[union-attr]  # nothing gets written
            for label, fn in steps:
                rows.append((label, best_us(fn, n)))
            out = srv_on._outputs["noop"]
            assert out is not None
            converted = out.convert_result(1)
            rows.append(("  FuncMetadata.convert_result(result)  [both servers pay it]", best_us(lambda: out.convert_result(1), n)))
            rows.append(("  CallToolResult.model_copy(update={'meta': ...})  [server.py call_tool]",
                         best_us(lambda: converted.model_copy(update={"meta": {**(converted.meta or {}), "k": "v"}}), n)))

            async def fail_after() -> None:
                with anyio.fail_after(30):
                    await noop_plugin.noop(1)

            async def bare_await() -> None:
                await noop_plugin.noop(1)

            rows.append(("  await noop(1)", await best_async_us(bare_await, n)))
            rows.append(("  with anyio.fail_after(30): await noop(1)  [_run]", await best_async_us(fail_after, n)))
            rows.append(("  ToolPipeline._before_hooks(call) (no before hooks)", await best_async_us(lambda: host_on.pipeline._before_hooks(call), n)))
            if scratch is not None:
                rows.append(("  after_tool_call hooks (HistoryPlugin -> submit)", best_us(after_hooks, n)))
        if history is not None and history.recorder is not None:
            print(f"(recorder wrote {history.recorder.written} rows during the layer timings)", file=sys.stderr)
    width = max(len(label) for label, _ in rows)
    print(f"{'layer / step':<{width}}  µs/call (best of {REPEATS} × {n:,})")
    for label, us in rows:
        print(f"{label:<{width}}  {us:8.2f}")


async def compare(transport: str, calls: int, rounds: int) -> None:
    """bare vs plugyard with recording on vs off (history plugin disabled), alternating."""
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)

        def toml(tag: str, disabled: list[str]) -> Path:
            path = tmp / f"{tag}.toml"
            path.write_text(
                f"[database]\nurl = {json.dumps(f'sqlite+aiosqlite:///{tmp / tag}.db')}\n\n[plugins]\n"
                f"modules = [{json.dumps(str(BENCH / 'noop_plugin.py'))}]\ndisabled = {json.dumps(disabled)}\n",
                encoding="utf-8",
            )
            return path

        base = ["notes", "diagnose", "calculator"]
        async with contextlib.AsyncExitStack() as stack:
            if transport == "stdio":
                targets: dict[str, Any] = {
                    "bare": StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], cwd=tmp),
                    "plugyard rec on": StdioServerParameters(
                        command=sys.executable,
                        args=["-m", "plugyard.cli", "--config", str(toml("on", base)), "serve"], cwd=tmp),
                    "plugyard rec off": StdioServerParameters(
                        command=sys.executable,
                        args=["-m", "plugyard.cli", "--config", str(toml("off", [*base, "history"])), "serve"], cwd=tmp),
                }
            else:
                bare = MCPServer("bare")
                bare.add_tool(noop_plugin.noop)
                on, _ = host_for(tmp, recording=True)
                off, _ = host_for(tmp / "off", recording=False)
                await stack.enter_async_context(on.running())
                await stack.enter_async_context(off.running())
                targets = {"bare": bare, "plugyard rec on": PlugyardServer(on), "plugyard rec off": PlugyardServer(off)}
            clients = {k: await stack.enter_async_context(Client(t)) for k, t in targets.items()}
            series = {k: bench_pipeline.Series() for k in clients}
            for cl in clients.values():
                await bench_pipeline._calls(cl, 500, 0, None)
            names = list(clients)
            for r in range(rounds):
                order = names[r % 3 :] + names[: r % 3]
                for k in order:
                    gc.collect()
                    await bench_pipeline._calls(clients[k], calls, 0, series[k])
                    await anyio.sleep(0.3)  # let the recorder's last batch land untimed
        b = series["bare"]
        print(f"{transport}:\n| server | calls/s | ×bare | µs/call | Δ µs/call | p50 ms | Δp50 ms | p95 ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for k, s in series.items():
            print(f"| {k} | {s.calls_per_s:,.0f} | {s.calls_per_s / b.calls_per_s:.2f} | {1e6 / s.calls_per_s:.0f} | "
                  f"{1e6 / s.calls_per_s - 1e6 / b.calls_per_s:+.0f} | {s.pct_ms(50):.3f} | "
                  f"{s.pct_ms(50) - b.pct_ms(50):+.3f} | {s.pct_ms(95):.3f} |")


async def cprofile_inmemory(n: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        bare = MCPServer("bare")
        bare.add_tool(noop_plugin.noop)
        host, _ = host_for(tmp, recording=True)
        async with host.running():
            for label, server in (("bare", bare), ("plugyard", PlugyardServer(host))):
                async with Client(server) as client:
                    await bench_pipeline._calls(client, 500, 0, None)
                    prof = cProfile.Profile()
                    prof.enable()
                    await bench_pipeline._calls(client, n, 0, None)
                    prof.disable()
                show(prof, label, n, top)


def show(prof: cProfile.Profile | pstats.Stats, label: str, n: int, top: int) -> None:
    st = prof if isinstance(prof, pstats.Stats) else pstats.Stats(prof)
    print(f"\n=== {label}: {st.total_tt / n * 1e6:.1f} µs/call under cProfile ({n:,} calls) ===")
    print(f"{'tottime µs/call':>15} {'cumtime µs/call':>15}  function")
    entries = sorted(st.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    for (file, line, func), (_cc, _nc, tt, ct, _callers) in entries:
        short = file.split("site-packages/")[-1].split("/plugyard/", 1)[-1] if "plugyard/" in file or "site-packages" in file else file
        print(f"{tt / n * 1e6:15.2f} {ct / n * 1e6:15.2f}  {short}:{line}({func})")


async def cprofile_stdio(n: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="plugyard-prof-") as name:
        tmp = Path(name)
        out = tmp / "serve.prof"
        (tmp / "plugins.toml").write_text(
            f"[database]\nurl = {json.dumps(f'sqlite+aiosqlite:///{tmp}/p.db')}\n\n[plugins]\n"
            f"modules = [{json.dumps(str(BENCH / 'noop_plugin.py'))}]\n"
            'disabled = ["notes", "diagnose", "calculator"]\n',
            encoding="utf-8",
        )
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "cProfile", "-o", str(out), "-m", "plugyard.cli", "--config", str(tmp / "plugins.toml"), "serve"],
            cwd=tmp,
        )
        async with Client(params) as client:
            await bench_pipeline._calls(client, n, 0, None)
        for _ in range(100):
            if out.exists():
                break
            await anyio.sleep(0.1)
        show(pstats.Stats(str(out)), "plugyard serve subprocess (whole process, incl. startup)", n, top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("layers", "memory", "stdio", "cprofile", "cprofile-stdio"))
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--top", type=int, default=40)
    a = p.parse_args()
    if a.what == "layers":
        anyio.run(layers, a.n)
    elif a.what in ("memory", "stdio"):
        anyio.run(compare, a.what, a.n, a.rounds)
    elif a.what == "cprofile":
        anyio.run(cprofile_inmemory, a.n, a.top)
    else:
        anyio.run(cprofile_stdio, a.n, a.top)


if __name__ == "__main__":
    main()
