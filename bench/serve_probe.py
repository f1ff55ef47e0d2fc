"""``plugyard`` with probes, for ``bench_serve.py --probe``: where a served call's tail comes from.

Run as ``python bench/serve_probe.py OUT.json [plugyard arguments...]``. It installs, in memory only:

- event-loop lag: a task that sleeps 1 ms in a loop and records how late it wakes (what every request
  waiting for the loop waits too);
- garbage collection: ``gc.callbacks``, each collection's generation and duration;
- the SQLite writer: each chunk's transaction on the loop thread (``SQLiteWriter._run``) and each batch's
  whole ``BatchWriter.write`` / ``_write_async`` (PostgreSQL), start and duration;
- the tools/call handler: ``PlugyardServer._handle_call_tool``'s wall time per call;

then runs the plugyard command line and, when it exits, writes every sample to OUT.json. Each lag spike
(over 2 ms) is attributed to what overlapped it: a GC pause, a writer chunk or batch, or nothing recorded.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import anyio

perf = time.perf_counter
samples: dict[str, list[tuple[float, float]]] = {"lag": [], "gc0": [], "gc1": [], "gc2": [], "chunk": [],
                                                 "batch": [], "pg_batch": [], "handler": []}  # fmt: skip
_gc_start: list[float] = [0.0]


def _gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_start[0] = perf()
    else:
        samples[f"gc{info['generation']}"].append((_gc_start[0], perf() - _gc_start[0]))


def _timed_sync(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = perf()
        try:
            return fn(*args, **kwargs)
        finally:
            samples[key].append((t0, perf() - t0))

    return wrapper


def _timed_async(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = perf()
        try:
            return await fn(*args, **kwargs)
        finally:
            samples[key].append((t0, perf() - t0))

    return wrapper


async def _lag_sampler() -> None:
    while True:
        t0 = perf()
        await anyio.sleep(0.001)
        samples["lag"].append((t0, perf() - t0 - 0.001))


def install() -> None:
    from plugyard.history import inline, writer
    from plugyard.mcp_server import run, server

    gc.callbacks.append(_gc)
    inline.SQLiteWriter._run = staticmethod(_timed_sync("chunk", inline.SQLiteWriter._run))  # type: ignore[method-assign]
    writer.BatchWriter.write = _timed_async("batch", writer.BatchWriter.write)  # type: ignore[method-assign]
    writer.BatchWriter._write_async = _timed_async("pg_batch", writer.BatchWriter._write_async)  # type: ignore[method-assign]
    server.PlugyardServer._handle_call_tool = _timed_async("handler", server.PlugyardServer._handle_call_tool)  # type: ignore[method-assign]
    original = run.serve

    async def serve(*args: Any, **kwargs: Any) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_lag_sampler)
            await original(*args, **kwargs)
            tg.cancel_scope.cancel()

    run.serve = serve  # type: ignore[assignment]


def dump(path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(samples, fh)


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] if ordered else 0.0


def summary(path: str, name: str, spike: float = 0.002) -> list[str]:
    """What the samples of one server say, in ms; lag spikes attributed to what overlapped them."""
    data = json.load(open(path, encoding="utf-8"))
    lines = [f"probe {name}:"]
    for key, values in data.items():
        durations = [d for _t, d in values]
        if durations:
            lines.append(
                f"  {key:9} n={len(durations):6} total={sum(durations) * 1e3:9.1f} ms"
                f"  p50={_q(durations, 50) * 1e3:7.3f}"
                f"  p99={_q(durations, 99) * 1e3:7.3f}  max={max(durations) * 1e3:7.2f}"
                f"  >2ms={sum(d > 0.002 for d in durations)}"
            )
    spikes = [(t, d) for t, d in data["lag"] if d > spike]
    causes: dict[str, int] = {}
    for t, d in spikes:
        start, end = t, t + d + 0.001
        hit = [k for k in ("gc2", "gc1", "gc0", "chunk", "pg_batch", "batch")
               for s0, sd in data[k] if s0 < end and s0 + sd > start]  # fmt: skip
        key = hit[0] if hit else "nothing probed"
        causes[key] = causes.get(key, 0) + 1
    lines.append(f"  lag spikes > {spike * 1e3:.0f} ms: {len(spikes)}, overlapping: {causes}")
    return lines


if __name__ == "__main__":
    out = sys.argv[1]
    sys.argv = ["plugyard", *sys.argv[2:]]
    install()
    atexit.register(dump, out)
    from plugyard.cli import main

    main()
